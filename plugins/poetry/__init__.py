"""Poetry: the ``poetry`` template, the ``english`` token space (both from a pronouncing
dictionary, ``rhyme_dictionary``) and the ``rhyme`` task."""

from cookbook import hookimpl
from cookbook_plugins.poetry import english, rhyme_task, template


@hookimpl
def register_templates(register):
    register(template.poetry)


@hookimpl
def register_token_spaces(register):
    register(english.english)


@hookimpl
def register_tasks(register):
    register(rhyme_task.rhyme)

"""Fill in the blank: the ``fill_in_the_blank`` template, its ``context_copy`` scorer and the
``cloze`` task."""

from cookbook import hookimpl
from cookbook_plugins.fill_in_the_blank import cloze_task, template


@hookimpl
def register_templates(register):
    register(template.fill_in_the_blank)


@hookimpl
def register_scorers(register):
    register(template.context_copy)


@hookimpl
def register_tasks(register):
    register(cloze_task.cloze)

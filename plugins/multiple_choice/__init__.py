"""Multiple choice: the ``multiple_choice`` template and the ``multiple_choice`` task."""

from cookbook import hookimpl
from cookbook_plugins.multiple_choice import multiple_choice_task, template


@hookimpl
def register_templates(register):
    register(template.multiple_choice)


@hookimpl
def register_tasks(register):
    register(multiple_choice_task.multiple_choice_task)

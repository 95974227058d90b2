"""Multiple choice: the ``multiple_choice`` template, the ``multiple_choice`` task and one task
per dataset of the GPT4ALL suite, each scored in lm-evaluation-harness's convention."""

from cookbook import hookimpl
from cookbook_plugins.multiple_choice import multiple_choice_task, template


@hookimpl
def register_templates(register):
    register(template.multiple_choice)


@hookimpl
def register_tasks(register):
    register(multiple_choice_task.multiple_choice_task)
    for task in multiple_choice_task.dataset_tasks:
        register(task)

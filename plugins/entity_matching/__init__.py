"""Entity matching: the ``entity_matching`` template and the ``deepmatcher`` task."""

from cookbook import hookimpl
from cookbook_plugins.entity_matching import deepmatcher_task, template


@hookimpl
def register_templates(register):
    register(template.entity_matching)


@hookimpl
def register_tasks(register):
    register(deepmatcher_task.deepmatcher)

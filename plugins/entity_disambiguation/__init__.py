"""Entity disambiguation: the ``entity_disambiguation`` template and the ``elevant`` task."""

from cookbook import hookimpl
from cookbook_plugins.entity_disambiguation import elevant_task, template


@hookimpl
def register_templates(register):
    register(template.entity_disambiguation)


@hookimpl
def register_tasks(register):
    register(elevant_task.elevant)

"""Question answering: the ``document_qa`` and ``typed_qa`` templates and the ``squad`` task."""

from cookbook import hookimpl
from cookbook_plugins.qa import document_qa, squad_task, typed_qa


@hookimpl
def register_templates(register):
    register(document_qa.document_qa)
    register(typed_qa.typed_qa)


@hookimpl
def register_tasks(register):
    register(squad_task.squad)

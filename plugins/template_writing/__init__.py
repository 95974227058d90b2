"""Automatic templates: the ``transformers`` and ``openai`` writers, ``cookbook new`` (a plugin
package skeleton), ``cookbook write-template`` (a model writes a template, the check accepts or
refuses it, retries with the problems) and ``cookbook check-template``."""

import importlib.util

from cookbook import hookimpl
from cookbook_plugins.template_writing import writers


@hookimpl
def register_writers(register):
    register(writers.TransformersWriter())
    register(writers.OpenAIWriter())


@hookimpl
def register_commands(cli):
    from cookbook_plugins.template_writing import scaffold, write

    scaffold.register(cli)
    write.register(cli)
    if importlib.util.find_spec("cookbook_plugins.template_writing.check_command") is not None:
        from cookbook_plugins.template_writing import check_command

        check_command.register(cli)

"""lm-evaluation-harness from Cookbook: the ``lm_eval`` step (harness tasks beside Cookbook's
in a run card), ``cookbook export-task`` (a Cookbook task as harness task YAML over local
files) and ``cookbook lm-eval``. lm-eval loads only when a harness task runs."""

from cookbook import hookimpl
from cookbook_plugins.lm_eval_harness import commands, steps


@hookimpl
def register_steps(register):
    register(steps.lm_eval)


@hookimpl
def register_commands(cli):
    commands.register(cli)

"""Instruction backtranslation (Humpback, Li et al. 2024) as step kinds: seed pairs forward and
reversed, unlabelled segments, self-augmentation with a backward model, self-curation with a
rating prompt, and joining datasets for the next round; and the ``instructions`` task, which
scores answers to held-out instructions by ROUGE-L. Written through ``cookbook`` and
``cookbook.engine`` only, as a third party would."""

from cookbook import hookimpl
from cookbook_plugins.backtranslation import instruction_data, instructions_task, judging, steps


@hookimpl
def register_steps(register):
    for kind in [*steps.STEP_KINDS, judging.judge]:
        register(kind)


@hookimpl
def register_tasks(register):
    register(instructions_task.instructions_task)


@hookimpl
def register_templates(register):
    register(instruction_data.instruction_data)

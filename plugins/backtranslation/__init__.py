"""Instruction backtranslation (Humpback, Li et al. 2024) as step kinds: seed pairs forward and
reversed, unlabelled segments, self-augmentation with a backward model, self-curation with a
rating prompt, and joining datasets for the next round. Written through ``cookbook`` and
``cookbook.engine`` only, as a third party would."""

from cookbook import hookimpl
from cookbook_plugins.backtranslation import steps


@hookimpl
def register_steps(register):
    for kind in steps.STEP_KINDS:
        register(kind)

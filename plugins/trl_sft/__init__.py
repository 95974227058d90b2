"""The ``trl`` trainer: a pipeline's ``train`` section run through trl's ``SFTTrainer`` with
peft's LoRA, for users who trust that tool. trl loads when training starts."""

from cookbook import hookimpl
from cookbook_plugins.trl_sft import trainer


@hookimpl
def register_trainers(register):
    register(trainer.trl_trainer)

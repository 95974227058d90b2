"""The ``lora`` trainer. Only ``trainer`` loads with the plugin; the training loop (``loop``,
``checkpoints``, ``sft_data``, ``packed_attention``) and torch load when training starts."""

from cookbook import hookimpl
from cookbook_plugins.lora import trainer


@hookimpl
def register_trainers(register):
    register(trainer.lora)

"""The ``lora`` trainer: peft LoRA on any causal LM, GPU-first and CPU-capable.

This module only declares the trainer and its parameters, so ``cookbook list-plugins`` stays
fast; the loop (``lora_loop``) and torch are imported when training starts.
"""

from __future__ import annotations

import copy
import os
import sys
from typing import Any

from cookbook import CookbookError, hookimpl
from cookbook.contract.params import resolve_params


def _prop(kind: Any, default: Any, description: str, **extra: Any) -> dict[str, Any]:
    prop = {"default": default, "description": description, **extra}
    if kind is not None:
        prop["type"] = kind
    return prop


PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "lora_r": _prop("integer", 16, "LoRA rank.", minimum=1),
        "lora_alpha": _prop("number", 32, "LoRA scaling numerator (scale = alpha / r).",
                            exclusiveMinimum=0),
        "lora_dropout": _prop("number", 0.0, "Dropout on the LoRA input.", minimum=0,
                              exclusiveMaximum=1),
        "lora_target_modules": {
            "default": "all-linear",
            "description": "Modules to adapt: 'all-linear' or a list of module names.",
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
        },
        "learning_rate": _prop("number", 2e-4, "Peak learning rate.", exclusiveMinimum=0),
        "lr_scheduler": _prop(None, "linear", "Decay after warmup.",
                              enum=["linear", "cosine", "constant"]),
        "warmup_steps": _prop("integer", 0, "Linear warmup steps.", minimum=0),
        "warmup_ratio": _prop("number", 0.0, "Warmup as a share of all steps (the larger "
                              "of this and warmup_steps wins).", minimum=0, maximum=1),
        "weight_decay": _prop("number", 0.0, "AdamW weight decay.", minimum=0),
        "max_grad_norm": _prop("number", 1.0, "Gradient clipping norm (0: off).", minimum=0),
        "batch_size": _prop("integer", 8, "Samples per micro-batch (per GPU).", minimum=1),
        "gradient_accumulation_steps": _prop("integer", 1, "Micro-batches per optimizer step.",
                                             minimum=1),
        "max_steps": _prop(["integer", "null"], None, "Optimizer steps; overrides epochs.",
                           minimum=1),
        "epochs": _prop("number", 1, "Passes over the data (when max_steps is not set).",
                        exclusiveMinimum=0),
        "seed": _prop("integer", 0, "Seed of the data order, LoRA init and dropout.", minimum=0),
        "max_length": _prop("integer", 2048, "Longest sample in tokens; longer ones are cut.",
                            minimum=2),
        "train_on_prompt": _prop("boolean", False, "Also train on prompt tokens (default: the "
                                 "loss covers the completion only)."),
        "chat_template": _prop(None, "auto", "Wrap samples in the tokenizer's chat template "
                               "(auto: when it has one).", enum=["auto", True, False]),
        "checkpoint_every": _prop("integer", 500, "Checkpoint every N steps (0: never).",
                                  minimum=0),
        "keep_checkpoints": _prop("integer", 2, "Checkpoints kept on disk.", minimum=1),
        "resume": _prop("boolean", False, "Continue from the output folder's last checkpoint."),
        "merge": _prop("boolean", False, "Also save the base model with the adapter merged "
                       "in, under merged/."),
        "gradient_checkpointing": _prop("boolean", False, "Recompute activations in backward "
                                        "to save memory."),
        "device": _prop("string", "auto", "auto (CUDA when available), cpu, cuda, cuda:N."),
        "dtype": _prop(None, "auto", "auto: bfloat16 on CUDA when supported, else float32.",
                       enum=["auto", "bfloat16", "float32"]),
        "attn_implementation": _prop(
            None, "auto", "auto: flash-attn varlen on CUDA when installed, else packed_sdpa "
            "(SDPA per sample); sdpa/eager use a block-diagonal mask.",
            enum=["auto", "packed_sdpa", "sdpa", "eager", "flash_attention_2",
                  "flash_attention_3"],
        ),
        "num_threads": _prop(["integer", "null"], None, "CPU threads (default: all cores).",
                             minimum=1),
        "progress": _prop("boolean", True, "Show a progress bar."),
    },
}  # fmt: skip
DEFAULTS = {key: prop["default"] for key, prop in PARAMS_SCHEMA["properties"].items()}


class LoraTrainer:
    """Fine-tunes a causal LM with a LoRA adapter on a JSONL of Cookbook samples."""

    name = "lora"
    description = (
        "peft LoRA on any Hugging Face causal LM; packed batches without cross-sample "
        "attention, prompt masked, checkpoints and resume; bf16 + fused AdamW on GPU, "
        "all cores on CPU, DDP under torchrun."
    )
    params_schema = PARAMS_SCHEMA

    def resolve(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with ``overrides`` and validated; errors name the key."""
        return resolve_params("trainer 'lora'", PARAMS_SCHEMA, copy.deepcopy(DEFAULTS), overrides)

    def train(self, data: str, model: str, output_dir: str, **params: Any) -> dict[str, Any]:
        """Train on ``data`` from ``model`` into ``output_dir``; returns the run's metrics."""
        resolved = self.resolve(params)
        if "torch" not in sys.modules:
            # Idle CPU threads sleep instead of spinning, which stalls every op on a busy machine.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from cookbook_plugins.lora_loop import train_lora
        except ImportError as exc:
            raise CookbookError(
                f"the lora trainer needs torch, transformers and peft ({exc.name} is missing): "
                "pip install 'cookbook-llm[train]'"
            ) from exc
        return train_lora(str(data), model, str(output_dir), resolved)


lora = LoraTrainer()


@hookimpl
def register_trainers(register):
    register(lora)

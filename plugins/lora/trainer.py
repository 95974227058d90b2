"""The ``lora`` trainer: peft LoRA on any causal LM, GPU-first and CPU-capable.

This module only declares the trainer and its parameters, so ``cookbook list-plugins`` stays
fast; the loop (``loop``) and torch are imported when training starts.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any, Literal

from cookbook import CookbookError, Param, Params


class LoraTrainer:
    """Fine-tunes a causal LM with a LoRA adapter on a JSONL of Cookbook samples."""

    name = "lora"
    description = (
        "peft LoRA on any Hugging Face causal LM; packed batches without cross-sample "
        "attention, prompt masked, checkpoints and resume; bf16 + fused AdamW on GPU, "
        "all cores on CPU, DDP under torchrun."
    )

    def train(
        self,
        data: str,
        model: str,
        output_dir: str,
        *,
        lora_r: Annotated[int, Param("LoRA rank.", minimum=1)] = 16,
        lora_alpha: Annotated[
            float, Param("LoRA scaling numerator (scale = alpha / r).", exclusiveMinimum=0)
        ] = 32,
        lora_dropout: Annotated[
            float, Param("Dropout on the LoRA input.", minimum=0, exclusiveMaximum=1)
        ] = 0.0,
        lora_target_modules: Annotated[
            str | list[str],
            Param(
                "Modules to adapt: 'all-linear' or a list of module names.",
                oneOf=[
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ],
            ),
        ] = "all-linear",
        learning_rate: Annotated[float, Param("Peak learning rate.", exclusiveMinimum=0)] = 2e-4,
        lr_scheduler: Annotated[
            Literal["linear", "cosine", "constant"], Param("Decay after warmup.")
        ] = "linear",
        warmup_steps: Annotated[int, Param("Linear warmup steps.", minimum=0)] = 0,
        warmup_ratio: Annotated[
            float,
            Param(
                "Warmup as a share of all steps (the larger of this and warmup_steps wins).",
                minimum=0,
                maximum=1,
            ),
        ] = 0.0,
        weight_decay: Annotated[float, Param("AdamW weight decay.", minimum=0)] = 0.0,
        max_grad_norm: Annotated[float, Param("Gradient clipping norm (0: off).", minimum=0)] = 1.0,
        batch_size: Annotated[int, Param("Samples per micro-batch (per GPU).", minimum=1)] = 8,
        gradient_accumulation_steps: Annotated[
            int, Param("Micro-batches per optimizer step.", minimum=1)
        ] = 1,
        max_steps: Annotated[
            int | None, Param("Optimizer steps; overrides epochs.", minimum=1)
        ] = None,
        epochs: Annotated[
            float, Param("Passes over the data (when max_steps is not set).", exclusiveMinimum=0)
        ] = 1,
        seed: Annotated[
            int, Param("Seed of the data order, LoRA init and dropout.", minimum=0)
        ] = 0,
        max_length: Annotated[
            int, Param("Longest sample in tokens; longer ones are cut.", minimum=2)
        ] = 2048,
        train_on_prompt: Annotated[
            bool,
            Param("Also train on prompt tokens (default: the loss covers the completion only)."),
        ] = False,
        chat_template: Annotated[
            Literal["auto", True, False],
            Param("Wrap samples in the tokenizer's chat template (auto: when it has one)."),
        ] = "auto",
        checkpoint_every: Annotated[
            int, Param("Checkpoint every N steps (0: never).", minimum=0)
        ] = 500,
        keep_checkpoints: Annotated[int, Param("Checkpoints kept on disk.", minimum=1)] = 2,
        resume: Annotated[
            Literal[True, False, "auto"],
            Param(
                "Continue from the output folder's last checkpoint (true: one must be there; "
                "auto: when there is one, else start)."
            ),
        ] = False,
        merge: Annotated[
            bool, Param("Also save the base model with the adapter merged in, under merged/.")
        ] = False,
        gradient_checkpointing: Annotated[
            bool, Param("Recompute activations in backward to save memory.")
        ] = False,
        device: Annotated[
            str,
            Param(
                "auto (CUDA when available), cpu, cuda, cuda:N, mps.",
                pattern="^(auto|cpu|mps|cuda(:[0-9]+)?)$",
            ),
        ] = "auto",
        dtype: Annotated[
            Literal["auto", "bfloat16", "float32"],
            Param("auto: bfloat16 on CUDA when supported, else float32."),
        ] = "auto",
        attn_implementation: Annotated[
            Literal[
                "auto", "packed_sdpa", "sdpa", "eager", "flash_attention_2", "flash_attention_3"
            ],
            Param(
                "auto: flash-attn varlen on CUDA when installed, else packed_sdpa (SDPA per "
                "sample); sdpa/eager use a block-diagonal mask."
            ),
        ] = "auto",
        num_threads: Annotated[
            # torch crashes (a segmentation fault) on a count of a million threads
            int | None, Param("CPU threads (default: all cores).", minimum=1, maximum=1024)
        ] = None,
        progress: Annotated[bool, Param("Show a progress bar.", cache=False)] = True,
    ) -> dict[str, Any]:
        """Train on ``data`` from ``model`` into ``output_dir``; returns the run's metrics.

        The parameters arrive validated (``cookbook.engine.train_model`` resolves them)."""
        params = {name: value for name, value in locals().items() if name in self.params}
        from cookbook.engine import device_problem

        problem = device_problem(device)  # before any work: no data read, no model loaded
        if problem is not None:
            raise CookbookError(f"lora trainer: {problem}")
        if "torch" not in sys.modules:
            # Idle CPU threads sleep instead of spinning, which stalls every op on a busy machine.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from cookbook_plugins.lora.loop import train_lora
        except ImportError as exc:
            raise CookbookError(
                f"the lora trainer needs torch, transformers and peft ({exc.name} is missing): "
                "pip install 'cookbook-llm[train]'"
            ) from exc
        return train_lora(str(data), model, str(output_dir), params)

    params = Params.of(train)


lora = LoraTrainer()

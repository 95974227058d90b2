"""trl's ``SFTTrainer`` with a peft LoRA adapter, completion-only loss, as a Cookbook trainer:
it reads the same data (Cookbook samples, prompt/completion, messages, Alpaca rows), writes
the adapter and ``ModelInfo`` into the output folder, and returns the loss of every step."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from cookbook import CookbookError, ModelInfo, Param, Params

NEEDS = "the trl trainer needs trl and datasets: pip install 'cookbook-llm[trl]'"


class TrlTrainer:
    """Supervised fine-tuning with trl's SFTTrainer and a LoRA adapter."""

    name = "trl"
    description = "trl's SFTTrainer with peft LoRA (completion-only loss); needs [trl]."

    def train(
        self,
        data: str,
        model: str,
        output_dir: str,
        *,
        lora_r: Annotated[int, Param("LoRA rank.", minimum=1)] = 16,
        lora_alpha: Annotated[float, Param("LoRA scaling numerator.", exclusiveMinimum=0)] = 32,
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
        warmup_ratio: Annotated[
            float, Param("Warmup as a share of all steps.", minimum=0, maximum=1)
        ] = 0.0,
        weight_decay: Annotated[float, Param("AdamW weight decay.", minimum=0)] = 0.0,
        batch_size: Annotated[int, Param("Samples per micro-batch (per GPU).", minimum=1)] = 8,
        gradient_accumulation_steps: Annotated[
            int, Param("Micro-batches per optimizer step.", minimum=1)
        ] = 1,
        max_steps: Annotated[
            int | None, Param("Optimizer steps; overrides epochs.", minimum=1)
        ] = None,
        epochs: Annotated[float, Param("Passes over the data.", exclusiveMinimum=0)] = 1,
        seed: Annotated[int, Param("Seed of the data order and LoRA init.", minimum=0)] = 0,
        max_length: Annotated[int, Param("Longest sample in tokens.", minimum=2)] = 2048,
        chat_template: Annotated[
            Literal["auto", True, False],
            Param("Conversational rows, in the tokenizer's chat template (auto: when it has one)."),
        ] = "auto",
        padding_free: Annotated[
            Literal["auto", True, False],
            Param(
                "Padding-free batches, trl's fastest (auto: on CPU, and on CUDA with flash-attn;"
                " rows are then not cut at max_length, as trl requires)."
            ),
        ] = "auto",
        progress: Annotated[bool, Param("Show trl's progress bar.", cache=False)] = True,
    ) -> dict[str, Any]:
        """Train on ``data`` from ``model`` into ``output_dir``; returns the run's metrics."""
        try:
            import datasets
            import trl
        except ImportError:
            raise CookbookError(NEEDS) from None
        from peft import LoraConfig

        from cookbook.engine import load_model, load_tokenizer, pick_device, training_pairs

        device = pick_device("auto")
        tokenizer = load_tokenizer(model)
        chat = bool(tokenizer.chat_template) if chat_template == "auto" else bool(chat_template)
        rows = [_row(prompt, completion, chat) for prompt, completion, _ in training_pairs(data)]
        if not rows:
            raise CookbookError(f"{data}: no samples to train on")
        free = _padding_free(padding_free, device)
        config = trl.SFTConfig(
            output_dir=output_dir,
            max_steps=max_steps or -1,
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            gradient_accumulation_steps=gradient_accumulation_steps,
            learning_rate=learning_rate,
            lr_scheduler_type=lr_scheduler,
            warmup_steps=float(warmup_ratio) if warmup_ratio else 0,
            weight_decay=weight_decay,
            max_length=None if free else max_length,  # trl: padding-free rows are not cut
            seed=seed,
            completion_only_loss=True,
            padding_free=free,
            use_cpu=device == "cpu",
            save_strategy="no",
            report_to="none",
            logging_steps=1,
            disable_tqdm=not progress,
            dataloader_num_workers=0,
        )
        lora = LoraConfig(
            r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target_modules=lora_target_modules,
            task_type="CAUSAL_LM",
        )
        flash = free and device.startswith("cuda")
        extra = {"attn_implementation": "flash_attention_2"} if flash else {}
        sft = trl.SFTTrainer(
            model=load_model(model, device=device, **extra),
            args=config,
            train_dataset=datasets.Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=lora,
        )
        _quiet_logs(sft, progress)
        counter = TokenCounter(sft.data_collator)
        sft.data_collator = counter
        started = time.perf_counter()
        result = sft.train()
        elapsed = time.perf_counter() - started
        sft.save_model(output_dir)
        losses = [float(e["loss"]) for e in sft.state.log_history if "loss" in e]
        metrics = {
            "loss": losses,
            "step": int(sft.state.global_step),
            "mean_loss": float(result.training_loss),
            "samples": len(rows),
            "tokens": counter.tokens,
            "elapsed_seconds": elapsed,
            "tokens_per_second": counter.tokens / elapsed if elapsed > 0 else 0.0,
            "device": device,
            "trainer": "trl",
            "trl": trl.__version__,
            "padding_free": free,
        }
        out = Path(output_dir)
        (out / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        ModelInfo(base=model, chat_template=chat, trainer="trl", adapter=True).save(out)
        return metrics

    params = Params.of(train)


class TokenCounter:
    """trl's collator, counting the real tokens of its batches (padding left out; a
    padding-free batch has none)."""

    def __init__(self, collator: Any) -> None:
        self.collator, self.tokens = collator, 0

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator(examples)
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        return batch


def _quiet_logs(sft: Any, progress: bool) -> None:
    """Keep trl's progress bar but not its per-step log dicts on stdout (the losses go into
    train_metrics.json): stdout is where ``cookbook run`` prints its results."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class QuietProgress(ProgressCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any):
            return None

    sft.remove_callback(PrinterCallback)
    sft.remove_callback(ProgressCallback)
    if progress:
        sft.add_callback(QuietProgress)


def _row(prompt: str, completion: str, chat: bool) -> dict[str, Any]:
    """A prompt-completion row as trl reads it: conversational when in the chat template."""
    if chat:
        return {
            "prompt": [{"role": "user", "content": prompt}],
            "completion": [{"role": "assistant", "content": completion.strip()}],
        }
    return {"prompt": prompt, "completion": completion}


def _padding_free(asked: bool | str, device: str) -> bool:
    """Whether batches are padding-free: on CPU transformers masks each packed row by its
    position ids (sdpa); on CUDA, trl's fast path needs flash-attn."""
    if asked != "auto":
        return bool(asked)
    if device == "cpu":
        return True
    if not device.startswith("cuda"):
        return False
    from importlib.util import find_spec

    return find_spec("flash_attn") is not None


trl_trainer = TrlTrainer()

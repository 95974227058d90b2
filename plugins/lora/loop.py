"""The LoRA training loop on plain PyTorch + peft: packed batches, fused AdamW, resumable.

Imported only when training starts (it imports torch); ``trainer`` is the light plugin.
Runs on one CPU or GPU, or on several GPUs under ``torchrun`` / ``accelerate launch`` (DDP).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cookbook import CookbookError, ModelInfo
from cookbook.engine import (
    load_model,
    load_tokenizer,
    pick_device,
    pick_dtype,
    uses_chat_template,
)
from cookbook_plugins.lora import packed_attention
from cookbook_plugins.lora.checkpoints import (
    ADAPTER_FILE,
    CHECKPOINTS,
    latest_checkpoint,
    read_state,
    restore_checkpoint,
    write_checkpoint,
)
from cookbook_plugins.lora.sft_data import (
    BatchPlan,
    PackedBatch,
    file_digest,
    read_pairs,
    tokenize_pairs,
)

METRICS_FILE = "train_metrics.json"
CONFIG_FILE = "train_config.json"
# Keys that change neither the data order nor the arithmetic: a resumed run may change them.
RESUMABLE_CHANGES = {
    "resume",
    "checkpoint_every",
    "keep_checkpoints",
    "merge",
    "num_threads",
    "progress",
    "device",
    "attn_implementation",
}


@dataclass
class Distributed:
    """Rank and world size from the variables torchrun and accelerate set."""

    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        return cls(
            world=int(os.environ.get("WORLD_SIZE", "1")),
            rank=int(os.environ.get("RANK", "0")),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        )

    @property
    def active(self) -> bool:
        return self.world > 1

    def start(self, device: str) -> str:
        """Join the process group; the device of this rank (one GPU per rank)."""
        if not self.active:
            return device
        if device.startswith("cuda"):
            torch.cuda.set_device(self.local_rank)
            device = f"cuda:{self.local_rank}"
        if not torch.distributed.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            torch.distributed.init_process_group(backend=backend)
        return device

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        if self.active:
            value = value.clone()
            torch.distributed.all_reduce(value)
        return value


def lr_factor(step: int, warmup: int, total: int, kind: str) -> float:
    """The learning-rate multiplier at optimizer step ``step`` (linear warmup, then decay)."""
    if step < warmup:
        return step / max(1, warmup)
    if kind == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return max(0.0, 1.0 - progress)


def train_lora(data: str, model_name: str, output_dir: str, params: dict[str, Any]) -> dict:
    """Train a LoRA adapter on the samples in ``data``; see the ``lora`` trainer's parameters."""
    dist = Distributed.from_env()
    out = Path(output_dir)
    resume_from = _prepare_output(out, params["resume"])
    tokenizer = load_tokenizer(model_name)
    chat = uses_chat_template(tokenizer, params["chat_template"])
    samples = tokenize_pairs(
        read_pairs(data), tokenizer, chat, params["max_length"], params["train_on_prompt"]
    )
    plan = BatchPlan(
        samples,
        params["batch_size"],
        params["gradient_accumulation_steps"],
        params["seed"],
        dist.world,
        dist.rank,
    )
    total_steps = params["max_steps"] or plan.steps_for_epochs(params["epochs"])
    fingerprint = {
        "data_sha256": file_digest(data),
        "model": model_name,
        "world_size": dist.world,
        "params": {k: v for k, v in params.items() if k not in RESUMABLE_CHANGES},
    }
    fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back from a checkpoint

    device = dist.start(pick_device(params["device"]))
    dtype = pick_dtype(device, params["dtype"])
    _use_all_cores(device, params["num_threads"])
    attention = _attention(params["attn_implementation"], device)
    model = _lora_model(model_name, device, dtype, attention, params)
    optimizer = _optimizer(model, params, device)
    warmup = max(params["warmup_steps"], math.ceil(params["warmup_ratio"] * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        partial(lr_factor, warmup=warmup, total=total_steps, kind=params["lr_scheduler"]),
    )
    start_step = 0
    if resume_from is not None:
        start_step = _resume(resume_from, fingerprint, model, optimizer, scheduler, dist.rank)

    runner = _StepRunner(model, device, attention, dist)
    checkpoint = partial(
        write_checkpoint,
        out,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        state={"fingerprint": fingerprint},
        rank=dist.rank,
        barrier=dist.barrier,
        keep=params["keep_checkpoints"],
    )
    show = dist.rank == 0 and params["progress"]
    with _progress(total_steps, start_step, show) as report:
        losses, tokens, elapsed = _train_steps(
            runner, plan, optimizer, scheduler, start_step, total_steps, params, checkpoint, report
        )

    metrics = {
        "trainer": "lora",
        "model": model_name,
        "start_step": start_step,
        "step": total_steps,
        "max_steps": total_steps,
        "loss": losses,
        "final_loss": losses[-1] if losses else None,
        "tokens": tokens,
        "tokens_per_second": tokens / elapsed if elapsed > 0 and tokens else 0.0,
        "elapsed_seconds": elapsed,
        "samples": len(samples),
        "truncated_samples": samples.truncated,
        "skipped_samples": samples.skipped,
        "epochs": total_steps * plan.samples_per_step / len(samples),
        "chat_template": chat,
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
        "attn_implementation": attention,
        "world_size": dist.world,
        "output_dir": str(out),
        "merged_dir": str(out / "merged") if params["merge"] else None,
    }
    if dist.rank == 0:
        config = {"data": str(data), "model": model_name, "params": params, "chat_template": chat}
        info = ModelInfo(base=model_name, chat_template=chat, trainer="lora")
        _save_outputs(out, model, tokenizer, params["merge"], config, info)
        _write_json(out / METRICS_FILE, metrics)
    dist.barrier()
    return metrics


def _train_steps(
    runner: _StepRunner,
    plan: BatchPlan,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    start_step: int,
    total_steps: int,
    params: dict[str, Any],
    checkpoint: Callable[..., Any],
    report: Callable[[int, float, float], None],
) -> tuple[list[float], int, float]:
    """Optimizer steps ``start_step + 1`` to ``total_steps``; their losses, tokens and time."""
    losses: list[float] = []
    tokens = 0
    every = params["checkpoint_every"]
    started = time.perf_counter()
    steps = plan.steps(start_step)
    for step in range(start_step + 1, total_steps + 1):
        batches, step_targets, step_tokens = next(steps)
        losses.append(runner.step(batches, step_targets))
        if params["max_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(runner.trainable, params["max_grad_norm"])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += step_tokens
        report(step, losses[-1], tokens / (time.perf_counter() - started))
        if every and step % every == 0 and step < total_steps:
            checkpoint(step)
    return losses, tokens, time.perf_counter() - started


class _StepRunner:
    """Forward and backward over one optimizer step's packed micro-batches."""

    def __init__(self, model: Any, device: str, attention: str, dist: Distributed) -> None:
        self.model, self.device, self.attention, self.dist = model, device, attention, dist
        self.trainable = [p for p in model.parameters() if p.requires_grad]
        base = model.get_base_model()
        self.keeps_logits = "logits_to_keep" in inspect.signature(base.forward).parameters
        self.wrapped = model
        if dist.active:
            ids = [torch.device(device).index] if device.startswith("cuda") else None
            self.wrapped = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def step(self, batches: list[PackedBatch], step_targets: int) -> float:
        """Accumulate gradients of the mean target-token loss; return that loss."""
        total = torch.zeros((), device=self.device)
        scale = self.dist.world / step_targets  # DDP averages gradients over ranks
        for index, batch in enumerate(batches):
            last = index == len(batches) - 1
            sync = self.wrapped.no_sync() if self.dist.active and not last else nullcontext()
            with sync:
                loss_sum = self._loss_sum(batch)
                (loss_sum * scale).backward()
            total += loss_sum.detach()
        return float(self.dist.sum(total)) / step_targets

    def _loss_sum(self, batch: PackedBatch) -> torch.Tensor:
        device = self.device
        input_ids = torch.from_numpy(batch.input_ids).to(device, non_blocking=True)[None]
        position_ids = torch.from_numpy(batch.position_ids).to(device, non_blocking=True)[None]
        keep = torch.from_numpy(batch.target_positions).to(device, non_blocking=True)
        targets = torch.from_numpy(batch.targets).to(device, non_blocking=True)
        kwargs: dict[str, Any] = {"input_ids": input_ids, "position_ids": position_ids}
        kwargs.update(self._attention_kwargs(batch))
        if self.keeps_logits:
            logits = self.wrapped(**kwargs, use_cache=False, logits_to_keep=keep).logits[0]
        else:
            logits = self.wrapped(**kwargs, use_cache=False).logits[0, keep]
        return F.cross_entropy(logits.float(), targets, reduction="sum")

    def _attention_kwargs(self, batch: PackedBatch) -> dict[str, Any]:
        if self.attention == packed_attention.NAME:
            return {"packed_bounds": batch.bounds}
        if self.attention.startswith("flash_attention"):
            bounds = torch.tensor(batch.bounds, dtype=torch.int32, device=self.device)
            longest = max(b - a for a, b in zip(batch.bounds, batch.bounds[1:], strict=False))
            return {
                "cu_seq_lens_q": bounds,
                "cu_seq_lens_k": bounds,
                "max_length_q": longest,
                "max_length_k": longest,
            }
        return {}  # sdpa and eager build a block-diagonal mask from the restarting positions


def _prepare_output(out: Path, resume: bool | str) -> Path | None:
    """The checkpoint to resume from, or None to start at step 0.

    ``resume`` true needs a checkpoint; ``"auto"`` takes the last one when there is one and
    otherwise starts (over a finished run too); false refuses to train over an earlier run."""
    checkpoint = latest_checkpoint(out)
    finished = (out / ADAPTER_FILE).exists()
    if resume == "auto":
        return checkpoint
    if resume:
        if checkpoint is not None:
            return checkpoint
        if finished:
            raise CookbookError(
                f"{out}: nothing to resume from: it holds a finished training run"
                f"{_finished_at(out)} and no checkpoint; choose a new output folder, or remove"
                " that run and pass resume: false to train again from step 0"
            )
        raise CookbookError(f"{out}: nothing to resume from: no checkpoint in that folder")
    if checkpoint is not None:
        raise CookbookError(
            f"{out} already holds a training run; pass resume: true (-p resume=true) to continue"
            " it, or choose another output folder"
        )
    if finished or (out / CHECKPOINTS).is_dir():
        raise CookbookError(
            f"{out} already holds a training run{_finished_at(out)}; choose another output"
            " folder, or remove that run to train again"
        )
    return None


def _finished_at(out: Path) -> str:
    """`` (step N)`` for a finished run whose metrics name its last step, else ''."""
    try:
        step = json.loads((out / METRICS_FILE).read_text()).get("step")
    except (OSError, ValueError, AttributeError):
        return ""
    return f" (step {step})" if isinstance(step, int) else ""


def _resume(
    path: Path, fingerprint: dict, model: Any, optimizer: Any, scheduler: Any, rank: int
) -> int:
    state = read_state(path)
    saved = state.get("fingerprint", {})
    if saved != fingerprint:
        raise CookbookError(f"{path}: cannot resume: {_differences(saved, fingerprint)}")
    try:
        restore_checkpoint(path, model, optimizer, scheduler, rank)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise CookbookError(f"{path}: cannot resume: {exc}") from exc
    return int(state["step"])


def _differences(saved: dict, current: dict) -> str:
    """What changed since the checkpoint, e.g. ``params.max_steps: 10 -> 20``."""
    changes = []
    for key in sorted(set(saved) | set(current)):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += [
                f"{key}.{k}: {old.get(k)!r} -> {new.get(k)!r}"
                for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k)
            ]
        elif old != new:
            changes.append(f"{key}: {old!r} -> {new!r}")
    return "the run's settings changed since the checkpoint: " + "; ".join(changes)


def _use_all_cores(device: str, threads: int | None) -> None:
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(threads or max(1, len(os.sched_getaffinity(0)) // local_world))


def _attention(requested: str, device: str) -> str:
    """``auto``: flash-attn's varlen kernel where installed on CUDA, else per-sample SDPA."""
    if requested == "auto":
        from transformers.utils import is_flash_attn_2_available

        if device.startswith("cuda") and is_flash_attn_2_available():
            return "flash_attention_2"
        requested = packed_attention.NAME
    if requested == packed_attention.NAME:
        packed_attention.register()
    return requested


def _lora_model(model_name: str, device: str, dtype: Any, attention: str, params: dict) -> Any:
    from peft import LoraConfig, get_peft_model

    model = load_model(model_name, device=device, dtype=str(dtype).removeprefix("torch."))
    try:
        model.set_attn_implementation(attention)
    except (ValueError, ImportError) as exc:
        raise CookbookError(f"attn_implementation {attention!r}: {exc}") from exc
    if params["gradient_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    config = LoraConfig(
        r=params["lora_r"],
        lora_alpha=params["lora_alpha"],
        lora_dropout=params["lora_dropout"],
        target_modules=params["lora_target_modules"],
        bias="none",
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(params["seed"])
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            model = get_peft_model(model, config)
    except ValueError as exc:
        raise CookbookError(f"lora_target_modules: {exc}") from exc
    model.train()
    return model


def _optimizer(model: Any, params: dict, device: str) -> torch.optim.Optimizer:
    """AdamW over the adapter weights, fused (one kernel for all of them) where supported."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    kwargs = {"lr": params["learning_rate"], "weight_decay": params["weight_decay"]}
    try:
        return torch.optim.AdamW(trainable, fused=True, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(trainable, foreach=True, **kwargs)


class _progress:
    """A rich progress bar with loss, tokens/s and ETA; silent when ``enabled`` is false."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        self.total, self.start, self.enabled = total, start, enabled
        self.bar: Any = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[speed]} tok/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(
                "training", total=self.total, completed=self.start, loss="-", speed="-"
            )
        return self.report

    def report(self, step: int, loss: float, speed: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, loss=f"{loss:.4f}", speed=f"{speed:,.0f}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _save_outputs(
    out: Path, model: Any, tokenizer: Any, merge: bool, config: dict, info: ModelInfo
) -> None:
    """Adapter, tokenizer, run config and model info into ``out`` (and a merged model into
    ``out/merged``), each staged in a hidden folder first so no file is ever half-written."""
    base = model.get_base_model()
    if hasattr(base, "set_attn_implementation"):
        base.set_attn_implementation("sdpa")
    staging = out / ".staging-final"
    shutil.rmtree(staging, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str))
    info.save(staging)
    for path in staging.iterdir():
        os.replace(path, out / path.name)
    staging.rmdir()
    if merge:
        merged_staging = out / ".staging-merged"
        shutil.rmtree(merged_staging, ignore_errors=True)
        merged = model.merge_and_unload()
        merged.save_pretrained(merged_staging)
        tokenizer.save_pretrained(merged_staging)
        info.save(merged_staging)
        shutil.rmtree(out / "merged", ignore_errors=True)
        merged_staging.rename(out / "merged")


def _write_json(path: Path, value: Any) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(value, indent=2))
    os.replace(staging, path)

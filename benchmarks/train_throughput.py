"""Training throughput: Cookbook's ``lora`` trainer against the ``trl`` trainer plugin (trl's
SFTTrainer) at trl's fastest setting, on equal footing.

Both train the same model with the same LoRA configuration on the same Cookbook samples, with
the same batch size, steps, learning-rate schedule, maximum length, prompt masking, dtype and
CPU threads; trl runs padding-free (each batch one row, every sample masked by its position
ids: no padding computed), and with ``--trl-padded`` also with its default padded batches.
Each reports tokens per second of its training loop (real tokens, padding not counted); the
last line is ``speedup_vs_trl X`` (against padding-free trl).

    python benchmarks/train_throughput.py --quick              # tiny random Llama, < 3 min
    python benchmarks/train_throughput.py --model smollm2-135m-instruct --steps 20

Needs the ``trl`` extra: ``pip install 'cookbook-llm[trl]'``.
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared or busy CPU, spinning threads
# stall every parallel region. Set before torch loads, so both trainers run with it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

# Dense bf16 peak of one GPU, for the model FLOPs utilization (H100 SXM by default).
H100_BF16_TFLOPS = 989.0


def generate_samples(path: Path, count: int, seed: int, max_words: int) -> Path:
    """``count`` document QA samples from Cookbook's own template, written as JSONL."""
    from cookbook.engine.samples import SampleMaker
    from cookbook.engine.token_spaces import builtin_token_space
    from cookbook.registry import get_registry

    template = get_registry().get("templates", "document_qa")
    params = template.resolve({"min_words": max(20, max_words // 3), "max_words": max_words})
    maker = SampleMaker(template, "document_qa", params, seed, builtin_token_space("pseudowords"))
    with path.open("w") as f:
        for index in range(count):
            f.write(maker.line(index))
    return path


def build_tiny_model(folder: Path, data: Path, hidden: int, layers: int) -> Path:
    """A randomly initialised Llama with a word-level tokenizer over the data's words."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words: dict[str, None] = {}
    for line in data.open():
        record = json.loads(line)
        words.update(dict.fromkeys((record["prompt"] + " " + record["completion"]).split()))
    vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "<s>", "</s>", *words])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
        eos_token="</s>",
    )  # fmt: skip
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 32),
        num_key_value_heads=max(1, hidden // 64),
        max_position_embeddings=2048,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_cookbook(data: Path, model: str, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    from cookbook.registry import get_registry

    trainer = get_registry().get("trainers", "lora")
    started = time.perf_counter()
    metrics = trainer.train(
        str(data), model, str(out), **common_params(args), checkpoint_every=0, progress=False,
        num_threads=args.threads, device=args.device,
    )  # fmt: skip
    return {
        "tokens": metrics["tokens"],
        "seconds": metrics["elapsed_seconds"],
        "tokens_per_second": metrics["tokens_per_second"],
        "end_to_end_seconds": time.perf_counter() - started,
        "mean_loss": sum(metrics["loss"]) / len(metrics["loss"]),
        "device": metrics["device"],
        "dtype": metrics["dtype"],
    }


def common_params(args: argparse.Namespace) -> dict[str, Any]:
    """The settings both trainers share."""
    return {
        "max_steps": args.steps,
        "batch_size": args.batch_size,
        "lora_r": args.lora_r,
        "lora_alpha": args.lora_r * 2,
        "lora_dropout": args.lora_dropout,
        "lora_target_modules": "all-linear",
        "learning_rate": 2e-4,
        "lr_scheduler": "linear",
        "max_length": args.max_length,
        "seed": args.seed,
    }


def run_trl(
    data: Path, model: str, out: Path, args: argparse.Namespace, padding_free: bool
) -> dict[str, Any]:
    """The ``trl`` trainer plugin (trl's SFTTrainer), with or without padding-free batches."""
    import torch

    from cookbook.engine import train_model

    if args.device in ("auto", "cpu"):
        torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    started = time.perf_counter()
    params = {**common_params(args), "padding_free": padding_free, "progress": False}
    metrics = train_model("trl", str(data), model, str(out), params)
    return {
        "tokens": metrics["tokens"],
        "seconds": metrics["elapsed_seconds"],
        "tokens_per_second": metrics["tokens_per_second"],
        "end_to_end_seconds": time.perf_counter() - started,
        "mean_loss": metrics["mean_loss"],
        "device": metrics["device"],
    }


def model_flops_per_token(model: str) -> float:
    """LoRA training FLOPs per token: forward plus the input-gradient half of backward (4N)."""
    from transformers import AutoConfig

    from cookbook.engine.models import resolve_model_path

    config = AutoConfig.from_pretrained(resolve_model_path(model))
    hidden, layers = config.hidden_size, config.num_hidden_layers
    head_dim = getattr(config, "head_dim", None) or hidden // config.num_attention_heads
    kv = config.num_key_value_heads * head_dim
    per_layer = hidden * (2 * hidden + 2 * kv) + 3 * hidden * config.intermediate_size
    params = layers * per_layer + hidden * config.vocab_size
    return 4.0 * params


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Tiny random Llama, few steps.")
    parser.add_argument("--model", help="Model alias or folder (default: a tiny random Llama).")
    parser.add_argument("--steps", type=int, help="Optimizer steps for each trainer.")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--lora-dropout", type=float, default=0.05)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--max-words", type=int, default=120, help="Longest document, words.")
    parser.add_argument("--threads", type=int, help="CPU threads for both (default: all).")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=256, help="Tiny model width.")
    parser.add_argument("--layers", type=int, default=4, help="Tiny model depth.")
    parser.add_argument("--peak-tflops", type=float, default=H100_BF16_TFLOPS)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    parser.add_argument(
        "--trl-padded", action="store_true", help="Also run trl with padded batches (its default)."
    )
    args = parser.parse_args()
    if args.steps is None:
        args.steps = 24 if args.quick or not args.model else 20
    return args


def main() -> None:
    args = parse_args()
    random.seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="cookbook-bench-") as tmp:
        root = Path(tmp)
        samples = args.steps * args.batch_size
        data = generate_samples(root / "data.jsonl", samples, args.seed, args.max_words)
        model = args.model or str(build_tiny_model(root / "model", data, args.hidden, args.layers))
        label = args.model or f"tiny random Llama (hidden {args.hidden}, {args.layers} layers)"
        print(f"model: {label}; {samples} document_qa samples; {args.steps} steps of batch "
              f"{args.batch_size}; LoRA r={args.lora_r} all-linear")  # fmt: skip
        trl = run_trl(data, model, root / "trl", args, padding_free=True)
        padded = run_trl(data, model, root / "padded", args, False) if args.trl_padded else None
        ours = run_cookbook(data, model, root / "cookbook", args)
    import torch

    device = ours["device"]
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    threads = torch.get_num_threads()
    print(f"device: {name} ({ours['dtype']}; {threads} CPU threads)")
    results = [("cookbook", ours), ("trl", trl)] + ([("trl_padded", padded)] if padded else [])
    for label, result in results:
        print(
            f"{label}_tokens_per_second {result['tokens_per_second']:.1f} "
            f"({result['tokens']} tokens in {result['seconds']:.1f} s; "
            f"end to end {result['end_to_end_seconds']:.1f} s; mean loss {result['mean_loss']:.4f})"
        )
    if device.startswith("cuda"):
        flops = model_flops_per_token(model)
        for label, result in results:
            mfu = result["tokens_per_second"] * flops / (args.peak_tflops * 1e12)
            print(f"{label}_mfu {mfu:.3%} (of {args.peak_tflops:g} TFLOPS)")
    speedup = ours["tokens_per_second"] / trl["tokens_per_second"]
    if args.json:
        args.json.write_text(json.dumps({"cookbook": ours, "trl": trl, "trl_padded": padded,
                                         "speedup": speedup}))  # fmt: skip
    print(f"speedup_vs_trl {speedup:.2f}")


if __name__ == "__main__":
    main()

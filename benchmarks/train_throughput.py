"""Training throughput: Cookbook's ``lora`` trainer against trl's SFTTrainer, on equal footing.

Both train the same model with the same LoRA configuration on the same Cookbook samples, with
the same batch size, steps, learning-rate schedule, maximum length, prompt masking, dtype and
CPU threads. Each reports tokens per second of its training loop (real tokens, padding not
counted); the last line is ``speedup_vs_trl X``.

    python benchmarks/train_throughput.py --quick              # tiny random Llama, < 3 min
    python benchmarks/train_throughput.py --model smollm2-135m-instruct --steps 20

Needs the ``bench`` extra (trl): ``pip install trl "torch==2.13.0"``.
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


class CountingCollator:
    """Wraps trl's collator to count the real (non-padding) tokens it hands to the model."""

    def __init__(self, collator: Any) -> None:
        self.collator, self.tokens = collator, 0

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator(examples)
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        return batch


def run_trl(data: Path, model: str, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from cookbook.engine.models import load_model, load_tokenizer, pick_device, pick_dtype
    from cookbook.engine.samples import read_samples

    params = common_params(args)
    started = time.perf_counter()
    device = pick_device(args.device)
    dtype = pick_dtype(device)
    if device == "cpu":
        torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    tokenizer = load_tokenizer(model)
    chat = bool(tokenizer.chat_template)
    rows = []
    for record in read_samples(data):
        if chat:  # conversational format: trl applies the chat template, as Cookbook does
            rows.append({
                "prompt": [{"role": "user", "content": record["prompt"]}],
                "completion": [{"role": "assistant", "content": record["completion"].strip()}],
            })  # fmt: skip
        else:
            rows.append({"prompt": record["prompt"], "completion": record["completion"]})
    config = SFTConfig(
        output_dir=str(out),
        max_steps=params["max_steps"],
        per_device_train_batch_size=params["batch_size"],
        learning_rate=params["learning_rate"],
        lr_scheduler_type=params["lr_scheduler"],
        max_length=params["max_length"],
        seed=params["seed"],
        completion_only_loss=True,
        bf16=dtype == torch.bfloat16,
        use_cpu=device == "cpu",
        save_strategy="no",
        report_to="none",
        logging_steps=max(1, params["max_steps"] // 4),
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    peft_config = LoraConfig(
        r=params["lora_r"],
        lora_alpha=params["lora_alpha"],
        lora_dropout=params["lora_dropout"],
        target_modules=params["lora_target_modules"],
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=load_model(model, device=device),
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    counter = CountingCollator(trainer.data_collator)
    trainer.data_collator = counter
    loop_started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - loop_started
    return {
        "tokens": counter.tokens,
        "seconds": seconds,
        "tokens_per_second": counter.tokens / seconds,
        "end_to_end_seconds": time.perf_counter() - started,
        "mean_loss": result.training_loss,
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
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
        trl = run_trl(data, model, root / "trl", args)
        ours = run_cookbook(data, model, root / "cookbook", args)
    import torch

    device = ours["device"]
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    threads = torch.get_num_threads()
    print(f"device: {name} ({ours['dtype']}; {threads} CPU threads)")
    for label, result in (("cookbook", ours), ("trl", trl)):
        print(
            f"{label}_tokens_per_second {result['tokens_per_second']:.1f} "
            f"({result['tokens']} tokens in {result['seconds']:.1f} s; "
            f"end to end {result['end_to_end_seconds']:.1f} s; mean loss {result['mean_loss']:.4f})"
        )
    if device.startswith("cuda"):
        flops = model_flops_per_token(model)
        for label, result in (("cookbook", ours), ("trl", trl)):
            mfu = result["tokens_per_second"] * flops / (args.peak_tflops * 1e12)
            print(f"{label}_mfu {mfu:.3%} (of {args.peak_tflops:g} TFLOPS)")
    speedup = ours["tokens_per_second"] / trl["tokens_per_second"]
    if args.json:
        args.json.write_text(json.dumps({"cookbook": ours, "trl": trl, "speedup": speedup}))
    print(f"speedup_vs_trl {speedup:.2f}")


if __name__ == "__main__":
    main()

"""A tiny randomly initialised Llama with a word-level tokenizer, saved to a folder for tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

SPECIALS = ["<unk>", "<pad>", "<s>", "</s>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def mapping_pairs(count: int, seed: int = 0, size: int = 12) -> list[tuple[str, str]]:
    """A learnable task: each word ``wN`` maps to a fixed word ``vM``."""
    rng = random.Random(seed)
    targets = [f"v{i}" for i in range(size)]
    rng.shuffle(targets)
    pairs = []
    for _ in range(count):
        i = rng.randrange(size)
        pairs.append((f"map w{i} to", f" {targets[i]}"))
    return pairs


def write_samples(path: Path, pairs: list[tuple[str, str]]) -> Path:
    """A Cookbook sample file with the given (prompt, completion) pairs."""
    with path.open("w") as f:
        for index, (prompt, completion) in enumerate(pairs):
            record = {"id": f"t-0-{index}", "template": "t", "seed": 0, "index": index,
                      "slots": {}, "prompt": prompt, "completion": completion}  # fmt: skip
            f.write(json.dumps(record) + "\n")
    return path


def build_tiny_llama(folder: Path, words: list[str], chat: bool = False, seed: int = 0) -> Path:
    """Save a 2-layer Llama (hidden size 32) and a word-level tokenizer over ``words``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    extra = ["<|user|>", "<|assistant|>"] if chat else []
    vocab = {w: i for i, w in enumerate(dict.fromkeys(SPECIALS + extra + words))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
        tie_word_embeddings=False,
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def vocabulary(pairs: list[tuple[str, str]]) -> list[str]:
    """Every white-space separated word of the pairs."""
    return sorted({w for p, c in pairs for w in (p + " " + c).split()})

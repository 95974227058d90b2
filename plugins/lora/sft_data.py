"""Supervised fine-tuning data: sample records -> token ids with a loss mask -> packed batches.

Each sample becomes the prompt's tokens followed by the completion's; the loss covers the
completion only unless ``train_on_prompt``. A micro-batch is its samples laid end to end in one
row with positions restarting at each sample and attention kept within it: no padding at all.
The order of samples is a pure function of the seed, so a resumed run sees the same batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cookbook import CookbookError
from cookbook.engine import data_files, format_completion, format_prompt, training_pairs


@dataclass
class TokenizedSamples:
    """Token ids of every sample, with how many leading tokens are prompt."""

    ids: list[np.ndarray]
    prompt_lengths: np.ndarray
    truncated: int = 0
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def num_targets(self, index: int) -> int:
        """Target tokens of sample ``index``: every token after the prompt (or after the first)."""
        return len(self.ids[index]) - max(int(self.prompt_lengths[index]), 1)


@dataclass
class PackedBatch:
    """Samples laid end to end in one row, with the positions whose next token is a target.

    ``bounds`` are the sample boundaries (``[0, len0, len0 + len1, ...]``); ``target_positions``
    index the row, and ``targets`` are the tokens expected right after those positions.
    """

    input_ids: np.ndarray
    position_ids: np.ndarray
    bounds: list[int]
    target_positions: np.ndarray
    targets: np.ndarray
    samples: list[int] = field(default_factory=list)

    @property
    def num_tokens(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def num_targets(self) -> int:
        return int(self.targets.shape[0])


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(prompt, completion) of every record of a file or Hub-style dataset folder, in any of
    the shapes ``engine.training_pairs`` reads; a bad record is an error naming it."""
    pairs = [(prompt, completion) for prompt, completion, _ in training_pairs(path)]
    if not pairs:
        raise CookbookError(f"{path}: no samples to train on")
    return pairs


def file_digest(path: str | Path) -> str:
    """SHA-256 of the data's bytes (every data file of a folder), to tell whether a checkpoint
    was made on the same data."""
    digest = hashlib.sha256()
    for file in data_files(Path(path)):
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def tokenize_pairs(
    pairs: list[tuple[str, str]],
    tokenizer: Any,
    chat: bool,
    max_length: int,
    train_on_prompt: bool = False,
) -> TokenizedSamples:
    """Token ids of each (prompt, completion), cut to ``max_length``; samples left with no
    target token are dropped and counted in ``skipped``."""
    prompts = [format_prompt(tokenizer, p, chat) for p, _ in pairs]
    completions = [format_completion(tokenizer, p, c, chat) for p, c in pairs]
    prompt_ids = tokenizer(prompts, add_special_tokens=not chat)["input_ids"]
    completion_ids = tokenizer(completions, add_special_tokens=False)["input_ids"]
    eos = [] if chat or tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
    ids, lengths = [], []
    truncated = skipped = 0
    for head, tail in zip(prompt_ids, completion_ids, strict=True):
        sample = list(head) + list(tail) + eos
        if len(sample) > max_length:
            truncated += 1
            sample = sample[:max_length]
        first_target = 1 if train_on_prompt else max(len(head), 1)
        if len(sample) <= first_target:
            skipped += 1
            continue
        ids.append(np.asarray(sample, dtype=np.int64))
        lengths.append(0 if train_on_prompt else len(head))
    if not ids:
        raise CookbookError(
            f"no sample has a completion token within max_length={max_length} tokens"
        )
    return TokenizedSamples(ids, np.asarray(lengths, dtype=np.int64), truncated, skipped)


def sample_stream(num_samples: int, seed: int, start: int = 0) -> Iterator[int]:
    """Sample indices epoch after epoch, each epoch a fresh permutation fixed by (seed, epoch)."""
    epoch, offset = divmod(start, num_samples)
    while True:
        order = np.random.default_rng([seed, epoch]).permutation(num_samples)
        yield from order[offset:].tolist()
        epoch, offset = epoch + 1, 0


def pack(samples: TokenizedSamples, indices: Iterable[int]) -> PackedBatch:
    """One row holding the samples ``indices`` end to end, and their next-token targets."""
    indices = list(indices)
    pieces = [samples.ids[i] for i in indices]
    bounds = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).tolist()
    positions, targets = [], []
    for i, piece, start in zip(indices, pieces, bounds, strict=False):
        first = max(int(samples.prompt_lengths[i]) - 1, 0)
        positions.append(np.arange(start + first, start + len(piece) - 1))
        targets.append(piece[first + 1 :])
    return PackedBatch(
        input_ids=np.concatenate(pieces),
        position_ids=np.concatenate([np.arange(len(p)) for p in pieces]),
        bounds=bounds,
        target_positions=np.concatenate(positions),
        targets=np.concatenate(targets),
        samples=indices,
    )


class BatchPlan:
    """Which samples each micro-batch holds: the stream cut into ``batch_size`` chunks.

    Optimizer step ``s`` of rank ``r`` in a world of ``world`` processes takes micro-batches
    ``(s * accumulation + a) * world + r`` for ``a`` in ``range(accumulation)``.
    """

    def __init__(
        self,
        samples: TokenizedSamples,
        batch_size: int,
        accumulation: int,
        seed: int,
        world: int = 1,
        rank: int = 0,
    ) -> None:
        self.samples, self.batch_size, self.accumulation = samples, batch_size, accumulation
        self.seed, self.world, self.rank = seed, world, rank

    @property
    def samples_per_step(self) -> int:
        return self.batch_size * self.accumulation * self.world

    def steps_for_epochs(self, epochs: float) -> int:
        """Optimizer steps that see every sample ``epochs`` times (at least one step)."""
        return max(1, int(np.ceil(epochs * len(self.samples) / self.samples_per_step)))

    def steps(self, start_step: int) -> Iterator[tuple[list[PackedBatch], int, int]]:
        """For each optimizer step from ``start_step`` on: this rank's micro-batches, and the
        target and input tokens of the step over all ranks (its loss is the targets' mean)."""
        stream = sample_stream(len(self.samples), self.seed, start_step * self.samples_per_step)
        while True:
            batches, targets, tokens = [], 0, 0
            for _ in range(self.accumulation):
                chunks = [[next(stream) for _ in range(self.batch_size)] for _ in range(self.world)]
                targets += sum(self.samples.num_targets(i) for c in chunks for i in c)
                tokens += sum(len(self.samples.ids[i]) for c in chunks for i in c)
                batches.append(pack(self.samples, chunks[self.rank]))
            yield batches, targets, tokens

"""The local engine's batches, planned on the driver from the tokenizer alone, so that each
Ray shard holds whole batches in the local engine's order: an actor then forms exactly the
batches the local engine forms, and its numbers are the local engine's to the last bit (the
padding of a batch changes floating-point rounding)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cookbook.engine.inference import (
    _worth_sharing,
    clip_text,
    encode,
    encode_pair,
    length_batches,
)


def generation_batches(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    limit: int,
    max_new_tokens: int,
    batch_size: int,
    add_special_tokens: bool,
) -> list[list[int]]:
    """The batches ``generate_greedy`` forms for ``texts`` (already formatted)."""
    room = max(1, limit - max_new_tokens)
    lengths = [
        len(encode(tokenizer, clip_text(t, room), add_special_tokens)[-room:]) for t in texts
    ]
    return length_batches(lengths, batch_size)


def loglikelihood_batches(
    tokenizer: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    limit: int,
    batch_size: int,
    add_special_tokens: bool,
    joint: bool,
    sharing: bool,
) -> list[list[int]]:
    """The batches ``continuation_logprobs`` forms for ``pairs``: contexts read once for
    several continuations (``sharing``), then pairs read as whole sequences; each batch as
    the indices of its pairs."""
    encoded = [
        encode_pair(tokenizer, clip_text(c, limit), clip_text(t, limit), add_special_tokens, joint)
        for c, t in pairs
    ]
    whole = _worth_sharing(encoded, limit) if sharing else []
    batches = _by_key([tuple(encoded[i][0]) for i in whole], whole, batch_size, len)
    rest = sorted(set(range(len(pairs))) - set(whole))
    sequences = [(encoded[i][0] + encoded[i][1])[-limit:] for i in rest]
    keys = [tuple(s[:-1]) for s in sequences]
    return batches + _by_key(keys, rest, batch_size, lambda key: len(key) + 1)


def _by_key(keys: list[tuple], members: list[int], batch_size: int, size: Any) -> list[list[int]]:
    """Members grouped by key (first seen first), the groups batched by size as the engine
    batches them, each batch flattened to its members."""
    groups: dict[tuple, list[int]] = {}
    for key, member in zip(keys, members, strict=True):
        groups.setdefault(key, []).append(member)
    order = list(groups)
    return [
        [m for b in batch for m in groups[order[b]]]
        for batch in length_batches([size(k) for k in order], batch_size)
    ]


def shard_by_batches(
    batches: Sequence[Sequence[int]], per_shard: int
) -> tuple[list[int], list[tuple[int, int]]]:
    """The records in batch order and the ranges of that order that make shards of
    ``per_shard`` whole batches."""
    order = [i for batch in batches for i in batch]
    ranges, start = [], 0
    for first in range(0, len(batches), max(1, per_shard)):
        size = sum(len(b) for b in batches[first : first + max(1, per_shard)])
        ranges.append((start, start + size))
        start += size
    return order, ranges

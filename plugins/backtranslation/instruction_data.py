"""The ``instruction_data`` template: natural-language (instruction, output) pairs from a file,
as a source of a mixture beside rule templates.

It is sampled exactly like template data: sample i draws one pair with the sample's own
randomness (with replacement), so a mixture gives it its weight's share of the samples to the
sample. Natural-language data follows no rule over tokens: the alignment of any task under it
is 0, so the alignment mixer gives it weight only through bounds (``min_weight``), while a
proxy-scores mixer learns its weight from a short training run on it alone. Evaluated on its
own samples, a model's answer is scored by token F1 against the pair's reference output.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from cookbook import CookbookError, Param, SampleRandom, TokenSpace, template
from cookbook_plugins.backtranslation.instruction_files import (
    read_instruction_pairs,
    split_holdout,
)
from cookbook_plugins.backtranslation.steps import SEED_TAG


@lru_cache(maxsize=8)
def _pairs(path: str, stamp: tuple[int, int], holdout: int, limit: int | None) -> tuple:
    """The training pairs of ``path`` (read once per process and file version)."""
    train, _ = split_holdout(read_instruction_pairs(path), holdout)
    train = train[:limit] if limit else train
    if not train:
        raise CookbookError(f"{path}: no pairs left after holding out {holdout} tasks")
    return tuple((pair.instruction, pair.output, pair.id) for pair in train)


def training_pairs(path: str, holdout: int = 0, limit: int | None = None) -> tuple:
    """(instruction, output, id) of the pairs a mixture draws from."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise CookbookError(f"template 'instruction_data': path {path}: {exc.strerror}") from None
    return _pairs(str(Path(path)), (info.st_mtime_ns, info.st_size), holdout, limit)


def _prompt(slots: dict[str, Any]) -> str:
    tag = slots.get("tag")
    return f"{tag}\n{slots['instruction']}" if tag else str(slots["instruction"])


@template(
    family="natural",
    prompt=_prompt,
    completion=" {answer}",
    rule=lambda slots: slots["reference"],
    slots=("instruction", "answer"),
    description="Natural-language (instruction, output) pairs from a file, drawn at random.",
)
def instruction_data(
    rng: SampleRandom,
    tokens: TokenSpace,
    path: Annotated[
        str,
        Param(
            "Instruction data: Self-Instruct seed tasks, Alpaca, chat-messages or"
            " prompt/completion JSONL.",
            format="path",
        ),
    ],
    holdout: Annotated[
        int, Param("The last N tasks of the file are held out, never drawn.", minimum=0)
    ] = 0,
    limit: Annotated[
        int | None, Param("Draw from the first N pairs only (after the holdout).", minimum=1)
    ] = None,
    tag: Annotated[str | None, Param("A line put before each instruction; null: none.")] = SEED_TAG,
) -> dict[str, Any]:
    """One pair of the file, chosen with the sample's randomness."""
    pairs = training_pairs(path, holdout, limit)
    instruction, output, pair_id = pairs[rng.randrange(len(pairs))]
    return {"tag": tag, "instruction": instruction, "reference": output, "pair": pair_id}

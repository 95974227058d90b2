"""The step kinds of instruction backtranslation: seed pairs (forward or reversed), unlabelled
segments, instructions written for them by a backward model (self-augmentation), candidates
rated and kept by a model (self-curation), and datasets joined for the next training round.

Each writes its records as JSONL with provenance into its step folder; the ``train`` and
``eval`` steps of the pipeline are the built-in ones, used several times.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import cookbook.engine as engine
from cookbook import (
    Artifact,
    CookbookError,
    Dataset,
    Input,
    Param,
    StepContext,
    StepProblem,
    best_choice,
    step_kind,
)
from cookbook_plugins.backtranslation.instruction_files import (
    read_instruction_pairs,
    split_holdout,
)
from cookbook_plugins.backtranslation.rating import (
    DEFAULT_RATING_PROMPT,
    check_rating_prompt,
    curate,
    parse_score,
    render_rating_prompt,
)
from cookbook_plugins.backtranslation.segments import (
    SegmentFilter,
    describe_drops,
    filter_segments,
    read_segments,
)

#: The paper's tags: seed data is answered "in the style of an AI Assistant", augmented data
#: "with knowledge from web search"; at inference, the seed tag.
SEED_TAG = "Answer in the style of an AI Assistant."
AUGMENTED_TAG = "Answer with knowledge from web search."
#: Where a model step on Ray keeps its record shards until its outputs are written.
RAY_SHARDS = "ray-shards"


@dataclass
class Segments(Artifact):
    """Unlabelled text segments that passed the filters, and how many each filter dropped."""

    TYPE: ClassVar[str] = "segments"
    file: Path
    segments: int
    dropped: dict[str, int]


@dataclass
class Candidates(Artifact):
    """(instruction, output) candidates: an instruction written for each segment."""

    TYPE: ClassVar[str] = "candidates"
    file: Path
    candidates: int


def tagged(tag: str | None, instruction: str) -> str:
    """The prompt of a tagged instruction: the tag on its own line first (no tag: as it is)."""
    return f"{tag}\n{instruction}" if tag else instruction


def _write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --- seed pairs ---------------------------------------------------------------------------


def _instructions_card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    data = outputs["data"]
    way = "reversed (output -> instruction)" if params["direction"] == "backward" else "forward"
    held = f", {params['holdout']} tasks held out" if params["holdout"] else ""
    return f"Seed pairs, {way}: {data.samples} samples{held}."


@step_kind(outputs={"data": "dataset"}, card=_instructions_card)
def instructions(
    ctx: StepContext,
    *,
    path: Annotated[
        str,
        Param(
            "Instruction data: Self-Instruct seed tasks, Alpaca-style or chat-messages JSONL.",
            format="path",
        ),
    ],
    holdout: Annotated[
        int, Param("The last N tasks are held out for evaluation, never trained on.", minimum=0)
    ] = 0,
    direction: Annotated[
        Literal["forward", "backward"],
        Param("forward: instruction -> output (M0); backward: output -> instruction (Myx)."),
    ] = "forward",
    tag: Annotated[
        str | None, Param("A line put before each instruction (forward only); null: none.")
    ] = SEED_TAG,
    limit: Annotated[int | None, Param("At most this many pairs.", minimum=1)] = None,
) -> dict[str, Artifact]:
    """Seed (instruction, output) pairs as training samples, forward or reversed."""
    train, _ = split_holdout(read_instruction_pairs(path), holdout)
    train = train[:limit] if limit else train
    name = "seed" if direction == "forward" else "seed_backward"
    records = []
    for pair in train:
        if direction == "forward":
            prompt, completion = tagged(tag, pair.instruction), pair.output
        else:
            prompt, completion = pair.output, pair.instruction
        records.append(
            {"id": f"{name}-{pair.id}", "template": name, "prompt": prompt,
             "completion": " " + completion, "source": pair.source}
        )  # fmt: skip
    file = ctx.folder / "samples.jsonl"
    count = _write_jsonl(file, records)
    ctx.log(f"{count} {direction} seed pairs")
    return {"data": Dataset(file=file, samples=count, counts={name: count})}


# --- unlabelled segments ------------------------------------------------------------------


def _segments_card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    kept = outputs["segments"]
    dropped = describe_drops(Counter(kept.dropped))
    return f"Unlabelled segments: {kept.segments} kept; dropped: {dropped}."


def _segment_rules(params: Mapping[str, Any]) -> SegmentFilter:
    return SegmentFilter(
        min_chars=params["min_chars"],
        max_chars=params["max_chars"],
        max_duplicate_overlap=params["max_duplicate_overlap"],
        max_sentence_overlap=params["max_sentence_overlap"],
        max_uppercase=params["max_uppercase"],
        drop_boilerplate=params["drop_boilerplate"],
    )


def _segments_check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    if params.get("min_chars", 0) > params.get("max_chars", 0):
        return [StepProblem(("min_chars",), "min_chars must not exceed max_chars")]
    return []


Fraction = Annotated[float, Param(minimum=0, maximum=1)]


@step_kind(outputs={"segments": "segments"}, check=_segments_check, card=_segments_card)
def segments(
    ctx: StepContext,
    *,
    path: Annotated[
        str,
        Param(
            "Unlabelled text: a .txt/.md file, JSONL with a text field, a SQuAD file's"
            " passages, or a folder of those.",
            format="path",
        ),
    ],
    by: Annotated[Literal["paragraph", "heading"], Param("How documents are cut.")] = "paragraph",
    text_field: Annotated[str, Param("The text field of JSONL rows.")] = "text",
    min_chars: Annotated[int, Param("Shortest segment kept, in characters.", minimum=0)] = 200,
    max_chars: Annotated[int, Param("Longest segment kept, in characters.", minimum=1)] = 3000,
    max_sentence_overlap: Annotated[
        float,
        Param(
            "Drop a segment two of whose sentences share more word 3-grams (Jaccard).",
            minimum=0,
            maximum=1,
        ),
    ] = 0.5,  # fmt: skip
    max_duplicate_overlap: Annotated[
        float,
        Param(
            "Drop a segment whose word 3-grams overlap a kept one's more (Jaccard).",
            minimum=0,
            maximum=1,
        ),
    ] = 0.8,  # fmt: skip
    max_uppercase: Annotated[
        float, Param("Drop a segment with a larger share of capital letters.", minimum=0, maximum=1)
    ] = 0.5,  # fmt: skip
    drop_boilerplate: Annotated[bool, Param("Drop navigation and legal boilerplate.")] = True,
    limit: Annotated[int | None, Param("Keep at most this many segments.", minimum=1)] = None,
) -> dict[str, Artifact]:
    """The segments of the unlabelled text that pass the paper's filters."""
    rules = _segment_rules(locals())
    kept, dropped = filter_segments(read_segments(path, by=by, text_field=text_field), rules)
    if not kept:
        raise CookbookError(
            f"{path}: no segment passed the filters (dropped: {describe_drops(dropped)})"
        )
    kept = kept[:limit] if limit else kept
    file = ctx.folder / "segments.jsonl"
    count = _write_jsonl(file, ({"id": s.id, "text": s.text, "source": s.source} for s in kept))
    ctx.log(f"{count} segments kept; dropped: {describe_drops(dropped)}")
    return {"segments": Segments(file=file, segments=count, dropped=dict(dropped))}


# --- self-augmentation ---------------------------------------------------------------------


def _load(ctx: StepContext, model: Any) -> Any:
    """The model (the pipeline's base model when None), on Ray actors when the pipeline's
    ``execution`` says so (record shards under the step folder's ``ray-shards``)."""
    base, adapter = ctx.pipeline.model, None
    if model is not None:
        base, adapter = model.base, str(model.adapter) if model.adapter else None
    return engine.load_eval_model(
        base, adapter, execution=ctx.pipeline.execution, shards=ctx.folder / RAY_SHARDS
    )


def _done_on_ray(ctx: StepContext) -> None:
    """Once the step's outputs are written: its Ray actors stopped, its shards removed."""
    if ctx.pipeline.execution.get("engine") == "ray":
        engine.release_ray_models()
        shutil.rmtree(ctx.folder / RAY_SHARDS, ignore_errors=True)


def _generate(
    lm: Any, prompts: list[str], max_new_tokens: int, batch_size: int, what: str, **sampling: Any
) -> list[str]:
    with engine.progress_bar(what, len(prompts)) as advance:
        return lm.generate(
            prompts,
            max_new_tokens=max_new_tokens,
            stop=None,
            batch_size=batch_size,
            on_progress=advance,
            **sampling,
        )


@step_kind(
    inputs={
        "model": Input("model", description="The backward model (trained output -> instruction)."),
        "segments": Input("segments", description="Unlabelled segments."),
    },
    outputs={"candidates": "candidates"},
    uses=("seed",),
    card=lambda name, outputs, params, pipeline: (
        f"Self-augmentation: {outputs['candidates'].candidates} instructions written."
    ),
)
def self_augment(
    ctx: StepContext,
    *,
    max_new_tokens: Annotated[int, Param("Longest instruction, in tokens.", minimum=1)] = 64,
    batch_size: Annotated[int, Param("Segments per batch.", minimum=1)] = 8,
    temperature: Annotated[
        float, Param("0: greedy; above 0: sampled at this temperature.", minimum=0, maximum=10)
    ] = 0.0,
    top_p: Annotated[
        float,
        Param(
            "Nucleus sampling: the smallest set of tokens with this probability.",
            exclusiveMinimum=0,
            maximum=1,
        ),
    ] = 1.0,  # fmt: skip
) -> dict[str, Artifact]:
    """An instruction for each segment, written by the backward model: greedily, or sampled
    (seeded by the pipeline's seed, so a rerun writes the same)."""
    segments_file = ctx.inputs["segments"].file
    rows = _read_jsonl(segments_file)
    lm = _load(ctx, ctx.inputs["model"])
    texts = [row["text"] for row in rows]
    sampling = {"temperature": temperature, "top_p": top_p, "seed": ctx.pipeline.seed}
    written = _generate(lm, texts, max_new_tokens, batch_size, "write instructions", **sampling)
    records = [
        {"id": f"cand-{row['id']}", "segment_id": row["id"], "instruction": instruction,
         "output": row["text"]}
        for row, instruction in zip(rows, written, strict=True)
        if instruction.strip()
    ]  # fmt: skip
    file = ctx.folder / "candidates.jsonl"
    count = _write_jsonl(file, records)
    _done_on_ray(ctx)
    ctx.log(f"{count} candidates ({len(rows) - count} empty instructions dropped)")
    return {"candidates": Candidates(file=file, candidates=count)}


# --- self-curation -------------------------------------------------------------------------


def _curate_check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    try:
        check_rating_prompt(params.get("prompt", DEFAULT_RATING_PROMPT))
    except CookbookError as exc:
        return [StepProblem(("prompt",), str(exc))]
    return []


def _curate_card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    data = outputs["data"]
    return (
        f"Self-curation (iteration {params['iteration']}, threshold {params['threshold']}):"
        f" {data.samples} candidates kept."
    )


@step_kind(
    inputs={
        "model": Input("model", optional=True, description="The rating model (default: base)."),
        "candidates": Input("candidates", description="Candidates to rate."),
    },
    outputs={"data": "dataset"},
    uses=("model",),
    check=_curate_check,
    card=_curate_card,
)
def self_curate(
    ctx: StepContext,
    *,
    threshold: Annotated[
        int,
        Param(
            "Keep candidates rated at least this (5: the paper's A5, 4: A4).", minimum=1, maximum=5
        ),
    ] = 5,  # fmt: skip
    prompt: Annotated[
        str, Param("Rating prompt with {instruction} and {output}.")
    ] = DEFAULT_RATING_PROMPT,
    iteration: Annotated[int, Param("Which round of curation this is.", minimum=1)] = 1,
    tag: Annotated[
        str | None, Param("A line put before each kept instruction; null: none.")
    ] = AUGMENTED_TAG,
    rating: Annotated[
        Literal["reply", "likelihood"],
        Param(
            "reply: the model writes a reply ending in 'Score: N', parsed (the paper's way);"
            " likelihood: the likeliest of 'Score: 1' ... 'Score: 5' after the prompt (every"
            " candidate gets a score; for models too small to follow the rubric)."
        ),
    ] = "reply",
    max_new_tokens: Annotated[int, Param("Longest rating reply, in tokens.", minimum=1)] = 64,
    batch_size: Annotated[int, Param("Candidates per batch.", minimum=1)] = 8,
) -> dict[str, Artifact]:
    """The candidates the model rates at or above ``threshold``, as training samples."""
    check_rating_prompt(prompt)
    rows = _read_jsonl(ctx.inputs["candidates"].file)
    lm = _load(ctx, ctx.inputs.get("model"))
    prompts = [render_rating_prompt(prompt, r["instruction"], r["output"]) for r in rows]
    what = f"rate (iteration {iteration})"
    if rating == "likelihood":
        replies = _likeliest_scores(lm, prompts, batch_size, what)
    else:
        replies = _generate(lm, prompts, max_new_tokens, batch_size, what)
    scores = [parse_score(reply) for reply in replies]
    kept = curate(scores, threshold)
    _write_jsonl(
        ctx.folder / "ratings.jsonl",
        ({"id": r["id"], "segment_id": r["segment_id"], "score": s, "reply": reply,
          "iteration": iteration} for r, s, reply in zip(rows, scores, replies, strict=True)),
    )  # fmt: skip
    records = [
        {"id": f"curated{iteration}-{rows[i]['segment_id']}", "template": "backtranslation",
         "prompt": tagged(tag, rows[i]["instruction"]), "completion": " " + rows[i]["output"],
         "segment_id": rows[i]["segment_id"], "score": scores[i], "iteration": iteration}
        for i in kept.kept
    ]  # fmt: skip
    file = ctx.folder / "samples.jsonl"
    count = _write_jsonl(file, records)
    _done_on_ray(ctx)
    ctx.log(
        f"kept {count} of {len(rows)} candidates (score >= {threshold}); {kept.below} rated"
        f" lower, {kept.unscored} replies without a score"
    )
    if not count:
        ctx.log("no candidate was kept: the next training round has the seed data alone")
    return {"data": Dataset(file=file, samples=count, counts={"backtranslation": count})}


def _likeliest_scores(lm: Any, prompts: list[str], batch_size: int, what: str) -> list[str]:
    """For each prompt, ``Score: N`` for the N in 1..5 the model finds likeliest after it."""
    options = [f"Score: {n}" for n in range(1, 6)]
    pairs = [(lm.prompt_text(p), lm.choice_text(f" {o}")) for p in prompts for o in options]
    with engine.progress_bar(what, len(pairs)) as advance:
        values = lm.loglikelihoods(pairs, batch_size=batch_size, on_progress=advance)
    return [
        options[best_choice(values[start : start + len(options)])]
        for start in range(0, len(values), len(options))
    ]


# --- joining datasets ------------------------------------------------------------------------


def _join_check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    weights, samples = params.get("weights"), params.get("samples")
    parts = inputs.get("parts") or []
    problems = []
    if (weights is None) != (samples is None):
        problems.append(StepProblem(("weights",), "weights and samples go together"))
    for name in weights or {}:
        if name not in parts:
            problems.append(StepProblem(("weights", name), f"{name!r} is not one of the parts"))
    if weights is not None and not any(float(weights.get(p, 0)) > 0 for p in parts):
        problems.append(StepProblem(("weights",), "at least one part needs a positive weight"))
    return problems


def _join_card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    data = outputs["data"]
    parts = ", ".join(f"{k} {v}" for k, v in data.counts.items())
    return f"Joined: {data.samples} samples ({parts})."


def _drawn(records: list[dict], count: int, seed: int, name: str) -> list[dict]:
    """``count`` records of a part: a seeded shuffle, cycled when more are asked for."""
    import random

    if count and not records:
        raise CookbookError(f"part {name!r} holds no samples to draw {count} from")
    order: list[dict] = []
    rng = random.Random(f"{seed}:{name}")
    while len(order) < count:
        shuffled = list(records)
        rng.shuffle(shuffled)
        order += shuffled
    return order[:count]


@step_kind(
    inputs={"parts": Input("dataset", many=True, description="Datasets to join, in order.")},
    outputs={"data": "dataset"},
    uses=("seed",),
    check=_join_check,
    card=_join_card,
)
def join(
    ctx: StepContext,
    *,
    samples: Annotated[
        int | None, Param("Samples in all, split by weights (default: every sample).", minimum=1)
    ] = None,
    weights: Annotated[
        dict[str, float] | None,
        Param("A weight per part (step name), as a mixture's: its share of the samples."),
    ] = None,
) -> dict[str, Artifact]:
    """The input datasets as one training file: all of each, one after another, or
    ``samples`` drawn from them in proportion to ``weights`` (largest remainder, each part's
    samples shuffled with the pipeline's seed and cycled when a part is asked for more than
    it holds), interleaved at random."""
    import random

    names = ctx.sources["parts"]
    parts = {n: list(engine.read_samples(d.file)) for n, d in zip(names, ctx.inputs["parts"],
                                                                  strict=True)}  # fmt: skip
    if samples is None:
        chosen = parts
        rows = [r for n in names for r in chosen[n]]
    else:
        counts = engine.largest_remainder({n: (weights or {}).get(n, 0.0) for n in names},
                                          samples)  # fmt: skip
        chosen = {n: _drawn(parts[n], counts[n], ctx.pipeline.seed, n) for n in names}
        rows = [r for n in names for r in chosen[n]]
        random.Random(f"{ctx.pipeline.seed}:join").shuffle(rows)
    if not rows:
        raise CookbookError(f"step {ctx.name!r}: the joined datasets hold no samples")
    file = ctx.folder / "samples.jsonl"
    count = _write_jsonl(file, rows)
    counts_by_part = {n: len(chosen[n]) for n in names}
    ctx.log("joined " + ", ".join(f"{n} {c}" for n, c in counts_by_part.items()))
    return {"data": Dataset(file=file, samples=count, counts=counts_by_part)}


STEP_KINDS = [instructions, segments, self_augment, self_curate, join]

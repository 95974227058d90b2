"""The checks of one template, run inside the sandbox: its contract, its samples (made as
``cookbook generate`` makes them), determinism, its own scorer, and its alignment on task
records. Each returns what passed and what did not, as messages for the template's writer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.contract.templates import Template, format_fields
from cookbook.contract.tokens import TokenSpace
from cookbook.engine.samples import SampleMaker
from cookbook.engine.template_check.candidate import describe

#: Samples compared for determinism within the process and across seeds.
REPEATS = 50
#: Samples whose (clipped) lines go back to the parent, to show where two processes differ.
SHOWN = 1000
_PERFECT = 1.0 - 1e-9
_GENERATOR_HINT = (
    "a generator is called as fn(rng, tokens, **params) and returns a dict of input slots;"
    " the rule is called as rule(slots, **params)"
)
_RANDOMNESS_HINT = (
    "draw every random choice from the rng argument (rng.choice, rng.randint, tokens.draw(rng,"
    " n)), never from the random module, numpy's global generator, time, hash() or id(), and"
    " sort a set before choosing from it"
)


@dataclass
class Outcome:
    """What one template's checks found."""

    passed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Short hashes of its samples' JSON lines (seed 0), compared between two processes.
    hashes: list[str] = field(default_factory=list)
    #: The same lines, clipped, to show where two processes differ.
    lines: list[str] = field(default_factory=list)
    alignment: dict[str, Any] | None = None


def resolved_params(template: Template, given: Mapping[str, Any], out: Outcome) -> dict | None:
    """Its defaults (with ``given`` over them) validated against its parameter schema."""
    try:
        defaults = template.resolve({})
    except CookbookError as exc:
        out.problems.append(
            f"template {template.name!r}: its parameter defaults do not satisfy its own"
            f" parameter schema: {exc}"
        )
        return None
    try:
        params = template.resolve(given)
    except CookbookError as exc:
        out.problems.append(f"template {template.name!r}: the parameters given are invalid: {exc}")
        return None
    names = ", ".join(template.own_params(defaults)) or "none besides prompt/completion"
    out.passed.append(
        f"template {template.name!r}: its parameter defaults validate against its schema"
        f" (parameters: {names})"
    )
    return params


def make_lines(
    template: Template, params: Mapping[str, Any], tokens: TokenSpace, seed: int, count: int
) -> list[str]:
    """Samples ``0..count-1`` as ``cookbook generate`` writes them (JSON lines, no newline);
    the first failure is a ``SampleFailure``."""
    maker = SampleMaker(template, template.name, params, seed, tokens)
    return [sample_line(maker, i) for i in range(count)]


class SampleFailure(Exception):
    """A sample could not be made or written; the message is for the template's writer."""


def sample_line(maker: SampleMaker, index: int) -> str:
    """Sample ``index`` as a compact JSON line."""
    try:
        record = maker.record(index)
    except CookbookError as exc:
        cause = exc.__cause__
        if isinstance(cause, MemoryError):
            raise cause from None
        what = describe(cause) if cause is not None else str(exc)
        hint = f"; {_GENERATOR_HINT}" if isinstance(cause, TypeError) else ""
        raise SampleFailure(
            f"making sample {index} (seed {maker.seed}) failed: {what}{hint}"
        ) from None
    try:
        return json.dumps(record, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        bad = [k for k, v in record["slots"].items() if not _jsonable(v)]
        raise SampleFailure(
            f"sample {index}: slot(s) {', '.join(map(repr, bad)) or '?'} cannot be written as"
            f" JSON ({exc}): slots must hold strings, numbers, booleans, lists or dicts of them"
        ) from None


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def check_samples(
    template: Template,
    params: Mapping[str, Any],
    tokens: TokenSpace,
    samples: int,
    out: Outcome,
    progress: Callable[[str], None],
) -> list[dict[str, Any]] | None:
    """Make ``samples`` samples (seed 0) and check their form; the records, or None."""
    name = template.name
    progress(f"making {samples} samples of template {name!r} (seed 0)")
    try:
        lines = make_lines(template, params, tokens, 0, samples)
    except SampleFailure as exc:
        out.problems.append(f"template {name!r}: {exc}")
        return None
    out.lines = [line[:400] for line in lines[:SHOWN]]
    out.hashes = [hashlib.sha256(line.encode()).hexdigest()[:16] for line in lines]
    records = [json.loads(line) for line in lines]
    before = len(out.problems)
    _check_form(template, params, records, out)
    if len(out.problems) == before:
        out.passed.append(
            f"template {name!r}: {samples} samples made; the prompt renders every slot it names,"
            f" every declared slot is made, and prompts, completions and outputs are non-empty"
        )
    progress(f"checking template {name!r} for determinism")
    _check_repeatable(template, params, tokens, lines, out)
    _check_batch(template, params, tokens, lines, out)
    return records


def _check_form(
    template: Template, params: Mapping[str, Any], records: list[dict[str, Any]], out: Outcome
) -> None:
    name, output = template.name, template.output
    prompt_format = params.get("prompt", template.prompt)
    completion_format = params.get("completion", template.completion)
    if isinstance(prompt_format, str) and output in format_fields(prompt_format):
        out.problems.append(
            f"template {name!r}: its prompt format {prompt_format!r} shows the output slot"
            f" {{{output}}}, so the answer is given away in the question"
        )
    elif isinstance(prompt_format, str) and not format_fields(prompt_format):
        out.problems.append(
            f"template {name!r}: its prompt format {prompt_format!r} shows none of its input"
            " slots, so the answer cannot be worked out from the prompt: name them in it, as"
            " {words}"
        )
    if isinstance(completion_format, str) and output not in format_fields(completion_format):
        out.problems.append(
            f"template {name!r}: its completion format {completion_format!r} does not show the"
            f" output slot {{{output}}}"
        )
    for record in records:
        slots, index = record["slots"], record["index"]
        missing = [s for s in template.slots if s not in slots]
        if missing:
            out.problems.append(
                f"template {name!r}: sample {index} lacks the declared slot(s)"
                f" {', '.join(map(repr, missing))} (it made {', '.join(map(repr, slots))})"
            )
            return
        value = slots.get(output)
        if not isinstance(value, str) or not value.strip():
            out.problems.append(
                f"template {name!r}: sample {index}: the rule's output (slot {output!r}) must be"
                f" a non-empty string, not {_short(value)}"
                f" (inputs: {_short(_inputs(slots, output))})"
            )
            return
        for part in ("prompt", "completion"):
            if not record[part].strip():
                out.problems.append(
                    f"template {name!r}: sample {index}: its {part} renders to an empty text"
                    f" (slots: {_short(slots)})"
                )
                return
        if isinstance(completion_format, str) and value not in record["completion"]:
            out.problems.append(
                f"template {name!r}: sample {index}: its completion {_short(record['completion'])}"
                f" does not contain its output {_short(value)}"
            )
            return


def _check_repeatable(
    template: Template,
    params: Mapping[str, Any],
    tokens: TokenSpace,
    lines: Sequence[str],
    out: Outcome,
) -> None:
    """Samples made again (in reverse order, by a fresh maker) are the same; seed 1 differs."""
    name = template.name
    count = min(REPEATS, len(lines))
    maker = SampleMaker(template, template.name, params, 0, tokens)
    try:
        again = {i: sample_line(maker, i) for i in reversed(range(count))}
        other = make_lines(template, params, tokens, 1, count)
    except SampleFailure as exc:
        out.problems.append(f"template {name!r}: making a sample again failed: {exc}")
        return
    changed = next((i for i in range(count) if again[i] != lines[i]), None)
    if changed is not None:
        out.problems.append(
            f"template {name!r} is not deterministic: sample {changed} (seed 0) came out"
            f" differently when made again in the same process (first: {lines[changed][:300]};"
            f" again: {again[changed][:300]}); a sample must depend only on (seed, index):"
            f" {_RANDOMNESS_HINT}, and keep no state between samples"
        )
        return
    same = sum(_slots_of(a) == _slots_of(b) for a, b in zip(lines, other, strict=False))
    if same == count:
        out.problems.append(
            f"template {name!r}: seeds 0 and 1 give the same {count} samples, so the seed does"
            f" not reach the generator: {_RANDOMNESS_HINT}"
        )
        return
    out.passed.append(
        f"template {name!r}: deterministic within a process ({count} samples made again in"
        f" reverse order are identical); seeds 0 and 1 differ on {count - same} of {count}"
    )


def _check_batch(
    template: Template,
    params: Mapping[str, Any],
    tokens: TokenSpace,
    lines: Sequence[str],
    out: Outcome,
) -> None:
    """A batch generator makes exactly the per-sample generator's lines."""
    if template.generate_batch is None or len(lines) < 2:
        return
    maker = SampleMaker(template, template.name, params, 0, tokens)
    try:
        batch = [line.decode().rstrip("\n") for line in maker.lines(0, len(lines))]
    except CookbookError as exc:
        cause = exc.__cause__
        out.problems.append(
            f"template {template.name!r}: its batch generator failed:"
            f" {describe(cause) if cause is not None else exc}"
        )
        return
    differs = next((i for i, (a, b) in enumerate(zip(batch, lines, strict=True)) if a != b), None)
    if differs is not None:
        out.problems.append(
            f"template {template.name!r}: its batch generator disagrees with its per-sample"
            f" generator on sample {differs}: batch {batch[differs][:300]}; per-sample"
            f" {lines[differs][:300]}"
        )
        return
    out.passed.append(
        f"template {template.name!r}: its batch generator makes the same {len(lines)} samples"
    )


def check_own_scores(
    template: Template, params: Mapping[str, Any], records: list[dict[str, Any]], out: Outcome
) -> None:
    """Every sample scores 1.0 under the template's own scorer."""
    from cookbook.engine.alignment import alignment_scores

    name, output = template.name, template.output
    inputs = [_inputs(r["slots"], output) for r in records]
    outputs = [r["slots"][output] for r in records]
    try:
        scores = alignment_scores(template, inputs, outputs, params)
    except CookbookError as exc:
        cause = exc.__cause__
        out.problems.append(
            f"template {name!r}: scoring its own samples failed:"
            f" {describe(cause) if cause is not None else exc}"
        )
        return
    bad = [(s, i) for i, s in enumerate(scores) if not s >= _PERFECT]
    if bad:
        score, i = bad[0]
        out.problems.append(
            f"template {name!r}: its own samples must score 1.0 under its scorer, but"
            f" {len(bad)} of {len(scores)} do not; sample {records[i]['index']} scores"
            f" {score:.3f} (inputs: {_short(inputs[i])}; output: {_short(outputs[i])}): the rule"
            " and the scorer disagree"
        )
        return
    scorer = "its scorer" if template.scorer is not None else "the default scorer (F1 vs the rule)"
    out.passed.append(f"template {name!r}: all {len(scores)} samples score 1.0 under {scorer}")


def task_alignment(
    template: Template,
    params: Mapping[str, Any],
    task: Mapping[str, Any],
    out: Outcome,
) -> None:
    """The alignment statistic of the task's records under ``template``."""
    from cookbook.engine.alignment import alignment_scores, summarize
    from cookbook.engine.mixing.sources import example_slots, map_slots

    records = task["records"]
    own = (task.get("template") or "").rpartition(":")[2] == template.name
    example = None if own else example_slots(template, params)
    slots = [r["slots"] if own else map_slots(r["slots"], template, example) for r in records]
    ids = [r["id"] for r in records]
    try:
        scores = alignment_scores(template, slots, [r["answers"] for r in records], params, ids=ids)
    except CookbookError as exc:
        out.problems.append(
            f"template {template.name!r}: its scorer fails on the task's records: {exc} (a"
            " task's records hold only the slots the task reads, never hidden generator slots:"
            " the scorer must work without them)"
        )
        return
    summary = summarize(scores)
    out.alignment = {
        "task": task["name"],
        "template": template.name,
        "records": summary.n,
        "mean": summary.statistic,
        "aligned": sum(s >= _PERFECT for s in scores) / summary.n,
        "ci_low": summary.ci_low,
        "ci_high": summary.ci_high,
    }
    out.passed.append(
        f"template {template.name!r}: alignment on {summary.n} records of task"
        f" {task['name']!r} computed: mean {summary.statistic:.4f}"
    )


def _inputs(slots: Mapping[str, Any], output: str) -> dict[str, Any]:
    return {k: v for k, v in slots.items() if k != output}


def _slots_of(line: str) -> Any:
    return json.loads(line)["slots"]


def _short(value: Any, width: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= width else text[: width - 1] + "…"

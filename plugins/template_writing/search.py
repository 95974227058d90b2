"""Alignment-guided search: the template spec whose rule real task records follow best.

The search looks at the records' slots and answers, enumerates candidate specs over the
spec primitives (which slot is the source, which operation, k, side, threshold...) and
evaluates them on the records: a candidate's score is the alignment statistic (the mean
score of the records' gold answers under its template's scorer). It evaluates at most
``budget`` specs: a seeded sample of the whole space first, then mutations of the best so
far (a neighbouring k, side, threshold, source slot), so the same records and seed always
give the same results. Ties go to the more specific spec (a smaller k, one side).
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cookbook import CookbookError, TaskRecord, template_from_spec
from cookbook.engine import alignment_scores

#: What a searched spec's description says of where it came from.
SEARCHED = "found by alignment-guided search"
#: Specs evaluated unless told otherwise.
DEFAULT_BUDGET = 120
#: Share of the budget spent on the seeded sample of the space; the rest evolves the best.
EXPLORE = 0.5
_KS = tuple(range(1, 11))
_THRESHOLDS = tuple(round(0.01 * i, 2) for i in range(1, 100))
_TOKEN_OPS = ("copy", "reverse", "sort", "first", "last", "count")
_YES_NO = {"yes", "no"}


@dataclass
class SpecResult:
    """A searched spec, its name and its alignment on the records (mean score)."""

    spec: dict[str, Any]
    alignment: float
    name: str
    #: How many records were scored.
    records: int = 0
    #: The choices the spec was made from (operation, slots, k, side, threshold...).
    choices: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Shape:
    """What the records look like: their text slots with word-count ranges, and whether
    every answer is Yes or No."""

    slots: tuple[str, ...]
    lengths: dict[str, tuple[int, int]]
    yes_no: bool
    attributes: int
    #: Share of Yes answers (Yes/No records), and words per attribute value (median, max).
    yes_share: float = 0.5
    value_words: tuple[int, int] = (1, 4)
    #: The records' own prompt format over their slots, when it can be read off their prompts.
    prompt: str | None = None
    #: How the records write Yes and No (their most common casing).
    yes_no_words: tuple[str, str] = ("Yes", "No")


def search_specs(
    records: list[TaskRecord],
    *,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> list[SpecResult]:
    """The specs evaluated on ``records``, best first (at most ``budget`` of them);
    ``progress(1)`` is called after each."""
    if budget < 1:
        raise CookbookError(f"search budget must be at least 1, not {budget}")
    usable = usable_records(records)
    if not usable:
        raise CookbookError("the search needs records with at least one non-empty answer")
    shape = records_shape(records, usable)
    space = candidates(shape)
    if not space:
        need = "two text slots to compare" if shape.yes_no else "a text slot"
        raise CookbookError(
            f"no spec fits these records: {'Yes/No' if shape.yes_no else 'text'} answers need"
            f" {need} (text slots: {', '.join(shape.slots) or 'none'})"
        )
    rng = random.Random(seed)
    order = list(space)
    rng.shuffle(order)
    evaluated: dict[tuple, SpecResult] = {}

    def evaluate(choices: dict[str, Any]) -> None:
        key = _key(choices)
        if key in evaluated or len(evaluated) >= budget:
            return
        evaluated[key] = score_spec(choices, shape, usable)
        if progress is not None:
            progress(1)

    explore = len(order) if len(order) <= budget else max(1, int(budget * EXPLORE))
    for choices in order[:explore]:
        evaluate(choices)
    space_keys = {_key(c) for c in space}
    while len(evaluated) < min(budget, len(space)):
        before = len(evaluated)
        for best in ranked(evaluated.values())[:3]:
            for neighbour in neighbours(best.choices, shape):
                if _key(neighbour) in space_keys:
                    evaluate(neighbour)
        if len(evaluated) == before:  # the best ones' neighbours are all done: sample more
            fresh = [c for c in order if _key(c) not in evaluated]
            for choices in fresh[: max(1, budget // 10)]:
                evaluate(choices)
    return ranked(evaluated.values())


def ranked(results: Sequence[SpecResult] | Any) -> list[SpecResult]:
    """Best first: higher alignment, then the more specific spec, then by name."""
    return sorted(results, key=lambda r: (-r.alignment, _breadth(r.choices), r.name))


def _breadth(choices: dict[str, Any]) -> int:
    return int(choices.get("k", 0))


def usable_records(records: Sequence[TaskRecord]) -> list[tuple[dict[str, Any], list[str]]]:
    """The slots and non-empty answers of the records that have any: what the search reads."""
    usable = [(r.slots, _answers(r)) for r in records]
    return [(slots, answers) for slots, answers in usable if answers]


def records_shape(
    records: Sequence[TaskRecord], usable: list[tuple[dict[str, Any], list[str]]]
) -> Shape:
    """The shape of the records (``usable`` is ``usable_records(records)``), with their own
    prompt format where it can be read off their prompts."""
    return replace(describe(usable), prompt=records_prompt(records))


def _answers(record: TaskRecord) -> list[str]:
    answers = record.answers if isinstance(record.answers, list) else [record.answers]
    return [str(a) for a in answers if a is not None and str(a).strip()]


def _key(choices: dict[str, Any]) -> tuple:
    return tuple(sorted(choices.items()))


def describe(usable: list[tuple[dict[str, Any], list[str]]]) -> Shape:
    """The shape of the records (the first record's slot names; text slots only)."""
    names = [n for n, v in usable[0][0].items() if isinstance(v, str)]
    lengths = {}
    for name in names:
        counts = [len(str(slots.get(name, "")).split()) for slots, _ in usable]
        lengths[name] = (max(1, min(counts)), max(1, max(counts)))
    yes_no = all(a.strip().lower() in _YES_NO for _, answers in usable for a in answers)
    attributes = _attribute_count(usable, names)
    firsts = [answers[0].strip().lower() for _, answers in usable]
    yes_share = round(firsts.count("yes") / len(firsts), 2)
    lower = sum(a.strip() in ("yes", "no") for _, answers in usable for a in answers[:1])
    words = ("yes", "no") if yes_no and lower > len(usable) / 2 else ("Yes", "No")
    return Shape(
        tuple(names),
        lengths,
        yes_no,
        attributes,
        yes_share,
        _value_words(usable, names),
        yes_no_words=words,
    )


def records_prompt(records: Sequence[TaskRecord], checked: int = 20) -> str | None:
    """The format string the records' prompts were rendered from (each text slot's value
    replaced by ``{slot}``), when one format renders at least 80% of the first ``checked``
    records' prompts exactly; else None."""
    formats = []
    for record in records[:checked]:
        fmt = _prompt_format(record.prompt, record.slots) if record.prompt else None
        if fmt is not None:
            formats.append(fmt)
    if not formats:
        return None
    best, count = Counter(formats).most_common(1)[0]
    return best if count >= 0.8 * min(len(records), checked) else None


def _prompt_format(prompt: str, slots: dict[str, Any]) -> str | None:
    """``prompt`` with each text slot's value replaced by ``{slot}`` (longest values first,
    each at its first free place), if that format renders ``prompt`` exactly."""
    claimed: list[tuple[int, int, str]] = []
    texts = [(n, v) for n, v in slots.items() if isinstance(v, str) and v]
    for name, value in sorted(texts, key=lambda item: -len(item[1])):
        start = prompt.find(value)
        while start >= 0 and any(a < start + len(value) and start < b for a, b, _ in claimed):
            start = prompt.find(value, start + 1)
        if start < 0:
            return None
        claimed.append((start, start + len(value), name))
    pieces, at = [], 0
    for start, end, name in sorted(claimed):
        pieces.append(prompt[at:start].replace("{", "{{").replace("}", "}}") + f"{{{name}}}")
        at = end
    fmt = "".join(pieces) + prompt[at:].replace("{", "{{").replace("}", "}}")
    try:
        return fmt if fmt.format_map(slots) == prompt else None
    except (KeyError, IndexError, ValueError):
        return None


def _attribute_count(usable: list[tuple[dict[str, Any], list[str]]], names: list[str]) -> int:
    """The median number of ``name: value`` attributes in the records' first slot."""
    if not names:
        return 0
    counts = [str(slots.get(names[0], "")).count(": ") for slots, _ in usable]
    return int(statistics.median(counts)) if counts else 0


def _value_words(
    usable: list[tuple[dict[str, Any], list[str]]], names: list[str]
) -> tuple[int, int]:
    """Words per attribute value in the records' first slot: (median, 90th percentile)."""
    if not names:
        return (1, 4)
    counts = sorted(
        len(part.split(": ", 1)[1].split())
        for slots, _ in usable
        for part in str(slots.get(names[0], "")).split(". ")
        if ": " in part
    )
    if not counts:
        return (1, 4)
    return max(1, counts[len(counts) // 2]), max(1, counts[(len(counts) * 9) // 10])


def candidates(shape: Shape) -> list[dict[str, Any]]:
    """Every candidate's choices, in a fixed order."""
    out: list[dict[str, Any]] = []
    if shape.yes_no:
        for left in shape.slots:
            for right in shape.slots:
                if left == right:
                    continue
                # records: compared both ways alike; texts: one's words looked up in the other
                ops = (
                    ("record_overlap", "attribute_agreement") if shape.attributes else ("coverage",)
                )
                if shape.attributes and left > right:
                    continue
                for op in ops:
                    for threshold in _THRESHOLDS:
                        out.append({"op": op, "left": left, "right": right, "threshold": threshold})
        return out
    for document in shape.slots:
        for question in shape.slots:
            if question == document:
                continue
            for side in ("before", "after"):
                for k in _KS:
                    out.append(
                        {"op": "span", "document": document, "question": question}
                        | {"side": side, "k": k}
                    )
    for source in shape.slots:
        for op in _TOKEN_OPS:
            ks = _KS if op in ("first", "last") else (0,)
            for k in ks:
                out.append({"op": op, "source": source, "k": k})
    return out


def neighbours(choices: dict[str, Any], shape: Shape) -> list[dict[str, Any]]:
    """Specs one step away: k or threshold one notch either way, the other side, the
    other operation of the same kind."""
    out = []
    if "k" in choices and choices["k"]:
        out += [choices | {"k": k} for k in (choices["k"] - 1, choices["k"] + 1) if k in _KS]
    if "side" in choices:
        out.append(choices | {"side": "after" if choices["side"] == "before" else "before"})
    if "threshold" in choices:
        index = _THRESHOLDS.index(choices["threshold"])
        out += [
            choices | {"threshold": _THRESHOLDS[i]}
            for i in (index - 1, index + 1)
            if 0 <= i < len(_THRESHOLDS)
        ]
        if choices["op"] == "coverage":
            out.append(choices | {"left": choices["right"], "right": choices["left"]})
        else:
            other = {"record_overlap": "attribute_agreement"}.get(choices["op"], "record_overlap")
            out.append(choices | {"op": other})
    if choices["op"] in ("first", "last"):
        out.append(choices | {"op": "last" if choices["op"] == "first" else "first"})
    return out


def score_spec(
    choices: dict[str, Any], shape: Shape, usable: list[tuple[dict[str, Any], list[str]]]
) -> SpecResult:
    """The spec of ``choices`` and its alignment on the records."""
    spec = make_spec(choices, shape)
    template = template_from_spec(spec)
    try:
        scores = alignment_scores(template, [s for s, _ in usable], [a for _, a in usable])
    except CookbookError:  # the records lack a slot the spec reads: it does not fit them
        scores = [0.0]
    return SpecResult(spec, sum(scores) / len(scores), spec["name"], len(usable), choices)


def spec_name(choices: dict[str, Any]) -> str:
    """A name saying what the spec does, e.g. ``span_after_k2``."""
    op = choices["op"]
    if op == "span":
        return (
            f"span_{choices['side']}_k{choices['k']}_{choices['question']}_in_{choices['document']}"
        )
    if "threshold" in choices:
        percent = round(choices["threshold"] * 100)
        return f"{op}_{percent}_{choices['left']}_{choices['right']}"
    k = f"_k{choices['k']}" if choices["k"] else ""
    return f"{op}{k}_{choices['source']}"


def make_spec(
    choices: dict[str, Any], shape: Shape, origin: str | None = SEARCHED
) -> dict[str, Any]:
    """The template spec of one candidate's choices, prompted as the records are where their
    prompt format names only the spec's slots; its description says its ``origin``."""
    op = choices["op"]
    if op == "span":
        spec = _span_spec(choices, shape)
    elif op == "coverage":
        spec = _coverage_spec(choices, shape)
    elif "threshold" in choices:
        spec = _comparison_spec(choices, shape)
    else:
        spec = _token_spec(choices, shape)
    if shape.prompt is not None and set(_fields(shape.prompt)) <= set(spec["slots"]):
        spec["prompt"] = shape.prompt
    spec["description"] += f" ({origin})." if origin else "."
    return {"spec": 1, "name": spec_name(choices), **spec}


def _fields(fmt: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(fmt) if f]


def _clamp(low: int, high: int, floor: int, ceiling: int) -> tuple[int, int]:
    low = min(max(low, floor), ceiling)
    return low, min(max(high, low), ceiling)


def _span_spec(choices: dict[str, Any], shape: Shape) -> dict[str, Any]:
    document, question, side, k = (choices[n] for n in ("document", "question", "side", "k"))
    max_q = _clamp(*shape.lengths[question], 1, 20)
    min_words, max_words = _clamp(*shape.lengths[document], max_q[1] + k, 400)
    position = "position" if "position" not in shape.slots else "span_position"
    after = side == "after"
    return {
        "family": "search",
        "description": (
            f"The answer is the {k} word(s) right {side} the span of {document} that"
            f" {question} repeats"
        ),
        "params": {
            "min_words": {"type": "integer", "minimum": 1, "default": min_words},
            "max_words": {"type": "integer", "minimum": 1, "default": max_words},
            "min_question": {"type": "integer", "minimum": 1, "default": max_q[0]},
            "max_question": {"type": "integer", "minimum": 1, "default": max_q[1]},
            "k": {"type": "integer", "minimum": 1, "default": k},
        },
        "draws": [
            {"let": "shortest", "value": {"max": ["$min_words", {"add": ["$max_question", "$k"]}]}},
            {"let": "length", "randint": ["$shortest", {"max": ["$max_words", "$shortest"]}]},
            {"let": "words", "tokens": "$length"},
            {"let": "span", "randint": ["$min_question", "$max_question"]},
            {
                "let": "start",
                "randint": (
                    [0, {"sub": ["$length", "$span", "$k"]}]
                    if after
                    else ["$k", {"sub": ["$length", "$span"]}]
                ),
            },
        ],
        "slots": {
            document: {"join": "$words"},
            question: {"join": {"slice": ["$words", "$start", "$span"]}},
            position: "$start",
        },
        "rule": {
            "join": (
                {"after": [f"${document}", f"${position}", {"count": f"${question}"}, "$k"]}
                if after
                else {"before": [f"${document}", f"${position}", "$k"]}
            )
        },
        "prompt": f"{document}: {{{document}}}\n{question}: {{{question}}}\nAnswer:",
        "completion": " {answer}",
        "scorer": {
            "name": "span_f1",
            "document": document,
            "question": question,
            "position": position,
            "k": "$k",
            "side": side,
        },
    }


def _comparison_spec(choices: dict[str, Any], shape: Shape) -> dict[str, Any]:
    left, right, op, threshold = (choices[n] for n in ("left", "right", "op", "threshold"))
    attributes = min(max(shape.attributes, 1), 10)
    max_value = min(max(shape.value_words[1], 1), 20)
    positives = min(max(shape.yes_share, 0.05), 0.95)
    yes, no = shape.yes_no_words
    want_yes = {"eq": ["$want", yes]}
    perturbed = {"or": [want_yes, "$hard"]}
    return {
        "family": "comparison",
        "description": (
            f"{yes} when the {op.replace('_', ' ')} of {left} and {right} reaches {threshold}"
        ),
        "params": {
            "attributes": {"type": "integer", "minimum": 1, "maximum": 100, "default": attributes},
            "min_value": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
            "max_value": {"type": "integer", "minimum": 1, "maximum": 100, "default": max_value},
            "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": threshold},
            "positives": {"type": "number", "minimum": 0, "maximum": 1, "default": positives},
            "hard_negatives": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        },
        # entity_matching's generator (examples/specs/entity_matching.yaml) over this rule
        "draws": [
            {"let": "names", "distinct_tokens": "$attributes"},
            {
                "let": "values",
                "each": {
                    "over": "$names",
                    "steps": [
                        {
                            "let": "n",
                            "randint": ["$min_value", {"max": ["$min_value", "$max_value"]}],
                        },
                        {"let": "value", "tokens": "$n"},
                    ],
                    "result": "$value",
                },
            },
            {"let": "size", "value": {"count": {"flatten": "$values"}}},
            {"let": "draw", "random": True},
            {"let": "want", "value": {"if": [{"lt": ["$draw", "$positives"]}, yes, no]}},
            {"let": "draw", "when": {"eq": ["$want", no]}, "random": True},
            {
                "let": "hard",
                "value": {"and": [{"eq": ["$want", no]}, {"lt": ["$draw", "$hard_negatives"]}]},
            },
            {"let": "allowed", "value": {"int": {"mul": ["$size", {"sub": [1, "$threshold"]}]}}},
            {
                "repeat": {
                    "times": 32,
                    "steps": [
                        {"let": "edits", "when": want_yes, "randint": [0, "$allowed"]},
                        {
                            "let": "edits",
                            "when": {"and": [{"not": want_yes}, "$hard"]},
                            "randint": [{"add": ["$allowed", 1]}, "$size"],
                        },
                        {"let": "other", "when": perturbed, "edit": ["$values", "$edits"]},
                        {
                            "let": "other",
                            "when": {"not": perturbed},
                            "each": {
                                "over": "$values",
                                "steps": [{"let": "value", "tokens": {"count": "$item"}}],
                                "result": "$value",
                            },
                        },
                    ],
                    "until": {
                        "eq": [
                            {
                                "rule": {
                                    left: {"record": ["$names", "$values"]},
                                    right: {"record": ["$names", "$other"]},
                                }
                            },
                            "$want",
                        ]
                    },
                }
            },
        ],
        "slots": {
            left: {"record": ["$names", "$values"]},
            right: {"record": ["$names", "$other"]},
        },
        "rule": {"if": [{"ge": [{op: [f"${left}", f"${right}"]}, "$threshold"]}, yes, no]},
        "prompt": f"{left}: {{{left}}}\n{right}: {{{right}}}\nThe same? {yes} or {no}?",
        "completion": " {answer}",
        "scorer": "yes_no",
    }


def _coverage_spec(choices: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """Yes when at least ``threshold`` of the words of slot ``left`` occur in slot ``right``:
    ``left`` is a span of ``right`` with a share of its words replaced (less than 1 -
    threshold for Yes, more for No), redrawn until the rule gives the drawn label."""
    left, right, threshold = choices["left"], choices["right"], choices["threshold"]
    yes, no = shape.yes_no_words
    low, high = _clamp(*shape.lengths[right], 5, 400)
    short, long = _clamp(*shape.lengths[left], 1, min(low, 50))
    positives = min(max(shape.yes_share, 0.05), 0.95)
    want_yes = {"eq": ["$want", yes]}
    kept = {"sub": [1, "$threshold"]}
    return {
        "family": "comparison",
        "description": (f"{yes} when at least {threshold} of the words of {left} occur in {right}"),
        "params": {
            "min_words": {"type": "integer", "minimum": 1, "default": low},
            "max_words": {"type": "integer", "minimum": 1, "default": high},
            "min_asked": {"type": "integer", "minimum": 1, "default": short},
            "max_asked": {"type": "integer", "minimum": 1, "default": long},
            "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": threshold},
            "positives": {"type": "number", "minimum": 0, "maximum": 1, "default": positives},
        },
        "draws": [
            {"let": "length", "randint": ["$min_words", {"max": ["$min_words", "$max_words"]}]},
            {"let": "words", "tokens": "$length"},
            {
                "let": "size",
                "randint": [
                    {"min": ["$min_asked", "$length"]},
                    {"min": [{"max": ["$min_asked", "$max_asked"]}, "$length"]},
                ],
            },
            {"let": "draw", "random": True},
            {"let": "want", "value": {"if": [{"lt": ["$draw", "$positives"]}, yes, no]}},
            {
                "repeat": {
                    "times": 32,
                    "steps": [
                        {"let": "start", "randint": [0, {"sub": ["$length", "$size"]}]},
                        {"let": "draw", "random": True},
                        {
                            "let": "rate",
                            "value": {
                                "if": [
                                    want_yes,
                                    {"mul": ["$draw", kept]},
                                    {"add": [kept, {"mul": ["$draw", "$threshold"]}]},
                                ]
                            },
                        },
                        {"let": "asked", "value": {"slice": ["$words", "$start", "$size"]}},
                        {"let": "asked", "noise": ["$asked", "$rate"]},
                    ],
                    "until": {
                        "eq": [
                            {"rule": {left: {"join": "$asked"}, right: {"join": "$words"}}},
                            "$want",
                        ]
                    },
                }
            },
        ],
        "slots": {right: {"join": "$words"}, left: {"join": "$asked"}},
        "rule": {"if": [{"ge": [{"coverage": [f"${left}", f"${right}"]}, "$threshold"]}, yes, no]},
        "prompt": f"{right}: {{{right}}}\n{left}: {{{left}}}\n{yes} or {no}?",
        "completion": " {answer}",
        "scorer": "yes_no",
    }


def _token_spec(choices: dict[str, Any], shape: Shape) -> dict[str, Any]:
    op, source, k = choices["op"], choices["source"], choices["k"]
    low, high = _clamp(*shape.lengths[source], max(1, k), 50)
    value = f"${source}"
    rule: Any = {
        "copy": {"join": value},
        "reverse": {"join": {"reverse": value}},
        "sort": {"join": {"sort": value}},
        "first": {"join": {"first": [value, "$k"]}},
        "last": {"join": {"last": [value, "$k"]}},
        "count": {"count": value},
    }[op]
    params: dict[str, Any] = {
        "min_words": {"type": "integer", "minimum": 1, "default": low},
        "max_words": {"type": "integer", "minimum": 1, "default": high},
    }
    if k:
        params["k"] = {"type": "integer", "minimum": 1, "default": k}
    what = {"copy": "copied", "reverse": "reversed", "sort": "sorted", "count": "counted"}
    how = what.get(op, f"{op} {k}")
    return {
        "family": "composition" if op in ("reverse", "sort") else "selection",
        "description": f"The words of {source}, {how}",
        "params": params,
        "draws": [
            {"let": "length", "randint": ["$min_words", {"max": ["$min_words", "$max_words"]}]},
            {"let": "words", "tokens": "$length"},
        ],
        "slots": {source: {"join": "$words"}},
        "rule": rule,
        "prompt": f"{source}: {{{source}}}\nAnswer:",
        "completion": " {answer}",
        "scorer": "exact",
    }

"""``write-template --rule``: the writer chooses a rule, not a whole spec. Its reply is a small
JSON object (an operation from the search's families, the slots it reads, k or a threshold),
validated against a JSON Schema; Cookbook builds the spec from it as the search builds its
candidates, so a small model only has to map a description to a few fields."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsonschema
import yaml

from cookbook import TaskRecord
from cookbook_plugins.template_writing.search import (
    Shape,
    make_spec,
    records_shape,
    usable_records,
)

#: What each operation does, as the writer is told.
OPERATIONS = {
    "span": "the answer is the k words right before or after the place where slot `document`"
    " repeats slot `question` (reading comprehension by position)",
    "copy": "the answer is slot `source` itself",
    "reverse": "the answer is the words of slot `source` in reverse order",
    "sort": "the answer is the words of slot `source` sorted alphabetically",
    "first": "the answer is the first k words of slot `source`",
    "last": "the answer is the last k words of slot `source`",
    "count": "the answer is how many words slot `source` has",
    "coverage": "Yes when at least `threshold` of the words of slot `left` occur in slot"
    " `right` (is one text's wording in the other?), else No",
    "record_overlap": "Yes when the values of two `name: value` records `left` and `right`"
    " share at least `threshold` of their words (token F1), else No",
    "attribute_agreement": "Yes when two `name: value` records `left` and `right` agree"
    " attribute by attribute (mean token F1) at least `threshold`, else No",
}
_TOKEN_OPS = ("copy", "reverse", "sort", "first", "last", "count")
_COMPARISONS = ("coverage", "record_overlap", "attribute_agreement")
#: Word counts of a slot when no records say (by the role the slot plays).
_DEFAULT_LENGTHS = {
    "source": (3, 12),
    "document": (40, 120),
    "question": (2, 6),
    "left": (3, 8),
    "right": (20, 60),
}
_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}

EXAMPLES = (
    (
        "The answer is the words of the sentence in reverse order.",
        {"op": "reverse", "source": "sentence"},
    ),
    (
        "Given a passage and a question, the answer is the two words after the question's"
        " words in the passage.",
        {"op": "span", "document": "passage", "question": "question", "side": "after", "k": 2},
    ),
    (
        "Is the claim stated in the text? Yes when nearly all of the claim's words are in it.",
        {"op": "coverage", "left": "claim", "right": "text", "threshold": 0.9},
    ),
)


def rule_schema(slots: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON Schema of a rule choice; its slot names restricted to ``slots`` when given."""
    name = {"enum": list(slots)} if slots else _NAME
    k = {"type": "integer", "minimum": 1, "maximum": 10}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "A rule choice",
        "oneOf": [
            _object({"op": {"const": "span"}, "document": name, "question": name,
                     "side": {"enum": ["before", "after"]}, "k": k}),
            _object({"op": {"enum": ["copy", "reverse", "sort", "count"]}, "source": name}),
            _object({"op": {"enum": ["first", "last"]}, "source": name, "k": k}),
            _object({"op": {"enum": list(_COMPARISONS)}, "left": name, "right": name,
                     "threshold": {"type": "number", "minimum": 0.01, "maximum": 0.99}}),
        ],
    }  # fmt: skip


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def rule_messages(
    description: str, records: Sequence[TaskRecord] = (), task: str | None = None
) -> list[dict[str, str]]:
    """The first try's chat of ``--rule``: the operations and the schema, worked examples as
    earlier turns (a small model follows turns better than text), then the task."""
    from cookbook_plugins.template_writing.prompts import render_records

    slots = _slots(records)
    system = "\n".join(
        [
            "You choose the rule of a Cookbook template: how a task's answer follows from its"
            " input slots. Cookbook builds the template (random inputs, the rule, a prompt) from"
            " your choice. The operations:",
            *(f"- {op}: {what}" for op, what in OPERATIONS.items()),
            "",
            "Reply with one JSON object in a ```json fenced block, valid against this JSON Schema:",
            f"```json\n{json.dumps(rule_schema(slots))}\n```",
        ]
    )
    messages = [{"role": "system", "content": system}]
    for example, choice in EXAMPLES:
        messages += [
            {"role": "user", "content": f"Task: {example}"},
            {"role": "assistant", "content": f"```json\n{json.dumps(choice)}\n```"},
        ]
    user = f"Task: {description.strip()}"
    if records:
        named = f" {task!r}" if task else ""
        user += f"\n\nReal records of the task{named}:\n" + render_records(records)
    if slots:
        user += f"\n\nIts input slots are: {', '.join(slots)}. Use only these names."
    user += "\n\nReply with the rule as one JSON object in a ```json block."
    return [*messages, {"role": "user", "content": user}]


def _slots(records: Sequence[TaskRecord]) -> list[str]:
    """The text slots of the first record with an answer (the one the shape is read off)."""
    usable = usable_records(records)
    return [n for n, v in usable[0][0].items() if isinstance(v, str)] if usable else []


def spec_from_choice(text: str, records: Sequence[TaskRecord] = ()) -> tuple[str | None, list[str]]:
    """The spec (YAML) a writer's rule choice makes, or None and the problems with it: what
    is not JSON, or each schema error with its JSON path."""
    try:
        choice = json.loads(text)
    except json.JSONDecodeError as json_error:
        try:  # YAML reads JSON a writer dropped a quote or two from
            choice = yaml.safe_load(text)
        except yaml.YAMLError:
            return None, [f"the reply's block is not a JSON object: {json_error}"]
    if not isinstance(choice, dict):
        return None, [f"the reply's block is {_json_kind(choice)}, not a JSON object"]
    slots = _slots(records)
    problems = _schema_problems(choice, slots)
    if problems:
        return None, problems
    if choice["op"] in _COMPARISONS and choice["left"] == choice["right"]:
        return None, ["left and right must be two different slots"]
    if choice["op"] == "span" and choice["document"] == choice["question"]:
        return None, ["document and question must be two different slots"]
    choice = _canonical(choice)
    shape = _shape(choice, records)
    chosen = {role: choice[role] for role in _DEFAULT_LENGTHS if role in choice}
    unknown = [
        f"{role}: {slot!r} is not a text slot of the task's records"
        f" (they have: {', '.join(shape.slots) or 'none'})"
        for role, slot in chosen.items()
        if slot not in shape.lengths
    ]
    if unknown:
        return None, unknown
    spec = make_spec(choice, shape, origin="a rule a writer chose")
    taken = {*spec.get("params", {}), spec.get("output", "answer")}  # what the rule reads
    clashes = [
        f"{role}: slot {slot!r} has the name of one of the spec's parameters or its"
        f" output, which the rule would read instead ({', '.join(sorted(taken))} are taken)"
        for role, slot in chosen.items()
        if slot in taken
    ]
    if clashes:
        return None, clashes
    return yaml.safe_dump(spec, sort_keys=False), []


def _json_kind(value: Any) -> str:
    """What ``value`` is, in JSON's words (``an array``, not ``a list``)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def _schema_problems(choice: dict[str, Any], slots: Sequence[str]) -> list[str]:
    op = choice.get("op")
    branch = next(
        (b for b in rule_schema(slots)["oneOf"] if _accepts(b["properties"]["op"], op)), None
    )
    if branch is None:
        return [f"op: {op!r} is not one of {', '.join(OPERATIONS)}"]
    validator = jsonschema.Draft202012Validator(branch)
    errors = sorted(validator.iter_errors(choice), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors]


def _accepts(schema: dict[str, Any], value: Any) -> bool:
    return value == schema.get("const") or value in schema.get("enum", ())


def _canonical(choice: dict[str, Any]) -> dict[str, Any]:
    """The choice as the search writes its candidates (k an int, 0 where no k: JSON Schema's
    integer takes 2.0; two-place thresholds)."""
    if choice["op"] in _TOKEN_OPS:
        return {"op": choice["op"], "source": choice["source"], "k": int(choice.get("k", 0))}
    if choice["op"] in _COMPARISONS:
        return {**choice, "threshold": round(float(choice["threshold"]), 2)}
    return {**choice, "k": int(choice["k"])}


def _shape(choice: dict[str, Any], records: Sequence[TaskRecord]) -> Shape:
    """The records' shape (lengths, prompt, Yes/No casing), or defaults by each slot's role."""
    usable = usable_records(records)
    if usable:
        return records_shape(records, usable)
    lengths = {
        choice[role]: default for role, default in _DEFAULT_LENGTHS.items() if role in choice
    }
    comparison = choice["op"] in _COMPARISONS
    attributes = 3 if choice["op"] in ("record_overlap", "attribute_agreement") else 0
    return Shape(tuple(lengths), lengths, comparison, attributes)

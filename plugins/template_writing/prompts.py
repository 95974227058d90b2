"""What a writer is asked, and what is taken from its reply: the template contract, one or two
built-in templates as examples, the description and a few task records; the code (or spec) in
the reply's fenced block; the check's problems for the next try."""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cookbook
from cookbook import TaskRecord, get_registry
from cookbook_plugins.template_writing import package_files

#: Built-in templates shown as examples of the module form, when installed.
EXAMPLE_TEMPLATES = ("retrieval",)
#: Longest text of one slot shown from a task record.
SLOT_CHARS = 400

MODULE_CONTRACT = """\
You write Cookbook templates. A template makes training data for a language model from random \
tokens: a generator draws the input slots, a rule computes the answer from them, and a prompt \
format renders them. It is one Python module:

- `@template(family=..., prompt="... {slot} ...", rule=rule, scorer=optional)` from `cookbook` \
decorates a generator `def name(rng, tokens, **params)` that returns a dict of input slots \
(strings, numbers, lists). `family` is one of selection, search, comparison, composition.
- Use only `rng` for randomness (a `random.Random`: randint, choice, sample, shuffle, random) and \
`tokens` for words: `tokens.draw(rng, k)` gives k random words (a list), \
`tokens.distinct(rng, k)` k different words, `tokens.text(rng, k)` k words joined by spaces. \
The same rng gives the same sample.
- `rule(slots, **params)` returns the answer (a string); the completion format is " {answer}" \
and the prompt names the input slots as {slot}.
- Parameters are the generator's keyword parameters after rng and tokens, with defaults; \
`Annotated[int, Param("what it is", minimum=1, maximum=100)]` documents and bounds one.
- An optional `scorer(slots, output, **params)` returns a number in [0, 1]: does `output` \
follow the rule for these inputs (default: token F1 against the rule's answer). It must also \
work on real task records, whose slots lack hidden generator slots.
- End with `@hookimpl def register_templates(register): register(name)`.
- Import only from `cookbook`, `typing` and the standard library; no files, network, \
subprocesses or global state. Extra data (a word list) goes in the module as a constant.

Cookbook checks the module in a sandbox: it must import, its defaults validate, the same seed \
and index give the same sample in two processes and different seeds differ, every sample's \
own answer scores 1.0 under its scorer over a few hundred samples, and every slot its prompt \
names exists and renders to non-empty text.

Reply with the whole module in one ```python fenced block."""

SPEC_CONTRACT = """\
You write Cookbook template specs: declarative YAML that composes Cookbook's built-in, trusted \
primitives (token spans and how they are sampled, operations on them, a prompt format and an \
answer format); Cookbook builds the generator and the scorer from it. Nothing in a spec is \
code. The draws make random input slots from random words; the rule computes the answer from \
the slots; every sample's answer must score 1.0 under the scorer.

{reference}

Reply with the whole spec in one ```yaml fenced block."""


def template_sources() -> list[tuple[str, str]]:
    """(name, module source) of the example templates: the installed built-ins of
    ``EXAMPLE_TEMPLATES`` and the scaffold's own example."""
    sources = []
    registry = get_registry()
    for name in EXAMPLE_TEMPLATES:
        try:
            generate = registry.get("templates", name).generate
            sources.append((name, inspect.getsource(sys.modules[generate.__module__])))
        except (cookbook.CookbookError, OSError, TypeError, KeyError):
            continue
    example = package_files.TEMPLATE_MODULE.replace("__NAME__", "reverse_words")
    return [("reverse_words", example), *sources]


def spec_reference(schema: Mapping[str, Any] | None = None) -> str:
    """The spec format in a page, read off the shipped JSON Schema: its keys, its draw step
    kinds and its expression operators, each with its description (a writer needs this, not
    the schema's 10,000 characters of JSON)."""
    schema = cookbook.spec_schema() if schema is None else schema
    lines = ["A spec is one YAML mapping with these keys:"]
    for key, value in schema.get("properties", {}).items():
        choices = value.get("enum") or value.get("const")
        what = value.get("description") or ""
        if key == "scorer":
            names = value.get("anyOf", [{}])[0].get("enum", [])
            what += f" One of {', '.join(names)}."
        elif isinstance(choices, list):
            what += f" One of {', '.join(map(str, choices))}."
        elif choices is not None:
            what += f" Always {choices}."
        lines.append(f"- {key}: {what}".rstrip())
    defs = schema.get("$defs", {})
    steps = defs.get("step", {}).get("properties", {})
    lines += [
        "",
        "A draw step is a mapping `{let: NAME, KIND: ARGUMENTS}` with one of these kinds:",
    ]
    for kind, value in steps.items():
        if kind not in ("let", "when", "otherwise"):
            lines.append(f"- {kind}: {value.get('description', '')}")
    for key in ("when", "otherwise"):
        if key in steps:
            lines.append(f"- (optional) {key}: {steps[key].get('description', '')}")
    expression = defs.get("expression", {})
    lines += ["", f"Expressions: {expression.get('description', '')}", "Operators:"]
    operators = next(
        (
            branch.get("properties", {})
            for branch in expression.get("anyOf", [])
            if isinstance(branch, dict) and "propertyNames" in branch
        ),
        {},
    )
    for name, value in operators.items():
        lines.append(f"- {name}: {value.get('description', '')}")
    lines.append(
        "Arguments are a list in order (`{after: [$words, $start, 3, $k]}`) or a mapping by"
        " name; `$name` is a parameter, an earlier draw or, in the rule, an input slot."
    )
    return "\n".join(lines)


def spec_examples(records: Sequence[TaskRecord] = ()) -> list[tuple[str, str]]:
    """(name, YAML) of short example specs fitting the records' answers: specs the search makes
    (always valid) for a token operation and a Yes/No text comparison (a record comparison for
    ``name: value`` records), and the built-in document_qa's spec when the source tree is
    beside the package; Yes/No records get only comparisons, other records no comparison."""
    import yaml

    from cookbook_plugins.template_writing.search import (
        Shape,
        describe,
        make_spec,
        usable_records,
    )

    yes_no, attributes = False, 0
    usable = usable_records(records)
    if usable:
        shape = describe(usable)
        yes_no, attributes = shape.yes_no, shape.attributes
    lengths = {"text": (3, 12), "a": (3, 8), "b": (20, 60)}
    shape = Shape(("text", "a", "b"), lengths, True, 3, yes_no_words=("Yes", "No"))
    token = make_spec({"op": "last", "source": "text", "k": 2}, shape, origin=None)
    text = make_spec(
        {"op": "coverage", "left": "a", "right": "b", "threshold": 0.8}, shape, origin=None
    )
    pair = make_spec(
        {"op": "record_overlap", "left": "a", "right": "b", "threshold": 0.5}, shape, origin=None
    )
    if not usable:
        made = [token, text]
    elif yes_no:
        made = [text, pair] if attributes else [text]
    else:
        made = [token]

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def dump(spec: dict[str, Any]) -> str:
        return yaml.dump(spec, Dumper=Dumper, sort_keys=False, default_flow_style=None, width=100)

    examples = [(spec["name"], dump(spec)) for spec in made]
    folder = Path(cookbook.__file__).resolve().parents[1] / "examples" / "specs"
    document_qa = folder / "document_qa.yaml"
    if document_qa.is_file() and not yes_no:
        examples.append(("document_qa", document_qa.read_text(encoding="utf-8")))
    return examples


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > SLOT_CHARS:
        return value[:SLOT_CHARS] + " ..."
    if isinstance(value, list):
        return [_clip(v) for v in value[:10]]
    if isinstance(value, dict):
        return {k: _clip(v) for k, v in value.items()}
    return value


def render_records(records: Sequence[TaskRecord]) -> str:
    """Task records as the writer sees them: their input slots and gold answers."""
    lines = []
    for record in records:
        shown = {"slots": _clip(record.slots), "answers": _clip(record.answers[:3])}
        lines.append(json.dumps(shown, ensure_ascii=False, default=str))
    return "\n".join(lines)


def first_messages(
    description: str,
    *,
    spec: bool = False,
    records: Sequence[TaskRecord] = (),
    task: str | None = None,
) -> list[dict[str, str]]:
    """The first try's chat messages: the contract with examples, then the task."""
    if spec:
        system = SPEC_CONTRACT.replace("{reference}", spec_reference())
        examples = [
            f"Spec {name}:\n```yaml\n{text.strip()}\n```" for name, text in spec_examples(records)
        ]
    else:
        system = MODULE_CONTRACT
        examples = [
            f"Template {name}:\n```python\n{text.strip()}\n```" for name, text in template_sources()
        ]
    if examples:
        system += "\n\nExamples:\n\n" + "\n\n".join(examples)
    user = f"Write a template for this task: {description.strip()}"
    if records:
        user += (
            f"\n\nReal records of the task{f' {task!r}' if task else ''} (the slots are the"
            " template's input slots; the answers follow the rule):\n" + render_records(records)
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def retry_messages(
    messages: list[dict[str, str]], reply: str, problems: Sequence[str], what: str = "module"
) -> list[dict[str, str]]:
    """The next try's messages: the first try's, the refused reply and the check's problems
    about the ``what`` it wrote (a module, spec or rule)."""
    feedback = (
        f"Cookbook's check refused this {what}:\n"
        + "\n".join(f"- {p}" for p in problems)
        + f"\n\nFix every problem and reply with the whole corrected {what} in one fenced block."
    )
    return [
        *messages,
        {"role": "assistant", "content": reply},
        {"role": "user", "content": feedback},
    ]


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
#: A line that starts Python code, or a YAML or JSON spec, in a reply without a fence.
_CODE_LINE = re.compile(r"^(def |class |from |import |@)", re.MULTILINE)
_SPEC_LINE = re.compile(r"^([A-Za-z_]+:|\{)", re.MULTILINE)


def extract_source(reply: str, spec: bool = False) -> str | None:
    """The code (or, with ``spec``, the YAML or JSON) in ``reply``: the longest fenced block in
    that language, else the longest fenced block, else the whole reply when it has no fence
    and looks like code (a spec); None when there is none."""
    wanted = ("yaml", "yml", "json") if spec else ("python", "py", "python3")
    blocks = [(lang.lower(), body.strip()) for lang, body in _FENCE.findall(reply)]
    chosen = [body for lang, body in blocks if lang in wanted] or [body for _, body in blocks]
    if chosen:
        return max(chosen, key=len) or None
    looks = (_SPEC_LINE if spec else _CODE_LINE).search(reply)
    return reply.strip() or None if looks and "```" not in reply else None

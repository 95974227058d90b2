"""Reading and validating template specs: the schema first, then what a schema cannot say.

Every problem is one ``CookbookError`` naming the file (and line, for YAML) and the JSON path
of the first problem found.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError, did_you_mean
from cookbook.contract.params import validation_errors
from cookbook.contract.templates import format_fields
from cookbook.specs.expressions import operator_paths, operator_problems, references
from cookbook.specs.scorers import SCORERS
from cookbook.specs.steps import STEP_KEYS, STEP_KINDS

#: File suffixes read as template specs.
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
Where = tuple[Any, ...]


@functools.lru_cache(maxsize=1)
def spec_schema() -> dict[str, Any]:
    """``schemas/template_spec.schema.json`` as shipped."""
    text = resources.files("cookbook.schemas").joinpath("template_spec.schema.json")
    return json.loads(text.read_text("utf-8"))


def is_spec_path(name: str) -> bool:
    """Whether a template name is the path of an existing spec file."""
    return name.lower().endswith(SPEC_SUFFIXES) and Path(name).is_file()


def read_spec(source: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str, dict]:
    """(the spec's data, the label errors start with, JSON path -> line) of ``source``."""
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source)), "template spec", {}
    path = Path(source)
    if path.suffix.lower() not in SPEC_SUFFIXES:
        raise CookbookError(f"{path}: a template spec is a .yaml, .yml or .json file")
    text = _read_text(path)
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text), str(path), {}
        except json.JSONDecodeError as exc:
            raise CookbookError(f"{path}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    import yaml

    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CookbookError(f"{place}: malformed YAML: {problem}") from None
    lines: dict[Where, int] = {}
    if node is not None:
        _node_lines(node, (), lines)
    return data, str(path), lines


#: The largest spec file read.
MAX_BYTES = 1 << 20


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CookbookError(f"{path}: no such file") from None
    except OSError as exc:
        raise CookbookError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise CookbookError(f"{path}: larger than 1 MiB, the most a template spec may hold")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CookbookError(f"{path}:{line}: not UTF-8 text: save it as UTF-8") from None


def _node_lines(node: Any, where: Where, lines: dict[Where, int]) -> None:
    """The 1-based line of every JSON path in a composed YAML node tree."""
    import yaml

    lines[where] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _node_lines(value, (*where, key.value), lines)
            lines[(*where, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, (*where, i), lines)


def _line_of(lines: dict[Where, int], where: Where) -> int | None:
    """The line of ``where`` or of its nearest ancestor that has one."""
    while where not in lines and where:
        where = where[:-1]
    return lines.get(where)


def format_path(where: Where) -> str:
    """``("draws", 1, "randint")`` -> ``draws[1].randint``."""
    text = ""
    for part in where:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def load_spec(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The validated spec at ``source`` (a file path or the spec itself); a bad one raises one
    ``CookbookError`` naming the file and the JSON path of its first problem."""
    data, label, lines = read_spec(source)
    problem = first_problem(data)
    if problem is not None:
        where, message = problem
        line = _line_of(lines, where) if lines else None
        place = f"{label}:{line}" if line else label
        raise CookbookError(f"{place}: {format_path(where)}: {message}")
    return data


def first_problem(data: Any) -> tuple[Where, str] | None:
    """The JSON path and message of the spec's first problem, or None for a good spec."""
    if not isinstance(data, dict):
        return (), f"a template spec is a mapping, not {type(data).__name__}"
    problem = _schema_problem(data)
    if problem is not None:
        return problem
    for check in (_param_problems, _draw_problems, _slot_problems, _scorer_problems):
        problems = check(data)
        if problems:
            return problems[0]
    return None


def _schema_problem(data: dict[str, Any]) -> tuple[Where, str] | None:
    import jsonschema
    from jsonschema.exceptions import best_match

    validator = jsonschema.Draft202012Validator(spec_schema())
    error = best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and error.schema.get("properties"):
        known = list(error.schema["properties"])
        extra = [k for k in error.instance if k not in known]
        if extra:
            hint = did_you_mean(str(extra[0]), known) or f" (known: {', '.join(known)})"
            return where, f"unknown key {extra[0]!r}{hint}"
    if error.validator == "propertyNames" and isinstance(error.instance, dict):
        from cookbook.specs.expressions import OPERATORS

        bad = next((k for k in error.instance if k not in OPERATORS), None)
        if bad is not None:
            return where, f"unknown operator {bad!r}{did_you_mean(str(bad), list(OPERATORS))}"
    if error.validator == "anyOf":
        specific = _specific_problem(where, error.instance)
        if specific is not None:
            return specific
    message = error.message
    if len(message) > 300:
        message = message[:300] + "…"
    return where, message


def _specific_problem(where: Where, instance: Any) -> tuple[Where, str] | None:
    """What is wrong with a value no branch of an ``anyOf`` accepts, said more exactly: a
    step's arguments or an expression's operator."""
    kind = where[-1] if where else None
    if isinstance(kind, str) and kind in STEP_KINDS and len(STEP_KINDS[kind].args) > 1:
        shape = _shape_problem(kind, instance, STEP_KINDS[kind].args)
        if shape is not None:
            return where, shape
    if isinstance(instance, dict):
        problems = operator_problems(instance, where)
        if problems:
            return problems[0]
    return None


def _param_problems(data: dict[str, Any]) -> list[tuple[Where, str]]:
    problems: list[tuple[Where, str]] = []
    for name, schema in (data.get("params") or {}).items():
        for where, message in validation_errors(schema, schema["default"]):
            problems.append((("params", name, "default", *where), f"default: {message}"))
    return problems


def _step_problems(steps: list[Any], bound: set[str], where: Where) -> list[tuple[Where, str]]:
    """Problems of ``steps``, adding the names they bind to ``bound``."""
    problems: list[tuple[Where, str]] = []
    for i, step in enumerate(steps):
        at = (*where, i)
        operations = [k for k in step if k not in STEP_KEYS]
        if len(operations) != 1:
            found = ", ".join(operations) or "none"
            return [*problems, (at, f"a step has exactly one operation ({found} given)")]
        kind = operations[0]
        raw = step[kind]
        problems += _check_expression(step.get("when"), bound, (*at, "when"))
        problems += _check_expression(step.get("otherwise"), bound, (*at, "otherwise"))
        if kind == "each":
            problems += _check_expression(raw["over"], bound, (*at, kind, "over"))
            inner = {*bound, raw.get("as", "item")}
            problems += _step_problems(raw.get("steps", []), inner, (*at, kind, "steps"))
            problems += _check_expression(raw["result"], inner, (*at, kind, "result"))
        elif kind == "repeat":
            problems += _check_expression(raw["times"], bound, (*at, kind, "times"))
            problems += _step_problems(raw["steps"], bound, (*at, kind, "steps"))
            problems += _check_expression(raw.get("until"), bound, (*at, kind, "until"))
        else:
            names = STEP_KINDS[kind].args
            if len(names) > 1:
                shape = _shape_problem(kind, raw, names)
                if shape:
                    problems.append(((*at, kind), shape))
                    continue
            problems += _check_expression(raw, bound, (*at, kind), multi=len(names) > 1)
        if "let" in step:
            bound.add(step["let"])
        elif kind != "repeat":
            problems.append((at, f"a {kind!r} step needs 'let': the name its value is bound to"))
    return problems


def _shape_problem(kind: str, raw: Any, names: tuple[str, ...]) -> str | None:
    if isinstance(raw, dict):
        missing = [n for n in names if n not in raw]
        extra = [k for k in raw if k not in names]
        if extra or missing:
            return f"{kind!r} takes arguments {', '.join(names)}"
        return None
    if isinstance(raw, list) and len(raw) == len(names):
        return None
    return f"{kind!r} takes {len(names)} arguments ({', '.join(names)}) as a list or a mapping"


def _check_expression(
    expr: Any, bound: set[str], where: Where, multi: bool = False
) -> list[tuple[Where, str]]:
    """Unknown operators and names in ``expr`` (``multi``: a list or mapping of arguments)."""
    if expr is None:
        return []
    parts = [(expr, where)]
    if multi and isinstance(expr, dict):
        parts = [(v, (*where, k)) for k, v in expr.items()]
    elif multi and isinstance(expr, list):
        parts = [(v, (*where, i)) for i, v in enumerate(expr)]
    problems: list[tuple[Where, str]] = []
    for part, at in parts:
        problems += operator_problems(part, at)
        for name, ref_at in references(part, at):
            if name not in bound:
                hint = did_you_mean(name, sorted(bound))
                problems.append((ref_at, f"${name} is not defined here{hint}"))
    return problems


def _draw_problems(data: dict[str, Any]) -> list[tuple[Where, str]]:
    bound = set(data.get("params") or {})
    return _step_problems(data.get("draws") or [], bound, ("draws",))


def _drawn_names(data: dict[str, Any]) -> set[str]:
    """The parameters and every name the draw steps bind (their problems were reported)."""
    bound = set(data.get("params") or {})
    _step_problems(data.get("draws") or [], bound, ("draws",))
    return bound


def _slot_problems(data: dict[str, Any]) -> list[tuple[Where, str]]:
    problems: list[tuple[Where, str]] = []
    drawn = _drawn_names(data)
    output = data.get("output", "answer")
    slots = data["slots"]
    if output in slots:
        problems.append((("slots", output), f"{output!r} is the output slot, made by the rule"))
    for name, expr in slots.items():
        problems += _check_expression(expr, drawn, ("slots", name))
    rule_scope = {*(data.get("params") or {}), *slots}
    problems += _check_expression(data["rule"], rule_scope, ("rule",))
    problems += [
        (at, "the rule cannot use itself") for at in operator_paths(data["rule"], "rule", ("rule",))
    ]
    known = {*slots, output}
    for key in ("prompt", "completion"):
        text = data.get(key, " {answer}" if key == "completion" else "")
        try:
            fields = format_fields(text)
        except ValueError as exc:
            problems.append(((key,), f"not a valid format string: {exc}"))
            continue
        unknown = [f for f in fields if f not in known]
        if unknown:
            problems.append(
                ((key,), f"{{{unknown[0]}}} is not a slot (slots: {', '.join(sorted(known))})")
            )
    return problems


def _scorer_problems(data: dict[str, Any]) -> list[tuple[Where, str]]:
    scorer = data.get("scorer")
    if not isinstance(scorer, dict):
        return []
    kind = SCORERS[scorer["name"]]
    problems: list[tuple[Where, str]] = []
    for key, expr in scorer.items():
        if key == "name":
            continue
        if key not in kind.args:
            listing = ", ".join(kind.args) or "none"
            problems.append(
                (
                    ("scorer", key),
                    f"scorer {scorer['name']!r} has no argument {key!r} (its arguments: {listing})",
                )
            )
            continue
        problems += _check_expression(expr, set(data.get("params") or {}), ("scorer", key))
    return problems

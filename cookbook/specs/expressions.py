"""The pure expressions of a template spec: values computed from parameters, drawn values and slots.

An expression is a literal (number, boolean, null, a string), ``"$name"`` (the value bound to
``name``), a list of expressions, or a one-key mapping ``{operator: arguments}``. Arguments
are one expression (an operator of one argument), a list (positional) or a mapping of the
operator's argument names. Nothing here draws randomness or runs code from the spec: each
operator is a fixed Python function below.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cookbook.specs import records

_NAME = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


def reference(value: Any) -> str | None:
    """The name ``"$name"`` refers to, or None when ``value`` is not a reference."""
    if isinstance(value, str):
        match = _NAME.match(value)
        if match:
            return match.group(1)
    return None


@dataclass(frozen=True)
class Operator:
    """An operator: its argument names (``variadic``: any number, as a list), its function
    over the evaluated arguments, and whether it evaluates its arguments itself (``lazy``)."""

    args: tuple[str, ...]
    fn: Callable[..., Any]
    variadic: bool = False
    lazy: bool = False
    optional: tuple[str, ...] = ()
    description: str = ""


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, not {value!r}")
    return value


def _sub(*values: Any) -> Any:
    first, *rest = map(_number, values)
    for value in rest:
        first -= value
    return first


def _add(*values: Any) -> Any:
    return sum(map(_number, values))


def _mul(*values: Any) -> Any:
    return math.prod(map(_number, values))


def _items(value: Any) -> list[Any]:
    """A list as it is; a text as its white-space-separated words."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return list(value)
    raise ValueError(f"expected a list or a text, not {value!r}")


def _join(value: Any) -> str:
    return " ".join(map(str, _items(value)))


def _slice(of: Any, start: int, length: int) -> list[Any]:
    items = _items(of)
    return items[max(0, start) : max(0, start + length)]


def _after(of: Any, start: int, length: int, k: int) -> list[Any]:
    items = _items(of)
    return items[start + length : start + length + k]


def _before(of: Any, start: int, k: int) -> list[Any]:
    items = _items(of)
    return items[max(0, start - k) : start]


def _first(of: Any, k: int) -> list[Any]:
    return _items(of)[: max(0, k)]


def _last(of: Any, k: int) -> list[Any]:
    items = _items(of)
    return items[len(items) - k :] if k > 0 else []


def _flatten(value: Any) -> list[Any]:
    return [item for part in _items(value) for item in _items(part)]


def _map(of: Any, dictionary: Mapping[str, Any]) -> list[Any]:
    return [dictionary.get(str(item), item) for item in _items(of)]


def _lookup(table: Mapping[str, Any], key: Any, default: Any = None) -> Any:
    return table.get(str(key), default)


def _count(value: Any) -> int:
    return len(_items(value))


def _index(of: Any, at: int) -> Any:
    return _items(of)[at]


OPERATORS: dict[str, Operator] = {
    # numbers
    "add": Operator((), _add, variadic=True, description="sum of the numbers"),
    "sub": Operator((), _sub, variadic=True, description="the first number less the others"),
    "mul": Operator((), _mul, variadic=True, description="product of the numbers"),
    "max": Operator((), lambda *v: max(map(_number, v)), variadic=True, description="largest"),
    "min": Operator((), lambda *v: min(map(_number, v)), variadic=True, description="smallest"),
    "int": Operator(("of",), lambda of: int(_number(of)), description="truncated to an integer"),
    # comparison and logic
    "eq": Operator(("left", "right"), lambda a, b: a == b, description="equal"),
    "ne": Operator(("left", "right"), lambda a, b: a != b, description="not equal"),
    "lt": Operator(("left", "right"), lambda a, b: a < b, description="less than"),
    "le": Operator(("left", "right"), lambda a, b: a <= b, description="at most"),
    "gt": Operator(("left", "right"), lambda a, b: a > b, description="more than"),
    "ge": Operator(("left", "right"), lambda a, b: a >= b, description="at least"),
    "not": Operator(("of",), lambda of: not of, description="logical not"),
    "and": Operator((), None, variadic=True, lazy=True, description="all true (short-circuit)"),
    "or": Operator((), None, variadic=True, lazy=True, description="any true (short-circuit)"),
    "if": Operator(("test", "then", "else"), None, lazy=True, description="then or else"),
    "literal": Operator(("value",), None, lazy=True, description="the value, not evaluated"),
    # token spans
    "words": Operator(("of",), _items, description="a text's words (a list stays a list)"),
    "join": Operator(("of",), _join, description="the items joined by spaces"),
    "count": Operator(("of",), _count, description="how many items (or words of a text)"),
    "index": Operator(("of", "at"), _index, description="the item at a position"),
    "slice": Operator(("of", "start", "length"), _slice, description="length items from start"),
    "after": Operator(
        ("of", "start", "length", "k"), _after, description="the k items after a span"
    ),
    "before": Operator(("of", "start", "k"), _before, description="the k items before start"),
    "first": Operator(("of", "k"), _first, description="the first k items"),
    "last": Operator(("of", "k"), _last, description="the last k items"),
    "reverse": Operator(("of",), lambda of: _items(of)[::-1], description="in reverse order"),
    "sort": Operator(("of",), lambda of: sorted(_items(of), key=str), description="sorted"),
    "unique": Operator(
        ("of",), lambda of: list(dict.fromkeys(_items(of))), description="first of each item"
    ),
    "flatten": Operator(("of",), _flatten, description="a list of lists as one list"),
    "map": Operator(("of", "dictionary"), _map, description="each item through a dictionary"),
    "lookup": Operator(
        ("table", "key", "default"),
        _lookup,
        optional=("default",),
        description="a dictionary's value for a key",
    ),
    # records
    "record": Operator(
        ("names", "values"),
        records.serialize,
        description="a record 'name: value. name: value'",
    ),
    "record_overlap": Operator(
        ("left", "right"),
        records.record_overlap,
        description="token F1 of two records' values",
    ),
    "coverage": Operator(
        ("of", "within"),
        records.coverage,
        description="share of the first text's words found in the second",
    ),
    "attribute_agreement": Operator(
        ("left", "right"),
        records.attribute_agreement,
        description="mean token F1 of two records, attribute by attribute",
    ),
    # the spec's own rule over given slots (bound by the compiler)
    "rule": Operator(("slots",), None, lazy=True, description="the spec's rule over these slots"),
}


#: Arguments whose value is a mapping (a dictionary, slots by name): each of its values is an
#: expression, its keys are data.
MAPPING_ARGS = {("map", "dictionary"), ("lookup", "table"), ("rule", "slots")}


def arguments(op_name: str, raw: Any) -> list[tuple[tuple[Any, ...], str, Any]]:
    """An operator's arguments as (JSON path below the operator, argument name, expression);
    call ``argument_problem`` first."""
    op = OPERATORS[op_name]
    if op.variadic:
        return [((i,), "", a) for i, a in enumerate(raw)]
    if len(op.args) == 1:
        return [((), op.args[0], raw)]
    if isinstance(raw, dict):
        return [((k,), k, v) for k, v in raw.items()]
    return [((i,), op.args[i], a) for i, a in enumerate(raw)]


def evaluate(expr: Any, scope: Mapping[str, Any], rule: Callable[[dict], Any] | None = None) -> Any:
    """The value of ``expr`` with the names of ``scope``; ``rule`` evaluates the spec's rule."""
    if isinstance(expr, str):
        name = reference(expr)
        return scope[name] if name is not None else expr
    if isinstance(expr, list):
        return [evaluate(item, scope, rule) for item in expr]
    if not isinstance(expr, dict):
        return expr
    ((op_name, raw),) = expr.items()
    op = OPERATORS[op_name]
    if op.lazy:
        return _lazy(op_name, raw, scope, rule)
    if op.variadic:
        return op.fn(*(evaluate(a, scope, rule) for a in raw))
    values = {
        name: _argument(op_name, name, value, scope, rule)
        for _, name, value in arguments(op_name, raw)
    }
    return op.fn(*(values[a] for a in op.args if a in values))


def _argument(
    op_name: str,
    name: str,
    value: Any,
    scope: Mapping[str, Any],
    rule: Callable[[dict], Any] | None,
) -> Any:
    if (op_name, name) in MAPPING_ARGS and isinstance(value, dict):
        return {k: evaluate(v, scope, rule) for k, v in value.items()}
    return evaluate(value, scope, rule)


def _lazy(
    op_name: str, raw: Any, scope: Mapping[str, Any], rule: Callable[[dict], Any] | None
) -> Any:
    if op_name == "literal":
        return raw
    if op_name == "and":
        return all(evaluate(a, scope, rule) for a in raw)
    if op_name == "or":
        return any(evaluate(a, scope, rule) for a in raw)
    if op_name == "if":
        if isinstance(raw, dict):
            raw = [raw["test"], raw["then"], raw["else"]]
        test, then, other = raw
        return evaluate(then if evaluate(test, scope, rule) else other, scope, rule)
    if op_name == "rule":
        if rule is None:
            raise ValueError("'rule' is not available here")
        slots = _argument("rule", "slots", raw, scope, rule)
        if not isinstance(slots, dict):
            raise ValueError("'rule' takes a mapping of slots")
        return rule(slots)
    raise AssertionError(op_name)  # pragma: no cover - every lazy operator is handled above


def argument_problem(op_name: str, raw: Any) -> str | None:
    """What is wrong with an operator's arguments' shape, or None (checked when a spec loads)."""
    op = OPERATORS[op_name]
    if op_name == "literal":
        return None
    if op.variadic:
        if not isinstance(raw, list) or not raw:
            return f"{op_name!r} takes a non-empty list of arguments"
        return None
    if len(op.args) == 1:
        return None
    if isinstance(raw, dict):
        missing = [a for a in op.args if a not in raw and a not in op.optional]
        extra = [k for k in raw if k not in op.args]
        listing = ", ".join(op.args)
        if extra:
            return f"{op_name!r} has no argument {extra[0]!r} (its arguments: {listing})"
        if missing:
            return f"{op_name!r} lacks argument {missing[0]!r} (its arguments: {listing})"
        return None
    if isinstance(raw, list):
        required = len(op.args) - len(op.optional)
        if not required <= len(raw) <= len(op.args):
            listing = ", ".join(op.args)
            return f"{op_name!r} takes {len(op.args)} arguments ({listing}), not {len(raw)}"
        return None
    return f"{op_name!r} takes a list or a mapping of its arguments ({', '.join(op.args)})"


def _children(expr: Any, path: tuple[Any, ...]) -> list[tuple[Any, tuple[Any, ...]]]:
    """The sub-expressions of a well-formed ``expr`` with their JSON paths."""
    if isinstance(expr, list):
        return [(item, (*path, i)) for i, item in enumerate(expr)]
    if not isinstance(expr, dict) or len(expr) != 1:
        return []
    ((op_name, raw),) = expr.items()
    if op_name not in OPERATORS or op_name == "literal" or argument_problem(op_name, raw):
        return []
    out = []
    for where, name, value in arguments(op_name, raw):
        at = (*path, op_name, *where)
        if (op_name, name) in MAPPING_ARGS and isinstance(value, dict):
            out += [(v, (*at, k)) for k, v in value.items()]
        else:
            out.append((value, at))
    return out


def references(expr: Any, path: tuple[Any, ...] = ()) -> list[tuple[str, tuple[Any, ...]]]:
    """Every ``$name`` an expression refers to, with its JSON path (``literal`` skipped)."""
    name = reference(expr)
    if name is not None:
        return [(name, path)]
    return [r for child, at in _children(expr, path) for r in references(child, at)]


def operator_problems(expr: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Unknown operators and badly shaped arguments in ``expr``, with their JSON paths."""
    if isinstance(expr, dict):
        if len(expr) != 1:
            return [(path, f"an operation is a mapping with one operator, not {len(expr)} keys")]
        ((op_name, raw),) = expr.items()
        if op_name not in OPERATORS:
            from cookbook.contract.errors import did_you_mean

            hint = did_you_mean(str(op_name), list(OPERATORS))
            return [(path, f"unknown operator {op_name!r}{hint}")]
        problem = argument_problem(op_name, raw)
        if problem:
            return [((*path, op_name), problem)]
    return [p for child, at in _children(expr, path) for p in operator_problems(child, at)]


def operator_paths(expr: Any, name: str, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The JSON paths where ``expr`` uses operator ``name``."""
    here = [path] if isinstance(expr, dict) and len(expr) == 1 and name in expr else []
    return here + [
        p for child, at in _children(expr, path) for p in operator_paths(child, name, at)
    ]

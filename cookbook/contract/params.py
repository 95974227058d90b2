"""Component parameters, declared one way: the keyword parameters of the component's function.

Defaults live in the signature, and ``Annotated[type, Param("description", **keywords)]`` adds
a description and JSON Schema constraints::

    def train(self, data, model, output_dir, *,
              lora_r: Annotated[int, Param("LoRA rank.", minimum=1)] = 16,
              scheduler: Literal["linear", "cosine"] = "linear") -> dict: ...

    params = Params.of(train)

``Params`` derives the JSON Schema from the types (``int``, ``float``, ``str``, ``bool``,
``None``, unions, ``Literal``, ``list[...]``, ``dict[str, ...]``), fills in the defaults and
validates values, naming the component and the key; a misspelt key gets a did-you-mean.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import os
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cookbook.contract.errors import CookbookError, did_you_mean

_SIMPLE = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
#: The largest integer a parameter may hold (either sign): 2**53, the largest that every JSON
#: reader and a float count exactly; beyond it a value is a typo or an overflow, never a count.
MAX_INTEGER = 2**53
#: JSON Schema keywords that say what type a value has; a ``Param`` giving one replaces the
#: type derived from the annotation.
_TYPE_KEYWORDS = ("type", "enum", "const", "oneOf", "anyOf", "allOf", "$ref")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:  # unpickled (in a Ray worker) as this very object
        return "REQUIRED"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:  # unpickled (in a Ray worker) as this very object
        return "UNSET"


#: The default of a parameter that has none: it must be given.
REQUIRED: Any = _Required()
#: The default of an optional parameter that is simply absent unless given.
UNSET: Any = _Unset()


class Param:
    """A parameter's description and extra JSON Schema keywords, for ``Annotated``.

    ``cache=False`` marks a parameter that does not change what a component makes (a worker
    count, a progress bar): a pipeline step leaves it out of its cache key. A step kind's
    ``component="trainers"`` marks a parameter that names a component of that kind (checked
    to exist; its version joins the step's cache key), and ``params_of="other"`` one that holds
    the parameters of the component parameter ``other`` names (checked as that component's).
    """

    def __init__(
        self,
        description: str = "",
        *,
        cache: bool = True,
        component: str | None = None,
        params_of: str | None = None,
        **keywords: Any,
    ) -> None:
        self.description = description
        self.cache = cache
        self.component = component
        self.params_of = params_of
        self.keywords = keywords

    def __repr__(self) -> str:
        return f"Param({self.description!r}, **{self.keywords!r})"


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its name, default (``REQUIRED`` when it must be given, ``UNSET`` when it
    is optional and absent unless given) and JSON Schema."""

    name: str
    default: Any = REQUIRED
    schema: dict[str, Any] = field(default_factory=dict)
    #: Whether the value enters a pipeline step's cache key (``Param(cache=False)``: not).
    cache: bool = True
    #: The kind of component the value names (``Param(component=...)``), if it names one.
    component: str | None = None
    #: The parameter naming the component whose parameters the value holds, if any.
    params_of: str | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def description(self) -> str:
        return str(self.schema.get("description", ""))


def _annotation(fn: Callable[..., Any], parameter: inspect.Parameter) -> Any:
    """The parameter's annotation, evaluated in ``fn``'s module; an error names it when it
    does not resolve (its constraints would otherwise vanish without a word)."""
    annotation = parameter.annotation
    if not isinstance(annotation, str):
        return annotation
    namespace = {"Annotated": typing.Annotated, **getattr(fn, "__globals__", {})}
    try:
        return eval(annotation, namespace)  # noqa: S307 - the plugin's own annotation
    except Exception as exc:
        raise CookbookError(
            f"{getattr(fn, '__qualname__', fn)}: the annotation of parameter {parameter.name!r}"
            f" ({annotation!r}) does not resolve: {type(exc).__name__}: {exc}"
        ) from None


def type_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of a Python type annotation ({} when it says nothing JSON can check)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_schema(args[0])
    if annotation in _SIMPLE:
        return {"type": _SIMPLE[annotation]}
    if annotation is None:
        return {"type": "null"}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        parts = [type_schema(a) for a in args]
        if any(not p for p in parts):
            return {}
        if all(set(p) == {"type"} for p in parts):
            names: list[str] = []
            for p in parts:
                names += p["type"] if isinstance(p["type"], list) else [p["type"]]
            return {"type": list(dict.fromkeys(names))}
        if all(set(p) == {"enum"} or p == {"type": "null"} for p in parts):
            values: list[Any] = []
            for p in parts:
                values += p.get("enum", [None])
            return {"enum": values}
        return {"anyOf": parts}
    if origin in (list, tuple, Sequence, typing.Sequence) or annotation in (list, tuple):
        schema: dict[str, Any] = {"type": "array"}
        item = None
        if args and (origin is not tuple or (len(args) == 2 and args[1] is Ellipsis)):
            item = args[0]
        if item is not None and type_schema(item):
            schema["items"] = type_schema(item)
        return schema
    if origin in (dict, Mapping, typing.Mapping) or annotation is dict:
        schema = {"type": "object"}
        if len(args) == 2 and type_schema(args[1]):
            schema["additionalProperties"] = type_schema(args[1])
        return schema
    return {}


def _meta(annotation: Any) -> Param | None:
    """The ``Param`` in an ``Annotated`` annotation, if any."""
    if typing.get_origin(annotation) is typing.Annotated:
        return next((m for m in typing.get_args(annotation)[1:] if isinstance(m, Param)), None)
    return None


def _param_schema(annotation: Any, default: Any) -> dict[str, Any]:
    """A parameter's schema: from its type, its ``Param`` keywords, and its default."""
    meta = _meta(annotation)
    schema = type_schema(annotation) if annotation is not inspect.Parameter.empty else {}
    if not schema and default not in (REQUIRED, UNSET, None):
        schema = type_schema(type(default))
    if meta is not None:
        if any(k in meta.keywords for k in _TYPE_KEYWORDS):
            schema = {}
        schema.update(copy.deepcopy(meta.keywords))
        if meta.description:
            schema["description"] = meta.description
    if default is not REQUIRED and default is not UNSET:
        schema["default"] = copy.deepcopy(default)
    return schema


class Params:
    """The parameters of a component: defaults, the JSON Schema derived from them, validation."""

    def __init__(self, specs: Iterable[ParamSpec] = (), *, open: bool = False) -> None:
        self._specs = {spec.name: spec for spec in specs}
        #: Whether keys beyond the declared ones are accepted (a function taking ``**kwargs``).
        self.open = open

    @classmethod
    def of(cls, fn: Callable[..., Any], *, skip: int | None = None) -> Params:
        """The parameters of ``fn``: its keyword-only parameters, or with ``skip``, every
        parameter after the first ``skip``."""
        signature = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception:  # some annotation does not resolve: read the parameters' one by one
            hints = None
        specs, open_ = [], False
        for index, p in enumerate(signature.parameters.values()):
            if p.kind is p.VAR_KEYWORD:
                open_ = True
                continue
            if p.kind is p.VAR_POSITIONAL:
                continue
            if skip is None and p.kind is not p.KEYWORD_ONLY:
                continue
            if skip is not None and index < skip:
                continue
            default = REQUIRED if p.default is p.empty else p.default
            annotation = hints.get(p.name, p.empty) if hints is not None else _annotation(fn, p)
            meta = _meta(annotation)
            specs.append(
                ParamSpec(
                    p.name,
                    default,
                    _param_schema(annotation, default),
                    meta.cache if meta is not None else True,
                    meta.component if meta is not None else None,
                    meta.params_of if meta is not None else None,
                )
            )
        return cls(specs, open=open_)

    @classmethod
    def of_component(cls, component: Any) -> Params:
        """``component.params``, or no parameters when it declares none."""
        params = getattr(component, "params", None)
        if params is None:
            return cls()
        if not isinstance(params, Params):
            raise CookbookError(
                f"{getattr(component, 'name', component)!r}: its params must be a"
                f" cookbook.Params (Params.of(fn)), not a {type(params).__name__}"
            )
        return params

    def __iter__(self) -> Iterator[ParamSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def __getitem__(self, name: str) -> ParamSpec:
        return self._specs[name]

    def __repr__(self) -> str:
        return f"Params({', '.join(self._specs)})"

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    @property
    def defaults(self) -> dict[str, Any]:
        """Every default, as a fresh copy."""
        return {
            name: copy.deepcopy(spec.default)
            for name, spec in self._specs.items()
            if not spec.required and spec.default is not UNSET
        }

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON Schema of a parameter mapping."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: copy.deepcopy(s.schema) for name, s in self._specs.items()},
        }
        if not self.open:
            schema["additionalProperties"] = False
        required = [name for name, spec in self._specs.items() if spec.required]
        if required:
            schema["required"] = required
        return schema

    def seeding_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` as they seed samples: a file parameter (``format="path"``) by its file
        name only, so a sample does not depend on the folder its file lies in."""
        out = dict(values)
        for name, value in values.items():
            spec = self._specs.get(name)
            if spec is not None and spec.schema.get("format") == "path" and isinstance(value, str):
                out[name] = os.path.basename(value.rstrip("/\\"))
        return out

    def merged(self, other: Params) -> Params:
        """These parameters and ``other``'s (``other`` wins on a shared name)."""
        return Params([*self, *other], open=self.open or other.open)

    def without(self, names: Iterable[str]) -> Params:
        """These parameters less ``names``."""
        drop = set(names)
        return Params([s for s in self if s.name not in drop], open=self.open)

    def errors(self, values: Any) -> list[tuple[list[Any], str]]:
        """Every problem of ``values`` as (JSON path within them, message); a key that is not
        a parameter gets a did-you-mean and leaves the others' checks alone."""
        if not isinstance(values, Mapping):
            return [([], f"parameters must be a mapping, not {type(values).__name__}")]
        problems: list[tuple[list[Any], str]] = []
        known = self.names
        for key in values:
            if not isinstance(key, str):
                problems.append(([key], f"parameter names are strings, not {key!r}"))
            elif key not in self._specs and not self.open:
                hint = did_you_mean(key, known)
                listing = f" (parameters: {', '.join(known)})" if known and not hint else ""
                problems.append(([key], f"unknown parameter {key!r}{hint}{listing}"))
        for name in known:
            if self._specs[name].required and name not in values:
                problems.append(([], f"missing required parameter {name!r}"))
        checked = {k: v for k, v in values.items() if k in self._specs}
        schema = {"type": "object", "properties": self.schema["properties"]}
        problems += validation_errors(schema, checked)
        problems += self._bound_errors(checked)
        return problems

    def _bound_errors(self, values: Mapping[str, Any]) -> list[tuple[list[Any], str]]:
        """A ``min_X`` above its ``max_X`` (both parameters, both numbers): an error rather
        than one bound silently winning."""
        problems: list[tuple[list[Any], str]] = []
        for low_name in self._specs:
            if not low_name.startswith("min_"):
                continue
            high_name = "max_" + low_name[len("min_") :]
            if high_name not in self._specs:
                continue
            low, high = values.get(low_name), values.get(high_name)
            if not (_finite_number(low) and _finite_number(high) and low > high):
                continue
            low_default = low == self._specs[low_name].default
            high_default = high == self._specs[high_name].default
            # reported where the user wrote a bound: the other may be its default
            place = high_name if low_default and not high_default else low_name
            problems.append(
                (
                    [place],
                    f"{low_name} ({_yaml(low)}{', its default' if low_default else ''}) is more"
                    f" than {high_name} ({_yaml(high)}{', its default' if high_default else ''}):"
                    f" {low_name} must be at most {high_name}",
                )
            )
        return problems

    def resolve(self, owner: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults with ``overrides`` over them, validated; errors name ``owner`` and the
        key, all at once."""
        values = self.defaults
        values.update(overrides or {})
        problems = self.errors(values)
        if problems:
            raise CookbookError(
                "\n".join(
                    f"{owner}: {'.'.join(map(str, path)) or '(parameters)'}: {message}"
                    for path, message in problems
                )
            )
        return values


def validation_errors(schema: Mapping[str, Any], value: Any) -> list[tuple[list[Any], str]]:
    """Every JSON Schema violation of ``value`` as (JSON path, message), in path order.

    Stricter than plain JSON Schema on numbers, as Python uses them: an ``integer`` is a Python
    int (not ``5.0``, not ``true``), within ``MAX_INTEGER`` either side, and a ``number`` is
    finite (no ``.inf``, no ``.nan``)."""
    validator = _validator_class()(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return [(list(e.absolute_path), _message(e)) for e in map(_inner, errors)]


def _finite_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and number_problem(value) is None
    )


def number_problem(value: Any) -> str | None:
    """What makes a number unusable as a parameter (None for a fine one, or a non-number):
    an integer beyond ``MAX_INTEGER`` either side, a float that is not finite."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) > MAX_INTEGER:
        return f"{_yaml(value)} is out of range: an integer here lies within ±{MAX_INTEGER} (2**53)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{_yaml(value)} is not a finite number"
    return None


@functools.lru_cache(maxsize=1)
def _validator_class() -> Any:
    """Draft 2020-12 with Python's integers (no floats, no bools) and the number bounds of
    ``number_problem`` checked wherever a value is typed ``integer`` or ``number``."""
    import jsonschema
    from jsonschema.validators import extend

    base = jsonschema.Draft202012Validator
    plain_type = base.VALIDATORS["type"]

    def is_integer(checker: Any, instance: Any) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    def typed(validator: Any, types: Any, instance: Any, schema: Any) -> Iterator[Any]:
        errors = list(plain_type(validator, types, instance, schema))
        yield from errors
        problem = None if errors else number_problem(instance)
        if problem is not None:
            yield jsonschema.ValidationError(problem, validator="number_range")

    return extend(
        base,
        validators={"type": typed},
        type_checker=base.TYPE_CHECKER.redefine("integer", is_integer),
    )


def _inner(error: Any) -> Any:
    """For a value matching none of several shapes, the error inside the shape its type
    fits, when there is one (``{qa: lots}`` for a number-or-mapping: ``lots`` is not a
    number); else the error itself."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return error
    # an error within a value, or of a shape whose type the value has (not a type mismatch)
    inside = [e for e in error.context if e.relative_path or e.validator != "type"]
    if not inside:
        return error
    return _inner(max(inside, key=lambda e: len(e.relative_path)))


def _yaml(value: Any) -> str:
    """A value as a pipeline file writes it: ``null``, ``true``, ``'text'``, ``3``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kinds(schema: Any) -> list[str]:
    """The JSON types (or values) a schema allows, for a message."""
    if not isinstance(schema, dict):
        return []
    if "enum" in schema:
        return [_yaml(v) for v in schema["enum"]]
    kind = schema.get("type")
    if kind:
        return list(kind) if isinstance(kind, list) else [kind]
    return [
        k for option in schema.get("oneOf", []) + schema.get("anyOf", []) for k in _kinds(option)
    ]


def _message(error: Any) -> str:
    """A schema error in the words of the file: YAML values, and for a value that matches
    none of several shapes, the shapes it may take."""
    if error.validator == "type":
        kinds = _kinds({"type": error.validator_value})
        text = f"{_yaml(error.instance)} is not of type {' or '.join(map(repr, kinds))}"
        instance = error.instance
        whole = isinstance(instance, float) and instance.is_integer()
        if "integer" in kinds and whole and abs(instance) <= MAX_INTEGER:
            text += f" (an integer has no decimal point: {int(instance)})"
        return text
    if error.validator in ("oneOf", "anyOf"):
        kinds = list(dict.fromkeys(_kinds({error.validator: error.validator_value})))
        if kinds:
            return f"{_yaml(error.instance)} is not one of the allowed forms: {', '.join(kinds)}"
    if error.validator == "enum":
        options = ", ".join(_yaml(v) for v in error.validator_value)
        return f"{_yaml(error.instance)} is not one of {options}"
    if error.validator == "pattern" and isinstance(error.schema, dict):
        described = error.schema.get("description")
        if described:
            return f"{_yaml(error.instance)} is not of the form: {described}"
    return error.message


def parse_value(text: str) -> Any:
    """A ``KEY=VALUE`` option's value: YAML scalar rules, so ``3`` is an int and ``x`` a
    string."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_assignments(items: Iterable[str] | None, option: str) -> list[tuple[str, Any]]:
    """``["a.b=3"]`` -> ``[("a.b", 3)]``; a malformed item is an error naming ``option``."""
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CookbookError(f"{option} {item!r}: expected KEY=VALUE")
        pairs.append((key.strip(), parse_value(value)))
    return pairs

"""Component parameters: JSON Schemas from signatures, defaults, and validation with clear paths."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from cookbook.contract.errors import CookbookError

_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
}


def _json_type(annotation: Any, default: Any) -> str | None:
    if isinstance(annotation, str):  # postponed annotations: "int", "float | None"...
        for py, js in _JSON_TYPES.items():
            if annotation.split("|")[0].strip().split("[")[0] == py.__name__:
                return js
    if annotation in _JSON_TYPES:
        return _JSON_TYPES[annotation]
    if default is not None and type(default) in _JSON_TYPES:
        return _JSON_TYPES[type(default)]
    return None


def schema_from_signature(fn: Callable[..., Any], skip: int = 0) -> tuple[dict, dict]:
    """Defaults and a JSON Schema from ``fn``'s keyword parameters after the first ``skip``."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    defaults: dict[str, Any] = {}
    props: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = None if p.default is p.empty else p.default
        prop: dict[str, Any] = {}
        json_type = _json_type(p.annotation, default)
        if json_type == "number":
            prop["type"] = "number"
        elif json_type:
            prop["type"] = json_type
        if p.default is not p.empty:
            defaults[p.name] = default
            prop["default"] = default
        props[p.name] = prop
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    required = [p.name for p in params if p.default is p.empty and p.kind is not p.VAR_KEYWORD]
    if required:
        schema["required"] = required
    return defaults, schema


def param_errors(schema: Mapping[str, Any], params: Any) -> list[tuple[list, str]]:
    """Every schema violation of ``params`` as (JSON path within params, message), in order."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: [str(p) for p in e.absolute_path])
    return [(list(e.absolute_path), e.message) for e in errors]


def resolve_params(
    owner: str,
    schema: Mapping[str, Any],
    defaults: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Merge ``overrides`` over ``defaults`` and validate; errors name ``owner`` and the key."""
    params = copy.deepcopy(dict(defaults))
    params.update(overrides or {})
    errors = param_errors(schema, params)
    if errors:
        raise CookbookError(
            "\n".join(
                f"{owner}: {'.'.join(map(str, path)) or '(parameters)'}: {message}"
                for path, message in errors
            )
        )
    return params


def parse_value(text: str) -> Any:
    """A ``--param`` value: YAML scalar rules, so ``3`` is an int and ``x`` a string."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text

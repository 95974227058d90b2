"""A validated template spec made into a ``cookbook.Template`` of built-in primitives only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cookbook.contract.params import Params, ParamSpec
from cookbook.contract.seeding import SampleRandom
from cookbook.contract.templates import Template
from cookbook.contract.tokens import TokenSpace
from cookbook.specs.expressions import evaluate
from cookbook.specs.loader import load_spec
from cookbook.specs.scorers import SCORERS
from cookbook.specs.steps import run_steps


def template_from_spec(
    source: str | Path | Mapping[str, Any], *, name: str | None = None
) -> Template:
    """The ``Template`` a spec describes (a file path or the spec itself): its generator runs
    the spec's draw steps, its rule and scorer are the spec's; nothing in it runs as code."""
    spec = load_spec(source)
    if name is None:
        name = spec.get("name") or (
            Path(source).stem if not isinstance(source, Mapping) else "spec"
        )
    return compile_spec(spec, name)


def compile_spec(spec: dict[str, Any], name: str) -> Template:
    """The ``Template`` of an already validated spec."""
    params = Params(
        ParamSpec(key, schema["default"], dict(schema))
        for key, schema in (spec.get("params") or {}).items()
    )
    defaults = params.defaults
    draws, slot_exprs, rule_expr = spec.get("draws") or [], spec["slots"], spec["rule"]
    output = spec.get("output", "answer")

    def rule_of(slots: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
        scope = {**values, **slots}
        return evaluate(rule_expr, scope, lambda given: rule_of(given, values))

    def generate(rng: SampleRandom, tokens: TokenSpace, **values: Any) -> dict[str, Any]:
        scope = {**defaults, **values}
        own = dict(scope)
        rule = lambda given: rule_of(given, own)  # noqa: E731 - the 'rule' operator
        run_steps(draws, scope, rng, tokens, rule)
        return {slot: evaluate(expr, scope, rule) for slot, expr in slot_exprs.items()}

    def rule(slots: Mapping[str, Any], **values: Any) -> Any:
        return rule_of(slots, {**defaults, **values})

    template = Template(
        name=name,
        family=spec["family"],
        generate=generate,
        rule=rule,
        prompt=spec["prompt"],
        completion=spec.get("completion", " {answer}"),
        output=output,
        slots=(*slot_exprs, output),
        params=params,
        scorer=_scorer(spec.get("scorer", "fuzzy_f1"), rule_of, defaults),
        description=spec.get("description", ""),
    )
    template.spec = spec  # type: ignore[attr-defined] - what it was made from, for tools
    return template


def _scorer(chosen: str | Mapping[str, Any], rule_of: Any, defaults: dict[str, Any]) -> Any:
    """The template's ``scorer(slots, output, **params)`` for the spec's chosen scorer."""
    if isinstance(chosen, str):
        chosen = {"name": chosen}
    kind = SCORERS[chosen["name"]]
    exprs = {key: chosen.get(key, default) for key, default in kind.args.items()}
    args = {key: (lambda values, expr=expr: evaluate(expr, values)) for key, expr in exprs.items()}
    score = kind.make(rule_of, args)

    def scorer(slots: Mapping[str, Any], output: Any, **values: Any) -> float:
        return score(slots, output, {**defaults, **values})

    return scorer

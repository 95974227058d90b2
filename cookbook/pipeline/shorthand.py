"""The sectioned pipeline form, shorthand for the common chain of steps.

A file with sections ``score``, ``mix``, ``generate``, ``train`` and ``eval`` (instead of
``steps``) is the chain score -> mix -> generate -> train -> eval of the step kinds of those
names, each section holding its step's parameters::

    mix: {mixer: cvxpy, objective: maxmin}     # step "mix" of kind "mix"
    generate: {samples: 600}                   # step "generate", reading the mixture
    train: {trainer: lora, max_steps: 60}      # step "train", reading the samples

A score step is added when the pipeline has tasks; a mix step with ``scores: alignment``
(its default) reads it, and one with ``scores: proxy`` trains with the train section's
trainer and parameters. ``eval: {harness: {kind: lm_eval, params: {...}}}`` adds a second
evaluation step, of the kind named, on the same models.
"""

from __future__ import annotations

from typing import Any

SECTIONS = ("score", "mix", "generate", "train", "eval")
#: The label the shorthand gives the model its train step makes, in evaluation results.
TUNED = "tuned"


def is_sectioned(data: dict[str, Any]) -> bool:
    """Whether ``data`` uses the sectioned form (any section, or no ``steps`` at all)."""
    return "steps" not in data


def expand(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[tuple, str]]]:
    """The steps a sectioned pipeline stands for, each with ``where`` (the section it came
    from), and the errors of sections that cannot form a chain."""
    steps: list[dict[str, Any]] = []
    errors: list[tuple[tuple, str]] = []

    def section(name: str) -> dict[str, Any] | None:
        value = data.get(name)
        return value if isinstance(value, dict) else None

    def add(
        name: str, params: dict[str, Any], inputs: dict[str, Any], added: tuple[str, ...] = ()
    ) -> None:
        steps.append(
            {
                "name": name,
                "kind": name,
                "params": params,
                "inputs": inputs,
                "where": (name,),
                "added": added,  # keys copied from other sections, validated there
            }
        )

    if data.get("tasks") or section("score") is not None:
        add("score", dict(section("score") or {}), {})
    mix = section("mix")
    generate = section("generate")
    train = section("train")
    if mix is not None:
        params = dict(mix)
        inputs: dict[str, Any] = {}
        source = params.get("scores", "alignment")
        if source == "alignment" and any(s["name"] == "score" for s in steps):
            inputs["scores"] = "score"
        if source == "proxy" and train is not None:
            params["proxy_params"] = {k: v for k, v in train.items() if k != "trainer"}
            if "trainer" in train:
                params["proxy_trainer"] = train["trainer"]
        if generate is not None and "samples" in generate:
            params["samples"] = generate["samples"]
        add("mix", params, inputs, ("proxy_trainer", "proxy_params", "samples"))
    if generate is not None:
        add("generate", dict(generate), {"mixture": "mix"} if mix is not None else {})
    if train is not None:
        if generate is None:
            errors.append((("train",), "training needs a generate section (the data)"))
        else:
            add("train", dict(train), {"data": "generate"})
    evaluation = section("eval")
    if evaluation is not None:
        params = dict(evaluation)
        harness = params.pop("harness", None)
        inputs = {}
        added: tuple[str, ...] = ()
        if train is not None and generate is not None:
            inputs["models"] = ["train"]
            if "labels" not in params:  # the user's own labels are kept, and validated
                params["labels"] = {"train": TUNED}
                added = ("labels",)
        add("eval", params, inputs, added)
        if harness is not None:
            steps.append(_harness_step(harness, inputs.get("models"), params, errors))
    return steps, errors


def _harness_step(
    harness: Any, models: list[str] | None, evaluation: dict[str, Any], errors: list
) -> dict[str, Any]:
    """``eval.harness``: another evaluation step beside ``eval``, of the step kind it names
    (``harness: KIND`` or ``harness: {kind: KIND, params: {...}}``), on the same models; its
    rows join the card next to ``eval``'s, labelled as ``eval`` labels them when the kind
    declares ``labels`` (the train step's model as ``tuned``)."""
    if isinstance(harness, str):
        harness = {"kind": harness}
    if not isinstance(harness, dict):
        errors.append((("eval", "harness"), "harness is a step kind, or {kind, params}"))
        harness = {}
    params = harness.get("params") or {}
    params = dict(params) if isinstance(params, dict) else {}
    added: tuple[str, ...] = ()
    labels = evaluation.get("labels")
    wanted = models and "labels" not in params and isinstance(labels, dict)
    if wanted and _declares(harness.get("kind"), "labels"):
        params["labels"] = {k: v for k, v in labels.items() if k in models}
        added = ("labels",)
    return {
        "name": "harness",
        "kind": harness.get("kind"),
        "params": params,
        "inputs": {"models": models} if models else {},
        "where": ("eval", "harness"),
        "added": added,
    }


def _declares(kind_name: Any, param: str) -> bool:
    """Whether the registered step kind ``kind_name`` has the parameter ``param``."""
    from cookbook.registry import get_registry

    registry = get_registry()
    if not isinstance(kind_name, str) or kind_name not in registry.names("steps"):
        return False
    try:
        return param in registry.get("steps", kind_name).params
    except Exception:  # an unknown or clashing name is reported where the step is checked
        return False

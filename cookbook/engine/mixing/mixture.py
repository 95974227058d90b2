"""Mixture files: learning a mixture with a registered mixer, validating, reading, writing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.engine.mixing.maths import largest_remainder, predicted, uniform
from cookbook.engine.mixing.matrix import ScoreMatrix, as_matrix, write_atomically


@lru_cache(maxsize=1)
def mixture_schema() -> dict[str, Any]:
    """The JSON Schema of mixture files (``schemas/mixture.schema.json``)."""
    text = resources.files("cookbook.schemas").joinpath("mixture.schema.json").read_text("utf-8")
    return json.loads(text)


def mixture_document(
    weights: Mapping[str, float],
    scores: ScoreMatrix | Mapping[str, Mapping[str, float]] | None,
    *,
    mixer: str,
    source: str,
    params: Mapping[str, Any] | None = None,
    objective: float | None = None,
    objective_name: str | None = None,
    total: int | None = None,
) -> dict[str, Any]:
    """The mixture file's content: weights, predicted and uniform-predicted task scores (empty
    without ``scores``), and (with ``total``) the per-template sample counts."""
    matrix = as_matrix(scores) if scores else None
    document: dict[str, Any] = {
        "weights": dict(weights),
        "mixer": mixer,
        "objective": None if objective is None else round(float(objective), 10),
        "objective_name": objective_name,
        "params": dict(params or {}),
        "source": source,
        "predicted": _rounded(predicted(weights, matrix)) if matrix else {},
        "uniform_predicted": (
            _rounded(predicted(uniform(matrix.templates), matrix)) if matrix else {}
        ),
    }
    if total is not None:
        document["counts"] = largest_remainder(weights, total)
    validate_mixture(document, "mixture")
    return document


def _rounded(scores: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 10) for k, v in scores.items()}


def validate_mixture(document: Any, where: str) -> None:
    """Check ``document`` against the schema and that its weights sum to one."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(mixture_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        raise CookbookError(
            "\n".join(
                f"{where}: {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: "
                f"{e.message}"
                for e in errors
            )
        )
    total = sum(document["weights"].values())
    if abs(total - 1.0) > 1e-6:
        raise CookbookError(f"{where}: weights: they sum to {total:.6g}, not 1")


def write_mixture(path: str | Path, document: Mapping[str, Any]) -> None:
    """Validate and write a mixture file atomically (nothing is written if it is invalid)."""
    validate_mixture(document, str(path))
    text = json.dumps(document, indent=2) + "\n"
    write_atomically(Path(path), lambda f: f.write(text))


def read_mixture(path: str | Path) -> dict[str, Any]:
    """A mixture file, validated; errors name the file and the JSON path."""
    path = Path(path)
    if not path.is_file():
        raise CookbookError(f"{path}: no such file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CookbookError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise CookbookError(f"{path}: not UTF-8 text") from None
    validate_mixture(document, str(path))
    return document


def learn_mixture(
    scores: ScoreMatrix | Mapping[str, Mapping[str, float]] | None,
    mixer: str,
    params: Mapping[str, Any] | None = None,
    *,
    source: str,
    total: int | None = None,
) -> dict[str, Any]:
    """Run the registered ``mixer`` on ``scores`` and return the mixture document.

    ``params`` are validated against the mixer's schema (defaults filled in); the objective's
    value is reported when the mixer has an ``objective_value(scores, weights, **params)``.
    Without ``scores`` (a ``fixed`` mixture) the predictions are empty.
    """
    from cookbook.contract.components import setting
    from cookbook.contract.params import Params
    from cookbook.registry import get_registry

    matrix = as_matrix(scores) if scores else None
    component = get_registry().get("mixers", mixer)
    resolved = Params.of_component(component).resolve(f"mixer {mixer!r}", params)
    weights = component.mix(matrix if matrix else {}, **resolved)
    value_of = setting(component, "objective_value", "mixers") if matrix else None
    name_of = setting(component, "objective_name", "mixers")
    return mixture_document(
        weights,
        matrix,
        mixer=mixer,
        source=source,
        params=resolved,
        objective=float(value_of(matrix, weights, **resolved)) if value_of else None,
        objective_name=(str(name_of(**resolved)) if name_of else mixer) if value_of else None,
        total=total,
    )

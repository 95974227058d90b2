"""The ``uniform`` mixer (the same weight on every template) and the ``fixed`` mixer (weights
given in the pipeline)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from cookbook import CookbookError, Param, Params
from cookbook_plugins.mixers.objectives import Scores


class UniformMixer:
    """The same weight on every template: the baseline every learned mixture is shown beside."""

    name = "uniform"
    description = "Equal weight on every template."

    def mix(self, scores: Scores) -> dict[str, float]:
        """``1/n`` for each of the matrix's ``n`` templates."""
        from cookbook.engine import as_matrix, uniform

        return uniform(as_matrix(scores).templates)

    params = Params.of(mix)


class FixedMixer:
    """Weights written in the pipeline, normalised to sum to one."""

    name = "fixed"
    description = "Weights given in the pipeline (normalised to sum to one)."

    def mix(
        self,
        scores: Scores,
        *,
        weights: Annotated[
            Mapping[str, float],
            Param(
                "{template: weight}; normalised to sum to one, unnamed templates get 0.",
                minProperties=1,
                additionalProperties={"type": "number", "minimum": 0},
            ),
        ],
    ) -> dict[str, float]:
        """``weights`` over the matrix's templates (unnamed ones get 0); no scores: as given."""
        import numpy as np

        from cookbook.engine import as_matrix
        from cookbook_plugins.mixers.objectives import clean_weights

        owner = f"mixer {self.name!r}"
        if not scores:
            templates = tuple(weights)
            vector = np.array([float(v) for v in weights.values()])
        else:
            matrix = as_matrix(scores)
            try:
                vector = matrix.weight_vector(weights)
            except CookbookError as exc:
                raise CookbookError(f"{owner}: {exc}") from None
            templates = matrix.templates
        if vector.sum() <= 0:
            raise CookbookError(f"{owner}: weights: at least one template needs a positive weight")
        return clean_weights(vector, templates)

    params = Params.of(mix)

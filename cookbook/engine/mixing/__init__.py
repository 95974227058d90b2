"""Cookbook-Mix data: score matrices, predicted scores, exact sample counts and mixture files.

A score matrix holds one score per (task, template). Under the linear mixing assumption a
mixture ``w`` over templates predicts task t's score as ``sum_j w[j] * S[t, j]``. Mixers
(plugins; the built-in ones in ``plugins/mixers/``, with their objectives) turn a matrix into
weights; this package holds what every mixer and caller shares: predictions and exact counts
(``maths``), the matrices and their CSV files (``matrix``), the three sources of matrices
(``sources``: alignment statistic, proxy runs; files come from ``matrix``), mixture files
(``mixture``) and the linearity check (``linearity``). cvxpy is not needed here.
"""

from cookbook.engine.mixing.linearity import (
    LinearityReport,
    LinearityRow,
    check_linearity,
    linearity_report,
    mixture_key,
    read_measurements_csv,
)
from cookbook.engine.mixing.maths import largest_remainder, predicted, uniform
from cookbook.engine.mixing.matrix import (
    SOURCES,
    ScoreMatrix,
    as_matrix,
    read_scores_csv,
    write_scores_csv,
)
from cookbook.engine.mixing.mixture import (
    learn_mixture,
    mixture_document,
    mixture_schema,
    read_mixture,
    validate_mixture,
    write_mixture,
)
from cookbook.engine.mixing.sources import (
    alignment_matrix,
    example_slots,
    map_slots,
    proxy_matrix,
    record_alignment,
)

__all__ = [
    "SOURCES",
    "LinearityReport",
    "LinearityRow",
    "ScoreMatrix",
    "alignment_matrix",
    "as_matrix",
    "check_linearity",
    "example_slots",
    "largest_remainder",
    "learn_mixture",
    "linearity_report",
    "map_slots",
    "mixture_document",
    "mixture_key",
    "mixture_schema",
    "predicted",
    "proxy_matrix",
    "read_measurements_csv",
    "read_mixture",
    "read_scores_csv",
    "record_alignment",
    "uniform",
    "validate_mixture",
    "write_mixture",
    "write_scores_csv",
]

"""How long the cvxpy mixer takes on a 1000-template x 100-task score matrix.

Solves the mean and the max-min objectives and compares each, in the same run, with a
projected-gradient loop written here in numpy (and the uniform mixture). Ends with the line
``mix_seconds X``: the cvxpy mixer's seconds for both objectives together.

    python benchmarks/mix_scale.py [--templates 1000] [--tasks 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cookbook.engine.mixing import ScoreMatrix, uniform
from cookbook.registry import get_registry


def project_to_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (sort-based)."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1
    rho = np.nonzero(u - cumulative / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - cumulative[rho] / (rho + 1), 0)


def projected_gradient(scores: np.ndarray, objective: str, steps: int) -> np.ndarray:
    """Projected (sub)gradient ascent from the uniform mixture, with a 1/sqrt(t) step."""
    w = np.full(scores.shape[1], 1 / scores.shape[1])
    best, best_value = w, -np.inf
    mean_gradient = scores.mean(axis=0)
    for step in range(1, steps + 1):
        per_task = scores @ w
        value = per_task.mean() if objective == "mean" else per_task.min()
        if value > best_value:
            best, best_value = w, value
        gradient = mean_gradient if objective == "mean" else scores[per_task.argmin()]
        w = project_to_simplex(w + 0.5 / np.sqrt(step) * gradient)
    return best


def value(scores: np.ndarray, w: np.ndarray, objective: str) -> float:
    per_task = scores @ w
    return float(per_task.mean() if objective == "mean" else per_task.min())


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000, help="projected-gradient steps")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    values = rng.uniform(-0.1, 0.5, size=(args.tasks, args.templates))
    matrix = ScoreMatrix(
        tuple(f"task{i}" for i in range(args.tasks)),
        tuple(f"template{j}" for j in range(args.templates)),
        values,
    )
    mixer = get_registry().get("mixers", "cvxpy")
    import cvxpy  # noqa: F401  (import time is not solve time)

    print(f"matrix: {args.tasks} tasks x {args.templates} templates (seed {args.seed})")
    weights, seconds = timed(lambda: uniform(matrix.templates))
    w = matrix.weight_vector(weights)
    print(
        f"{'uniform':<26} mean {value(values, w, 'mean'):.4f}  "
        f"worst {value(values, w, 'maxmin'):.4f}  {seconds:8.4f} s"
    )
    total = 0.0
    for objective in ("mean", "maxmin"):
        weights, seconds = timed(lambda o=objective: mixer.mix(matrix, objective=o))
        total += seconds
        w = matrix.weight_vector(weights)
        print(
            f"{'cvxpy ' + objective:<26} objective {value(values, w, objective):.4f}  "
            f"{seconds:8.4f} s  ({int((w > 0).sum())} templates with weight > 0)"
        )
        w, seconds = timed(lambda o=objective: projected_gradient(values, o, args.steps))
        print(
            f"{f'projected gradient {objective}':<26} objective {value(values, w, objective):.4f}  "
            f"{seconds:8.4f} s  ({args.steps} steps)"
        )
    print(f"mix_seconds {total:.3f}")


if __name__ == "__main__":
    main()

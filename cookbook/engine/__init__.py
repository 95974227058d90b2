"""The engine: generation, scoring, mixing, inference, training and evaluation.

Public API for step kinds and other plugins that drive the machinery, beside ``cookbook``
itself. Names load on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "cookbook.engine.alignment": [
        "AlignmentSummary",
        "alignment_scores",
        "scoring_function",
        "summarize",
    ],
    "cookbook.engine.calibration": ["DevData", "fit_threshold", "with_threshold"],
    "cookbook.engine.evaluation": [
        "evaluate_task",
        "evaluate_template",
        "load_eval_model",
        "main_metric",
        "plot_comparison",
        "task_params",
        "write_jsonl",
    ],
    "cookbook.engine.formats": ["EXPORT_FORMATS", "as_format", "data_files", "training_pairs"],
    "cookbook.engine.generation": [
        "FORMATS",
        "Job",
        "default_workers",
        "generate",
        "iter_records",
        "split_evenly",
    ],
    "cookbook.engine.inference": ["continuation_logprobs", "generate_greedy", "stop_for"],
    "cookbook.engine.mixing": [
        "ScoreMatrix",
        "alignment_matrix",
        "as_matrix",
        "largest_remainder",
        "learn_mixture",
        "predicted",
        "proxy_matrix",
        "read_mixture",
        "read_scores_csv",
        "uniform",
        "write_mixture",
        "write_scores_csv",
    ],
    "cookbook.engine.models": [
        "DEFAULT_MODEL",
        "device_problem",
        "format_completion",
        "format_prompt",
        "load_model",
        "load_tokenizer",
        "model_problem",
        "pick_device",
        "pick_dtype",
        "resolve_model_path",
        "uses_chat_template",
    ],
    "cookbook.engine.progress": ["progress_bar"],
    "cookbook.engine.ray_generation": ["generate_on_ray"],
    "cookbook.engine.ray_mapping": [
        "ActorPool",
        "RayEvalModel",
        "map_on_ray",
        "ray_eval_model",
        "release_ray_models",
    ],
    "cookbook.engine.ray_scoring": ["alignment_matrix_on_ray", "alignment_scores_on_ray"],
    "cookbook.engine.samples": ["SampleMaker", "read_samples"],
    "cookbook.engine.template_check": ["CheckReport", "check_template"],
    "cookbook.engine.token_spaces": ["resolve_token_space"],
    "cookbook.engine.training": ["train_model", "trainer_params"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'cookbook.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

"""Helpers the built-in step kinds share: reading a task's records, Markdown tables."""

from __future__ import annotations

import json
import re
from itertools import islice
from typing import Any

import cookbook.engine as engine
from cookbook import StepProblem, TaskUse, get_registry


def task_records(task: TaskUse, limit: int | None) -> list[Any]:
    """Up to ``limit`` development records of ``task`` (after its ``dev_skip``)."""
    component = get_registry().get("tasks", task.type)
    path, split, skip = task.dev()
    read = component.read(path, split, **engine.task_params(component, task.params))
    return list(islice(read, skip, skip + limit if limit else None))


def calibration_data(task: TaskUse, limit: int | None) -> engine.DevData | None:
    """The development records on which a task with ``calibrate: true`` fits its threshold;
    None for other tasks."""
    if not task.calibrate:
        return None
    path, split, skip = task.dev()
    return engine.DevData(path, split, skip, limit)


def needs_model(pipeline: Any, what: str) -> list[StepProblem]:
    """A problem at the top level when the pipeline names no model."""
    if pipeline.model:
        return []
    return [StepProblem(("model",), f"{what} needs a model", top=True)]


def device_problems(params: Any, path: tuple[Any, ...] = ()) -> list[StepProblem]:
    """A problem when a trainer's ``device`` asks for a GPU this machine does not have (cuda
    without CUDA, cuda:N beyond the count, mps): found when the pipeline is validated, not
    after the steps before training ran. Other names are the trainer's to check."""
    device = params.get("device") if isinstance(params, dict) else None
    if not isinstance(device, str) or not re.match(r"^(mps|cuda(:[0-9]+)?)$", device):
        return []
    problem = engine.device_problem(device)
    return [] if problem is None else [StepProblem((*path, "device"), problem)]


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (anything else as its string)."""
    return json.loads(json.dumps(value, default=str))

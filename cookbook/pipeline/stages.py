"""The pipeline's stages: score -> mix -> generate -> train -> eval, each a cached ``Stage``.

Stages call components only through the registry, so a third-party template, scorer, mixer,
trainer or task works in a pipeline with no change here. Summaries hold paths relative to the
stage folder.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

from cookbook import __version__
from cookbook.contract.errors import CookbookError
from cookbook.engine.calibration import DevData
from cookbook.pipeline.cache import Stage, StageResult, file_digest, source_digest
from cookbook.registry import get_registry


def _version(kind: str, name: str) -> str:
    """The component's plugin version and the hash of its source, so edits re-run stages."""
    info = get_registry().plugin_of(kind, name)
    digest = source_digest(info.module) if info.module else ""
    return f"{info.version}+{digest}" if digest else info.version


def _code_version() -> str:
    """Cookbook's version and the hash of its source."""
    return f"{__version__}+{source_digest('cookbook')}"


def _template_inputs(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": t["name"], "params": t["params"], "version": _version("templates", t["name"])}
        for t in config["templates"]
    ]


def _task_inputs(config: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = []
    for t in config.get("tasks") or []:
        entry = {**t, "data": file_digest(t["path"]), "version": _version("tasks", t["type"])}
        if "dev_path" in t:
            entry["dev_data"] = file_digest(t["dev_path"])
        inputs.append(entry)
    return inputs


def _dev_data(task: dict[str, Any]) -> tuple[str, str | None, int]:
    """(path, split, records to skip) of a task's development data: its ``dev_path``,
    ``dev_split`` and ``dev_skip``, else the evaluation data itself."""
    return (
        task.get("dev_path", task["path"]),
        task.get("dev_split", task.get("split")),
        task.get("dev_skip", 0),
    )


def _calibration_data(task: dict[str, Any], limit: int | None) -> DevData | None:
    """The first ``limit`` development records, on which a task with ``calibrate: true`` fits
    its threshold; None for other tasks."""
    if not task.get("calibrate"):
        return None
    path, split, skip = _dev_data(task)
    return DevData(path, split, skip, limit)


def _task_records(task: dict[str, Any], limit: int | None) -> list[Any]:
    component = get_registry().get("tasks", task["type"])
    path, split, skip = _dev_data(task)
    read = component.read(path, split, **task.get("params", {}))
    return list(islice(read, skip, skip + limit if limit else None))


def build_stages(config: dict[str, Any]) -> list[Stage]:
    """The stages this pipeline has, in order; absent sections are skipped."""
    stages: list[Stage] = []
    has_tasks = bool(config.get("tasks"))
    if has_tasks:
        stages.append(
            Stage(
                "score",
                {
                    "templates": _template_inputs(config),
                    "tasks": _task_inputs(config),
                    "score": config["score"],
                    "cookbook": _code_version(),
                },
                lambda work, up: _score(config, work),
            )
        )
    if "mix" in config:
        mix = config["mix"]
        inputs: dict[str, Any] = {
            "mix": mix,
            "templates": _template_inputs(config),
            "samples": config.get("generate", {}).get("samples"),
            "mixer_version": _version("mixers", mix["mixer"]),
        }
        after = []
        if mix["scores"] == "file":
            inputs["file"] = file_digest(mix["file"])
        elif mix["scores"] == "alignment":
            after = ["score"]
        else:
            inputs.update(model=config["model"], train=config["train"], tasks=_task_inputs(config))
        stages.append(Stage("mix", inputs, lambda work, up: _mix(config, work, up), after))
    if "generate" in config:
        after = ["mix"] if "mix" in config else []
        stages.append(
            Stage(
                "generate",
                {
                    "templates": _template_inputs(config),
                    "generate": {k: v for k, v in config["generate"].items() if k != "workers"},
                    "seed": config["seed"],
                    "token_space": config["token_space"],
                    "cookbook": _code_version(),
                },
                lambda work, up: _generate(config, work, up),
                after,
            )
        )
    if "train" in config:
        train = config["train"]
        stages.append(
            Stage(
                "train",
                {
                    "train": train,
                    "model": config["model"],
                    "seed": config["seed"],
                    "trainer_version": _version("trainers", train["trainer"]),
                },
                lambda work, up: _train(config, work, up),
                ["generate"],
            )
        )
    if "eval" in config:
        after = ["train"] if "train" in config else []
        stages.append(
            Stage(
                "eval",
                {
                    "eval": config["eval"],
                    "model": config["model"],
                    "templates": _template_inputs(config),
                    "tasks": _task_inputs(config),
                    "seed": config["seed"],
                    "cookbook": _code_version(),
                },
                lambda work, up: _evaluate(config, work, up),
                after,
            )
        )
    return stages


def _score(config: dict[str, Any], work: Path) -> dict[str, Any]:
    from cookbook.engine.mixing import alignment_matrix, write_scores_csv

    registry = get_registry()
    limit = config["score"]["limit"]
    records = {t["name"]: _task_records(t, t.get("dev_limit", limit)) for t in config["tasks"]}
    templates = {t["name"]: registry.get("templates", t["name"]) for t in config["templates"]}
    params = {t["name"]: t["params"] for t in config["templates"]}
    matrix = alignment_matrix(records, templates, params)
    write_scores_csv(matrix, work / "alignment.csv")
    return {
        "file": "alignment.csv",
        "scores": matrix.as_mapping(),
        "n": {name: len(recs) for name, recs in records.items()},
    }


def _mix(config: dict[str, Any], work: Path, up: dict[str, StageResult]) -> dict[str, Any]:
    from cookbook.engine.mixing import learn_mixture, read_scores_csv, write_mixture

    mix = config["mix"]
    params = {k: v for k, v in mix.items() if k not in ("mixer", "scores", "file")}
    if mix["scores"] == "file":
        scores: Any = read_scores_csv(mix["file"])
    elif mix["scores"] == "alignment":
        scores = up["score"].summary["scores"]
    else:
        scores = _proxy_scores(config, work)
    templates = [t["name"] for t in config["templates"]]
    mapping = scores if isinstance(scores, dict) else scores.as_mapping()
    missing = [t for t in templates if any(t not in row for row in mapping.values())]
    if missing:
        raise CookbookError(f"mix: the scores have no column for template {missing[0]!r}")
    mapping = {task: {t: row[t] for t in templates} for task, row in mapping.items()}
    total = config.get("generate", {}).get("samples")
    document = learn_mixture(mapping, mix["mixer"], params, source=mix["scores"], total=total)
    write_mixture(work / "mixture.json", document)
    return {
        "file": "mixture.json",
        "weights": document["weights"],
        "predicted": document["predicted"],
        "uniform_predicted": document["uniform_predicted"],
        "counts": document.get("counts"),
    }


def _proxy_scores(config: dict[str, Any], work: Path) -> Any:
    from cookbook.engine.evaluation import evaluate_task
    from cookbook.engine.generation import Job, generate
    from cookbook.engine.mixing import proxy_matrix

    registry = get_registry()
    train = config["train"]
    trainer = registry.get("trainers", train["trainer"])
    train_params = {k: v for k, v in train.items() if k != "trainer"}
    tasks = config["tasks"]
    samples = min(config.get("generate", {}).get("samples", 500), 500)

    from rich.console import Console

    console = Console(stderr=True)

    def train_one(template: str) -> str:
        console.print(f"proxy run: training on {template} alone")
        entry = next(t for t in config["templates"] if t["name"] == template)
        folder = work / "proxy" / template
        data = folder / "samples.jsonl"
        if not data.exists():
            generate(
                [Job(template, samples, entry["params"])],
                config["seed"],
                data,
                token_space=config["token_space"],
            )
        params = {**train_params, "resume": (folder / "model").exists()}
        trainer.train(str(data), config["model"], str(folder / "model"), **params)
        return str(folder / "model")

    def evaluate(adapter: str | None) -> dict[str, float]:
        from cookbook.engine.evaluation import headline_metric

        tuned = f"the model tuned on {Path(adapter).parent.name}" if adapter else "the base model"
        console.print(f"proxy run: {tuned} on the development records of {len(tasks)} tasks")
        out = {}
        for task in tasks:
            path, split, skip = _dev_data(task)
            limit = task.get("dev_limit", 100)
            result = evaluate_task(
                task["type"],
                path,
                config["model"],
                adapter,
                split=split,
                skip=skip,
                limit=limit,
                params=task.get("params"),
                chat_template=task.get("chat_template"),
                # a calibrated task is scored with its threshold fitted on these same records
                dev=_calibration_data(task, limit),
            )
            out[task["name"]] = float(result[headline_metric(result)])
        return out

    return proxy_matrix(
        [t["name"] for t in tasks],
        [t["name"] for t in config["templates"]],
        train_one,
        evaluate,
        base=None,
        cache_dir=work / "proxy-cache",
    )


def _generate(config: dict[str, Any], work: Path, up: dict[str, StageResult]) -> dict[str, Any]:
    from cookbook.engine.generation import Job, generate, split_evenly
    from cookbook.engine.progress import progress_bar

    gen = config["generate"]
    names = [t["name"] for t in config["templates"]]
    if "mix" in up:
        counts_by_name = up["mix"].summary["counts"]
        counts = [counts_by_name[n] for n in names]
    else:
        counts = split_evenly(gen["samples"], len(names))
    jobs = [
        Job(t["name"], n, t["params"]) for t, n in zip(config["templates"], counts, strict=True)
    ]
    name = f"samples.{gen['format']}"
    with progress_bar("generate", total=gen["samples"]) as advance:
        written = generate(
            jobs,
            config["seed"],
            work / name,
            token_space=config["token_space"],
            workers=gen.get("workers"),
            fmt=gen["format"],
            on_progress=advance,
        )
    return {"file": name, "samples": written, "counts": dict(zip(names, counts, strict=True))}


def _train(config: dict[str, Any], work: Path, up: dict[str, StageResult]) -> dict[str, Any]:
    train = config["train"]
    trainer = get_registry().get("trainers", train["trainer"])
    params = {k: v for k, v in train.items() if k != "trainer"}
    params.setdefault("seed", config["seed"])
    schema_keys = set((getattr(trainer, "params_schema", {}) or {}).get("properties", {}))
    if "seed" not in schema_keys:
        params.pop("seed")
    if "resume" in schema_keys:
        params["resume"] = (work / "model").exists()
    data = up["generate"].folder / up["generate"].summary["file"]
    metrics = trainer.train(str(data), config["model"], str(work / "model"), **params)
    return {"model": "model", "metrics": _jsonable(metrics)}


def _evaluate(config: dict[str, Any], work: Path, up: dict[str, StageResult]) -> dict[str, Any]:
    from cookbook.engine.evaluation import (
        evaluate_task,
        evaluate_template,
        headline_metric,
        plot_comparison,
    )

    ev = config["eval"]
    adapter = str(up["train"].folder / "model") if "train" in up else None
    models = {"base": None} if ev["base"] or not adapter else {}
    if adapter:
        models["tuned"] = adapter
    tasks = {t["name"]: t for t in config.get("tasks") or []}
    rows = []
    for label, model_adapter in models.items():
        for name in ev.get("tasks") or []:
            task = tasks[name]
            result = evaluate_task(
                task["type"],
                task["path"],
                config["model"],
                model_adapter,
                split=task.get("split"),
                limit=task.get("eval_limit", ev.get("limit")),
                params=task.get("params"),
                batch_size=ev["batch_size"],
                generations_path=str(work / f"{label}-{name}.jsonl"),
                chat_template=task.get("chat_template"),
                dev=_calibration_data(task, task.get("dev_limit")),
            )
            rows.append(
                {
                    "model": label,
                    "kind": "task",
                    "name": name,
                    "metric": headline_metric(result),
                    "value": float(result[headline_metric(result)]),
                    "alignment": result.get("alignment"),
                    "result": _jsonable(result),
                }
            )
        if ev["template_samples"]:
            for t in config["templates"]:
                result = evaluate_template(
                    t["name"],
                    config["model"],
                    model_adapter,
                    params=t["params"],
                    n=ev["template_samples"],
                    seed=config["seed"] + 1,
                    token_space=config["token_space"],
                    batch_size=ev["batch_size"],
                    generations_path=str(work / f"{label}-{t['name']}.jsonl"),
                )
                rows.append(
                    {
                        "model": label,
                        "kind": "template",
                        "name": t["name"],
                        "metric": "exact",
                        "value": 100 * float(result["exact"]),
                        "alignment": result["alignment"],
                        "result": _jsonable(result),
                    }
                )
    plot = None
    try:
        plot_comparison(rows, work / "comparison.png")
        plot = "comparison.png"
    except CookbookError as exc:
        (work / "plot-skipped.txt").write_text(f"{exc}\n")
    return {"rows": rows, "plot": plot}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))

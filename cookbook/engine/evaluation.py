"""Evaluating a model (optionally with a LoRA adapter) on real tasks and on template samples.

``evaluate_task`` runs a task's records through the model (greedy generation, or
log-likelihood over choices), scores them with the task's metric, and reports the alignment
statistic of the model's outputs under the task's template beside it. ``evaluate_template``
asks whether the model follows a template's rule on fresh samples. ``plot_comparison`` draws
base against tuned. Prompts are formatted exactly as the trainer formats them.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

from cookbook.contract.components import ModelInfo, best_choice, chat_setting, setting
from cookbook.contract.errors import CookbookError
from cookbook.contract.params import Params
from cookbook.contract.text import normalize_tokens
from cookbook.engine.alignment import alignment_scores, gold_answers, summarize
from cookbook.engine.calibration import DevData, check_two_choices, fit_threshold, with_threshold
from cookbook.registry import get_registry

#: Bounds of the generation length derived from the gold answers (see ``token_budget``).
MIN_NEW_TOKENS, MAX_NEW_TOKENS = 8, 512


@dataclass
class EvalModel:
    """A loaded model and tokenizer, and whether prompts are wrapped in the chat template."""

    model: Any
    tokenizer: Any
    chat: bool

    def prompt_text(self, prompt: str) -> str:
        """The text the model is given for ``prompt``, as in training."""
        from cookbook.engine.models import format_prompt

        return format_prompt(self.tokenizer, prompt, self.chat)

    def choice_text(self, choice: str) -> str:
        """A choice as it follows the prompt: an assistant message is stripped in chat."""
        return choice.strip() if self.chat else choice

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int,
        stop: str | None,
        batch_size: int,
        on_progress: Any = None,
        **sampling: Any,
    ) -> list[str]:
        """Continuations of ``prompts`` (formatted as in training), greedy unless ``sampling``
        gives a temperature (see ``generate_greedy``)."""
        from cookbook.engine.inference import generate_greedy

        return generate_greedy(
            self.model,
            self.tokenizer,
            [self.prompt_text(p) for p in prompts],
            max_new_tokens=max_new_tokens,
            stop=stop,
            batch_size=batch_size,
            add_special_tokens=not self.chat,
            on_progress=on_progress,
            **sampling,
        )

    def loglikelihoods(
        self, pairs: Sequence[tuple[str, str]], *, batch_size: int, on_progress: Any = None
    ) -> list[float]:
        """Summed log-probability of each (context, continuation), both already formatted.
        In plain text the pair is tokenized as lm-evaluation-harness does; in chat, as the
        trainer does."""
        from cookbook.engine.inference import continuation_logprobs

        return continuation_logprobs(
            self.model,
            self.tokenizer,
            pairs,
            batch_size=batch_size,
            add_special_tokens=not self.chat,
            joint=not self.chat,
            on_progress=on_progress,
        )

    def continuation_length(self, context: str, continuation: str) -> int:
        """How many tokens ``continuation`` takes after ``context``, tokenized as
        ``loglikelihoods`` tokenizes it."""
        from cookbook.engine.inference import encode_pair

        _, tail = encode_pair(self.tokenizer, context, continuation, not self.chat, not self.chat)
        return len(tail)


def load_eval_model(
    model: str,
    adapter: str | None = None,
    chat_template: bool | str | None = None,
    *,
    execution: Mapping[str, Any] | None = None,
    shards: str | Path | None = None,
) -> EvalModel:
    """The model named ``model`` (alias, folder or hub name) with ``adapter`` merged into it.

    Prompts go in the chat template as ``chat_template`` says (true, false or ``auto``: when
    the tokenizer has one); when it is None, as the adapter was trained. When ``execution``
    (a pipeline's section) asks for Ray, the model is loaded on Ray actors instead, and each
    pass runs over record shards kept under ``shards`` for a rerun (``ray_eval_model``)."""
    if execution and execution.get("engine") == "ray":
        from cookbook.engine.ray_mapping import ray_eval_model

        if shards is None:
            raise CookbookError(f"model {model!r} on Ray: no folder given for its shards")
        return ray_eval_model(model, adapter, chat_template, folder=shards, execution=execution)
    from cookbook.engine.inference import use_all_cores
    from cookbook.engine.models import load_model, load_tokenizer, uses_chat_template

    tokenizer = load_tokenizer(model)
    lm = load_model(model)
    if adapter is not None:
        lm = _with_adapter(lm, adapter)
    lm.eval()
    use_all_cores(lm)
    chat = trained_chat_setting(adapter) if chat_template is None else chat_template
    return EvalModel(lm, tokenizer, uses_chat_template(tokenizer, chat))


def trained_chat_setting(adapter: str | None) -> bool | str:
    """Whether the adapter was trained with the chat template, as the ``ModelInfo`` its
    trainer wrote records; ``auto`` (chat when the tokenizer has a template) otherwise."""
    info = ModelInfo.load(adapter) if adapter is not None else None
    if info is None or info.chat_template is None:
        return "auto"
    return info.chat_template


def _with_adapter(model: Any, adapter: str) -> Any:
    folder = Path(adapter).expanduser()
    if not (folder / "adapter_config.json").is_file():
        raise CookbookError(f"adapter {adapter}: no adapter_config.json in that folder")
    from peft import PeftModel

    try:
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            tuned = PeftModel.from_pretrained(model, str(folder))
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise CookbookError(f"adapter {adapter}: cannot load it on this model: {exc}") from exc
    return tuned.merge_and_unload()


def token_budget(tokenizer: Any, answers: Sequence[str]) -> int:
    """New tokens to allow: 1.5 times the longest gold answer plus 8, within 8 to 512 (an
    answer is cut before it is tokenised to what could reach 512, see ``clip_text``)."""
    from cookbook.engine.inference import clip_text

    longest = max(
        (
            len(
                tokenizer(clip_text(a, MAX_NEW_TOKENS, "start"), add_special_tokens=False)[
                    "input_ids"
                ]
            )
            for a in answers
        ),
        default=0,
    )
    return max(MIN_NEW_TOKENS, min(MAX_NEW_TOKENS, longest * 3 // 2 + 8))


def _generation_settings(
    task: Any, answers: Sequence[str], tokenizer: Any, max_new_tokens: int | None
) -> tuple[int, str | None]:
    """(max new tokens, stop text): the caller's or the task's own (its ``max_new_tokens``
    and ``stop`` attributes), else judged from the gold answers."""
    from cookbook.engine.inference import stop_for

    budget = max_new_tokens or setting(task, "max_new_tokens", "tasks")
    stop = setting(task, "stop", "tasks")
    if stop is None:
        stop = stop_for(answers)
    return int(budget or token_budget(tokenizer, answers)), stop


@contextmanager
def _progress(description: str, total: int, show: bool) -> Iterator[Any]:
    if not show:
        yield None
        return
    from cookbook.engine.progress import progress_bar

    with progress_bar(description, total) as advance:
        yield advance


def task_params(task: Any, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The task's parameters: ``params`` over its defaults, validated."""
    return Params.of_component(task).resolve(f"task {task.name!r}", params)


def _template_params(template: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The task parameters that are also the template's (such as a prompt format)."""
    return {k: v for k, v in params.items() if k in template.params}


def main_metric(task: Any, metrics: Mapping[str, Any]) -> str:
    """The name of the task's main metric: its ``main_metric``, else the first it reports."""
    name = getattr(task, "main_metric", None)
    if name is None:
        if not metrics:
            raise CookbookError(f"task {task.name!r} reports no metric")
        return next(iter(metrics))
    if name not in metrics:
        raise CookbookError(
            f"task {task.name!r}: its main metric {name!r} is not among the metrics it"
            f" reports ({', '.join(metrics)})"
        )
    return str(name)


def evaluate_task(
    task: str,
    data: str,
    model: str,
    adapter: str | None = None,
    *,
    split: str | None = None,
    limit: int | None = None,
    params: Mapping[str, Any] | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    generations_path: str | Path | None = None,
    progress: bool = True,
    chat_template: bool | str | None = None,
    skip: int = 0,
    threshold: float | None = None,
    dev: DevData | None = None,
    execution: Mapping[str, Any] | None = None,
    shards: str | Path | None = None,
) -> dict[str, Any]:
    """The task's metrics for ``model`` (plus ``adapter``) on the data at ``data``, with the
    alignment statistic of the model's outputs (for choice tasks, of the chosen option).

    Prompts go in the chat template as ``chat_template`` says; when it is None, as the task
    asks (its ``chat_template`` attribute: a completion task such as next-word prediction
    sets False), else as the adapter was trained (chat when the tokenizer has a template).
    The first ``skip`` records are passed over, then ``limit`` are evaluated. A two-choice
    task picks its first choice when that choice's log-likelihood margin is at least
    ``threshold``, or a threshold fitted on the ``dev`` records (reported as ``threshold``).
    ``execution`` and ``shards``: on Ray actors, as ``load_eval_model`` says."""
    registry = get_registry()
    task_obj = registry.get("tasks", task)
    template = None if task_obj.template is None else registry.get("templates", task_obj.template)
    mode = setting(task_obj, "mode", "tasks")
    if mode not in ("generate", "choice"):
        raise CookbookError(f"task {task!r}: mode must be 'generate' or 'choice', not {mode!r}")
    if (threshold is not None or dev is not None) and mode != "choice":
        raise CookbookError(f"task {task!r}: a decision threshold needs a choice task")
    if threshold is not None and dev is not None:
        raise CookbookError(f"task {task!r}: give a threshold or development data, not both")
    read_params = task_params(task_obj, params)
    records = _read_records(task_obj, data, split, read_params, skip, limit)
    no_gold = 0
    if mode == "generate":
        records, no_gold = _with_gold(task, data, records)
    dev_records = None
    if dev is not None:
        dev_records = _read_records(task_obj, dev.path, dev.split, read_params, dev.skip, dev.limit)
    if threshold is not None or dev is not None:
        for group in (records, dev_records or []):
            check_two_choices(task, [r.id for r in group], [r.choices for r in group])

    if chat_template is None:
        chat_template = chat_setting(task_obj, read_params)
    lm = load_eval_model(model, adapter, chat_template, execution=execution, shards=shards)
    if mode == "generate":
        outputs = _generate_outputs(task_obj, records, lm, batch_size, max_new_tokens, progress)
        aligned: list[Any] = list(outputs)
        lines = [
            {"id": r.id, "prompt": lm.prompt_text(r.prompt), "references": r.answers,
             "output": o}
            for r, o in zip(records, outputs, strict=True)
        ]  # fmt: skip
    else:
        if dev_records is not None:
            threshold = _fit_on_dev(task_obj, dev_records, lm, batch_size, progress)
        loglikelihoods = _choice_outputs(records, lm, batch_size, progress)
        outputs = loglikelihoods
        if threshold is not None:
            outputs = with_threshold(loglikelihoods, threshold)
        chosen = [best_choice(values) for values in outputs]
        aligned = [r.choice_label(c) for r, c in zip(records, chosen, strict=True)]
        lines = [
            {"id": r.id, "prompt": lm.prompt_text(r.prompt), "choices": r.choices,
             "gold": r.gold, "references": r.answers, "output": a, "chosen": c,
             "loglikelihoods": s}
            for r, a, c, s in zip(records, aligned, chosen, loglikelihoods, strict=True)
        ]  # fmt: skip
    each = _record_metrics(task_obj, records, outputs) if generations_path is not None else []
    metrics = task_obj.metric(records, outputs)
    if mode == "generate" and setting(task_obj, "reference_loglik", "tasks"):
        metrics["reference_loglik"] = _reference_loglik(records, lm, batch_size, progress)
    main = main_metric(task_obj, metrics)
    summary = None
    scores = None
    if template is not None:
        params = _template_params(template, read_params)
        scores = alignment_scores(template, [r.slots for r in records], aligned, params)
        summary = summarize(scores)
    if generations_path is not None:
        write_jsonl(generations_path, _sample_log(main, each, lines, scores))
    formats = {r.meta.get("format") for r in records}
    return {
        "task": task,
        "template": task_obj.template,
        **({"format": str(formats.pop())} if len(formats) == 1 and None not in formats else {}),
        "chat_template": lm.chat,
        "n": len(records),
        **({"no_gold": no_gold} if no_gold else {}),
        **{k: float(v) for k, v in metrics.items()},
        "main_metric": main,
        "higher_is_better": bool(setting(task_obj, "higher_is_better", "tasks")),
        "alignment": summary.statistic if summary else None,
        "alignment_ci": [summary.ci_low, summary.ci_high] if summary else None,
        **({"threshold": threshold} if threshold is not None else {}),
        "model": model,
        "adapter": adapter,
    }


def _record_metrics(
    task: Any, records: Sequence[Any], outputs: Sequence[Any]
) -> list[dict[str, Any] | None]:
    """The task's metrics on each record alone (None where a metric needs many records)."""
    each: list[dict[str, Any] | None] = []
    for record, output in zip(records, outputs, strict=True):
        try:
            each.append(dict(task.metric([record], [output])))
        except Exception:
            each.append(None)
    return each


def _sample_log(
    main: str,
    each: Sequence[dict[str, Any] | None],
    lines: list[dict[str, Any]],
    alignment: Sequence[float] | None,
) -> list[dict[str, Any]]:
    """Each record's line as lm-eval's ``--log_samples`` keeps it: the prompt the model saw,
    the references, the output (or the choices' log-likelihoods), the task's main metric on
    that record alone, and its alignment under the task's template (None without one)."""
    for index, (values, line) in enumerate(zip(each, lines, strict=True)):
        value = None if values is None else values.get(main)
        line["metric"] = {main: None if value is None else float(value)}
        line["alignment"] = None if alignment is None else float(alignment[index])
    return lines


def _with_gold(task: str, data: str, records: list[Any]) -> tuple[list[Any], int]:
    """The records with a non-empty gold answer (their empty answers left out), and how many
    had none: an empty gold answer cannot be matched, so it is skipped and counted (the
    result's ``no_gold``), never scored as a miss."""
    kept = []
    for record in records:
        answers = gold_answers(record.answers)
        if answers:
            kept.append(record if answers == record.answers else replace(record, answers=answers))
    if not kept:
        raise CookbookError(
            f"task {task!r}: {data}: none of the {len(records)} records has a non-empty gold"
            " answer to evaluate against"
        )
    return kept, len(records) - len(kept)


def _read_records(
    task: Any,
    data: str,
    split: str | None,
    params: Mapping[str, Any],
    skip: int,
    limit: int | None,
) -> list[Any]:
    """Records ``skip`` to ``skip + limit`` of the task's data, checked for its mode."""
    stop = None if limit is None else skip + limit
    records = list(islice(task.read(data, split=split, **params), skip, stop))
    if not records:
        raise CookbookError(f"task {task.name!r}: {data}: no records to evaluate")
    if setting(task, "mode", "tasks") == "choice":
        for record in records:
            if not record.choices or record.gold is None:
                raise CookbookError(
                    f"task {task.name!r}: record {record.id} has no choices or gold"
                )
            for field in ("contexts", "choice_labels"):
                given = getattr(record, field)
                if given is not None and len(given) != len(record.choices):
                    raise CookbookError(
                        f"task {task.name!r}: record {record.id} has {len(given)} {field}"
                        f" for {len(record.choices)} choices"
                    )
    return records


def _fit_on_dev(
    task: Any, records: Sequence[Any], lm: EvalModel, batch_size: int, progress: bool
) -> float:
    """The decision threshold that gives the task's best main metric on development records."""
    scores = _choice_outputs(records, lm, batch_size, progress, "calibrate on dev records")
    key = main_metric(task, task.metric(records, scores))
    sign = 1.0 if setting(task, "higher_is_better", "tasks") else -1.0
    return fit_threshold(scores, lambda shifted: sign * float(task.metric(records, shifted)[key]))


def _generate_outputs(
    task: Any,
    records: Sequence[Any],
    lm: EvalModel,
    batch_size: int,
    max_new_tokens: int | None,
    progress: bool,
) -> list[str]:
    answers = [a for r in records for a in r.answers]
    budget, stop = _generation_settings(task, answers, lm.tokenizer, max_new_tokens)
    with _progress(f"eval {task.name}", len(records), progress) as advance:
        return lm.generate(
            [r.prompt for r in records],
            max_new_tokens=budget,
            stop=stop,
            batch_size=batch_size,
            on_progress=advance,
        )


def _reference_loglik(
    records: Sequence[Any], lm: EvalModel, batch_size: int, progress: bool
) -> float:
    """Mean over records of the per-token log-likelihood of the first gold answer after the
    prompt (the answer after a space, as a completion; in chat, as the assistant's reply)."""
    pairs = [(lm.prompt_text(r.prompt), lm.choice_text(" " + r.answers[0])) for r in records]
    with _progress("reference log-likelihood", len(pairs), progress) as advance:
        sums = lm.loglikelihoods(pairs, batch_size=batch_size, on_progress=advance)
    per_token = [
        total / max(1, lm.continuation_length(context, answer))
        for (context, answer), total in zip(pairs, sums, strict=True)
    ]
    return sum(per_token) / len(per_token)


def _choice_outputs(
    records: Sequence[Any],
    lm: EvalModel,
    batch_size: int,
    progress: bool,
    description: str = "eval choices",
) -> list[list[float]]:
    """Per record, the summed log-probability of each choice given its context (tokenized as
    ``EvalModel.loglikelihoods`` says)."""
    pairs, owners = [], []
    for index, record in enumerate(records):
        for number, choice in enumerate(record.choices):
            context = lm.prompt_text(record.choice_context(number))
            pairs.append((context, lm.choice_text(choice)))
            owners.append(index)
    with _progress(description, len(pairs), progress) as advance:
        logprobs = lm.loglikelihoods(pairs, batch_size=batch_size, on_progress=advance)
    grouped: list[list[float]] = [[] for _ in records]
    for owner, value in zip(owners, logprobs, strict=True):
        grouped[owner].append(value)
    return grouped


def evaluate_template(
    template: str,
    model: str,
    adapter: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    n: int = 100,
    seed: int = 1,
    token_space: str = "pseudowords",
    batch_size: int = 8,
    progress: bool = True,
    generations_path: str | Path | None = None,
    execution: Mapping[str, Any] | None = None,
    shards: str | Path | None = None,
) -> dict[str, Any]:
    """How well the model follows ``template``'s rule on ``n`` fresh samples (seed ``seed``):
    the mean alignment of its generations and the share equal to the rule's answer.
    ``execution`` and ``shards``: on Ray actors, as ``load_eval_model`` says."""
    from cookbook.engine.inference import stop_for
    from cookbook.engine.samples import SampleMaker
    from cookbook.engine.token_spaces import resolve_token_space

    if n < 1:
        raise CookbookError(f"template {template!r}: n must be at least 1, not {n}")
    registry = get_registry()
    template_obj = registry.get("templates", template)
    resolved = template_obj.resolve(params)
    tokens = resolve_token_space(token_space, registry)
    maker = SampleMaker(template_obj, template, resolved, seed, tokens)
    samples = [maker.record(i) for i in range(n)]
    answers = [str(s["slots"][template_obj.output]) for s in samples]
    completions = [s["completion"] for s in samples]

    lm = load_eval_model(model, adapter, execution=execution, shards=shards)
    budget = token_budget(lm.tokenizer, completions)
    stop = stop_for(completions)
    with _progress(f"eval {template}", n, progress) as advance:
        outputs = lm.generate(
            [s["prompt"] for s in samples],
            max_new_tokens=budget,
            stop=stop,
            batch_size=batch_size,
            on_progress=advance,
        )
    scores = alignment_scores(template_obj, [s["slots"] for s in samples], outputs, resolved)
    summary = summarize(scores)
    exact = sum(
        normalize_tokens(o) == normalize_tokens(a) for o, a in zip(outputs, answers, strict=True)
    )
    if generations_path is not None:
        write_jsonl(
            generations_path,
            [{"id": s["id"], "output": o} for s, o in zip(samples, outputs, strict=True)],
        )
    return {
        "template": template,
        "n": n,
        "alignment": summary.statistic,
        "alignment_ci": [summary.ci_low, summary.ci_high],
        "exact": exact / n,
        "seed": seed,
        "model": model,
        "adapter": adapter,
    }


def write_jsonl(path: str | Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Write ``records`` as JSON lines atomically: the file appears complete or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def plot_comparison(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """A PNG with a column per evaluation: its metric on top (on the metric's own scale) and
    the alignment statistic below, one bar per model (base, tuned, ...).

    ``rows`` hold ``model`` (the label), ``name``, ``metric``, ``value`` and ``alignment``
    (and optionally ``kind``: task or template); the pipeline's eval stage makes them.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise CookbookError("plotting needs matplotlib: pip install 'cookbook-llm[plot]'") from None
    if not rows:
        raise CookbookError("plot: no evaluation rows to plot")
    labels = list(dict.fromkeys(str(r["model"]) for r in rows))
    groups = list(dict.fromkeys(_group(r) for r in rows))
    cell = {(str(r["model"]), _group(r)): r for r in rows}

    figure = Figure(figsize=(max(4.0, 2.4 * len(groups)), 5.5), layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(2, len(groups), squeeze=False)
    colours = [f"C{i}" for i in range(len(labels))]
    for column, group in enumerate(groups):
        found = [cell.get((label, group), {}) for label in labels]
        metric = next((r.get("metric") for r in found if r.get("metric")), "metric")
        kind, name = group
        for panel, key, title in (
            (panels[0][column], "value", f"{name}" + (" (template)" if kind == "template" else "")),
            (panels[1][column], "alignment", ""),
        ):
            values = [None if r.get(key) is None else float(r[key]) for r in found]
            bars = panel.bar(range(len(labels)), [v or 0.0 for v in values], 0.7, color=colours)
            texts = ["n/a" if v is None else f"{v:.3g}" for v in values]
            panel.bar_label(bars, texts, fontsize=8)
            panel.set_xticks(range(len(labels)), labels, fontsize=8)
            panel.set_ylabel(metric if key == "value" else "alignment", fontsize=8)
            panel.margins(y=0.15)
            if title:
                panel.set_title(title, fontsize=9)
        panels[1][column].set_ylim(0, 1.1)
    return _save_figure(figure, Path(path))


def _group(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row.get("kind", "")), str(row["name"])


def _save_figure(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(handle)
    try:
        figure.savefig(staging, format="png", dpi=120)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return path

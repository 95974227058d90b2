"""``cookbook score``: the alignment statistic of samples, real data or a model's outputs."""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cookbook.cli.options import (
    EngineOption,
    RayAddressOption,
    ShardSizeOption,
    check_engine,
    parse_params,
)
from cookbook.contract.errors import CookbookError, PluginClashError
from cookbook.contract.templates import Template
from cookbook.engine.alignment import AlignmentSummary, alignment_scores, gold_answers, summarize
from cookbook.engine.samples import read_samples
from cookbook.pipeline.yamlfile import clip, cut, short
from cookbook.registry import get_registry


@dataclass
class Scored:
    """Records to score: their ids, input slots and outputs (a list: several gold answers)."""

    ids: list[str] = field(default_factory=list)
    slots: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    #: Records of other templates, passed over.
    skipped: int = 0
    #: Task records without a non-empty gold answer, passed over.
    no_gold: int = 0

    def add(self, id: str, slots: dict[str, Any], output: Any) -> None:
        self.ids.append(id)
        self.slots.append(slots)
        self.outputs.append(output)


def sample_records(
    template: Template, path: Path, limit: int | None, label: str | None = None
) -> Scored:
    """Generated samples of ``template`` in ``path``: the records whose ``template`` field
    names this very template (``plugin:name`` or a bare name that resolves to it); other
    templates' records are skipped and counted, even those of a namesake from another
    plugin. A record whose bare name several plugins provide is an error: it cannot be told
    whose it is."""
    registry = get_registry()
    mine: dict[str, bool] = {}
    scored = Scored()
    for number, record in enumerate(read_samples(path), 1):
        if limit is not None and len(scored.ids) >= limit:
            break
        id = str(record.get("id", f"#{number}"))
        named = record.get("template", template.name)
        if not isinstance(named, str):
            raise CookbookError(
                f"{path}: record {clip(id)}: 'template' must be a template's name, not"
                f" {short(named)}"
            )
        if named not in mine:
            mine[named] = _is_template(registry, named, template, label or template.name, path, id)
        if not mine[named]:
            scored.skipped += 1
            continue
        slots = record.get("slots")
        if not isinstance(slots, dict) or template.output not in slots:
            raise CookbookError(
                f"{path}: record {clip(id)}: needs 'slots' holding the output slot"
                f" {template.output!r}"
            )
        inputs = {k: v for k, v in slots.items() if k != template.output}
        scored.add(id, inputs, slots[template.output])
    return scored


def _is_template(
    registry: Any, named: str, template: Template, label: str, path: Path, id: str
) -> bool:
    """Whether a record's ``template`` field, ``named``, is ``template`` itself."""
    try:
        return registry.get("templates", named) is template
    except PluginClashError:
        raise CookbookError(
            f"{path}: record {clip(id)} names template {short(named)}, which several plugins"
            f" provide: it cannot be told whether it is {short(label)}'s"
            " (name the template as plugin:name when generating)"
        ) from None
    except CookbookError:  # not installed: another template's records
        return False


def task_records(
    template: Template,
    task_name: str,
    path: Path,
    split: str | None,
    limit: int | None,
    params: dict[str, Any] | None = None,
) -> Scored:
    """Records of a real task with their gold answers. A task made for another template has
    its slots mapped into ``template``'s, as the pipeline's score stage maps them. Empty gold
    answers are left out; a record with none left is skipped and counted (``no_gold``)."""
    from cookbook.engine.mixing.sources import example_slots, map_slots

    task = get_registry().get("tasks", task_name)
    if task.template is None:
        raise CookbookError(
            f"task {task_name!r}: no template describes it, so it has no alignment to score"
        )
    own = task.template.rpartition(":")[2] == template.name
    example = None if own else example_slots(template, params)
    scored = Scored()
    for record in islice(task.read(str(path), split), limit):
        answers = gold_answers(record.answers)
        if not answers:
            scored.no_gold += 1
            continue
        slots = record.slots if own else map_slots(record.slots, template, example)
        scored.add(record.id, slots, answers)
    return scored


def read_generations(path: Path) -> dict[str, Any]:
    """``id -> output`` from a JSONL file of ``{"id", "output"}`` objects."""
    outputs: dict[str, Any] = {}
    for number, record in enumerate(read_samples(path), 1):
        if "id" not in record or "output" not in record:
            raise CookbookError(f"{path}: record {number}: needs 'id' and 'output'")
        key = str(record["id"])
        if key in outputs:
            raise CookbookError(f"{path}: record {number}: id {key!r} appears twice")
        outputs[key] = record["output"]
    return outputs


def use_generations(scored: Scored, path: Path) -> None:
    """Replace the outputs of ``scored`` by a model's, matched by id."""
    generated = read_generations(path)
    missing = [i for i in scored.ids if i not in generated]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise CookbookError(
            f"{path}: no output for record {', '.join(map(repr, missing[:3]))}{more}"
        )
    scored.outputs = [generated[i] for i in scored.ids]


def score_command(
    template: Annotated[str, typer.Argument(help="Template name (plugin:name; a spec file).")],
    data: Annotated[
        Path, typer.Option("--data", help="Samples JSONL/Parquet, or the task's data path.")
    ],
    task: Annotated[
        str | None, typer.Option("--task", help="Score a real task's records (gold answers).")
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Which split of the task's data to read.")
    ] = None,
    generations: Annotated[
        Path | None,
        typer.Option("--generations", help='JSONL of {"id", "output"}: score these instead.'),
    ] = None,
    scorer: Annotated[
        str | None, typer.Option("--scorer", help="A registered scorer instead of the template's.")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Template parameter KEY=VALUE (repeatable)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Score only the first N.")] = None,
    show: Annotated[int, typer.Option(min=0, help="Records that do not align to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
    engine: EngineOption = "local",
    address: RayAddressOption = None,
    shard_size: ShardSizeOption = 50_000,
) -> None:
    """The template alignment statistic: how much outputs follow TEMPLATE's rule (mean, 95% CI)."""
    check_engine(engine)
    registry = get_registry()
    tpl = registry.get("templates", template)
    given = dict(parse_params(param))
    # with a scorer, keys the template does not have are the scorer's own (checked there)
    shared = given if scorer is None else {k: v for k, v in given.items() if k in tpl.params}
    params = {**given, **tpl.resolve(shared)}
    if task is None and split is not None:
        raise CookbookError("--split applies to --task data only")
    if task is not None:
        scored = task_records(tpl, task, data, split, limit, params)
    else:
        scored = sample_records(tpl, data, limit, label=template)
    if not scored.ids:
        why = ""
        if scored.no_gold:
            why = f" ({scored.no_gold} without a non-empty gold answer skipped)"
        elif scored.skipped:
            why = f" ({scored.skipped} of other templates skipped)"
        raise CookbookError(f"{data}: no records of template {short(template)} to score{why}")
    if generations is not None:
        use_generations(scored, generations)
    if engine == "ray":  # the same scores, in record ranges on Ray tasks
        from cookbook.engine.progress import progress_bar
        from cookbook.engine.ray_scoring import alignment_scores_on_ray

        bar = nullcontext(None) if as_json else progress_bar("scoring", total=len(scored.ids))
        with bar as advance:  # --json prints the JSON object alone
            scores = alignment_scores_on_ray(
                tpl, scored.slots, scored.outputs, params, scorer, ids=scored.ids,
                address=address, shard_size=shard_size, on_progress=advance,
            )  # fmt: skip
    else:
        scores = alignment_scores(tpl, scored.slots, scored.outputs, params, scorer, ids=scored.ids)
    summary = summarize(scores)
    source = "generations" if generations else ("gold" if task else "samples")
    report = {
        "template": tpl.name,
        "task": task,
        "data": str(data),
        "split": split,
        "outputs": source,
        "scorer": scorer or tpl.name,
        **summary.as_json(),
        "skipped": scored.skipped,
        "no_gold": scored.no_gold,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_report(report, summary, scored, scores, show, _rule_answers(tpl, params))


def _rule_answers(template: Any, params: dict[str, Any]) -> Any:
    """``answer(slots)``: the output the template's rule gives for a record's inputs, or
    "-" where the rule cannot read them (a mapped task record may lack a hidden slot)."""
    from cookbook.contract.templates import bind_params

    rule = bind_params(template.rule, template.own_params(params))

    def answer(slots: dict[str, Any]) -> Any:
        try:
            return rule(slots)
        except Exception:
            return "-"

    return answer


def _print_report(
    report: dict[str, Any],
    summary: AlignmentSummary,
    scored: Scored,
    scores: list[float],
    show: int,
    expected: Any,
) -> None:
    console = Console(highlight=False)
    table = Table(title=Text(f"Alignment with {report['template']!r}"), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    source = f"task {report['task']} on {report['data']}" if report["task"] else report["data"]
    skipped = f" ({scored.skipped} of other templates skipped)" if scored.skipped else ""
    if scored.no_gold:
        skipped += f" ({scored.no_gold} without a non-empty gold answer skipped)"
    interval = f"{summary.confidence:.0%} CI [{summary.ci_low:.4f}, {summary.ci_high:.4f}]"
    table.add_row("data", Text(cut(source)))
    table.add_row("outputs", Text(f"{report['outputs']} (scorer {report['scorer']})"))
    table.add_row("records", f"{summary.n}{skipped}")
    table.add_row("statistic", Text.assemble((f"{summary.statistic:.4f}", "bold"), f"  {interval}"))
    console.print(table)
    misaligned = sorted((s, i) for i, s in enumerate(scores) if s < 1.0)
    if not misaligned or not show:
        return
    worst = Table(title=f"Records that do not align ({len(misaligned)} of {summary.n})")
    for column in ("id", "score", "output", "expected (the rule's)", "inputs"):
        worst.add_column(column, overflow="fold")
    for value, i in misaligned[:show]:
        worst.add_row(
            Text(_short(scored.ids[i], 60)),
            f"{value:.2f}",
            Text(_short(scored.outputs[i], 60)),
            Text(_short(expected(scored.slots[i]), 60)),
            Text(_inputs(scored.slots[i])),
        )
    console.print(worst)


def _short(value: Any, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _inputs(slots: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {_short(v, 80)}" for k, v in slots.items())


def register(app: typer.Typer) -> None:
    app.command("score")(score_command)

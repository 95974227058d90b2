"""``cookbook write-template``: a writer writes a template (a module, or with ``--spec`` a
declarative spec) from a description and a few task records; Cookbook's sandboxed check accepts
it or returns its problems, which the writer sees on its next try; an accepted template becomes
a complete plugin package. ``--search`` finds a spec from the task records instead of asking a
model."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer

from cookbook import CookbookError, TaskRecord, get_registry, parse_assignments
from cookbook_plugins.template_writing import package_files as files
from cookbook_plugins.template_writing import prompts, scaffold

#: Task records shown to the writer.
SHOWN_RECORDS = 3
#: Task records a chosen rule's generator is fitted to (lengths, share of Yes, prompt).
SHAPE_RECORDS = 500
_REGISTERS = re.compile(r"^\s*def\s+register_templates\s*\(", re.MULTILINE)


@dataclass
class Attempt:
    """One try: the writer's reply, and the check's report (None when the reply had no code)
    and problems (empty when accepted)."""

    number: int
    reply: str
    problems: list[str]
    report: Any = None
    messages: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The try as one transcript line: what was asked, the reply, the verdict."""
        return {
            "try": self.number,
            "messages": self.messages,
            "reply": self.reply,
            "accepted": self.accepted,
            "problems": self.problems,
            "report": self.report.to_json() if self.report is not None else None,
        }

    @property
    def accepted(self) -> bool:
        return not self.problems


@dataclass
class Written:
    """An accepted template's package: its folder, names, the check's report and the tries."""

    folder: Path
    names: scaffold.PackageNames
    report: Any
    attempts: list[Attempt] = field(default_factory=list)
    #: The package file the check's verdict is about (``__init__.py`` or ``spec.yaml``).
    checked: str = "__init__.py"

    def report_text(self) -> str:
        """The check's report, naming the package's file instead of the temporary one."""
        own = self.folder / self.names.module / self.checked
        return self.report.text().rstrip().replace(str(self.report.path), str(own))


@dataclass(frozen=True)
class TaskData:
    """Real task records for the writer and the check: a task type, its data and parameters."""

    task: str
    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    split: str | None = None

    def records(self, limit: int | None = None) -> list[TaskRecord]:
        """The first ``limit`` records (all with None), read by the task's own reader."""
        from cookbook.engine import task_params

        task = get_registry().get("tasks", self.task)
        params = task_params(task, dict(self.params))
        return list(islice(task.read(self.path, self.split, **params), limit))


def default_check(path: Path, data: TaskData | None, samples: int, time_limit: float) -> Any:
    """``cookbook.engine.check_template`` on ``path``, with the task's records when given."""
    from cookbook.engine import check_template

    if data is None:
        return check_template(path, samples=samples, time_limit=time_limit)
    return check_template(
        path,
        task=data.task,
        task_path=data.path,
        task_params=dict(data.params),
        task_split=data.split,
        samples=samples,
        time_limit=time_limit,
    )


Check = Callable[[Path, "TaskData | None", int, float], Any]


def name_problems(report: Any) -> list[str]:
    """Problems with the accepted templates' names: one an installed plugin already uses, or
    one that cannot name a package."""
    registry = get_registry()
    problems = []
    for name in report.templates:
        if name in registry.names("templates"):
            problems.append(
                f"the template name {name!r} is already used by an installed plugin"
                f" ({registry.plugin_of('templates', name).name}); give the template another name"
            )
        try:
            scaffold.package_names(name)
        except CookbookError as exc:
            problems.append(str(exc))
    if not report.templates:
        problems.append("the check found no template in it")
    return problems


def try_params(
    params: Mapping[str, Any], number: int, retry_temperature: float | None
) -> dict[str, Any]:
    """The writer's parameters for try ``number``: from the second on, sampled at
    ``retry_temperature`` at least with the seed moved on, when the writer declares them."""
    chosen = dict(params)
    if number > 1 and retry_temperature is not None and "temperature" in chosen:
        chosen["temperature"] = max(float(chosen["temperature"]), retry_temperature)
        if isinstance(chosen.get("seed"), int):
            chosen["seed"] += number - 1
    return chosen


def write_template(
    description: str,
    output: Path,
    *,
    writer: str = "transformers",
    writer_params: Mapping[str, Any] | None = None,
    data: TaskData | None = None,
    tries: int = 3,
    spec: bool = False,
    rule: bool = False,
    name: str | None = None,
    samples: int = 300,
    time_limit: float = 60.0,
    check: Check = default_check,
    on_attempt: Callable[[Attempt], None] | None = None,
    on_stage: Callable[[int, str], None] | None = None,
    retry_temperature: float | None = 0.7,
    feedback: bool = True,
) -> Written:
    """Ask ``writer`` for a template up to ``tries`` times, each refused try's problems shown
    on the next, and write the first accepted one as a package in ``output``; when none is
    accepted, one error with the last problems, and nothing written. ``on_stage(try, what)``
    is told when a try starts writing and checking; ``on_attempt`` gets each finished try.
    Tries after the first sample at ``retry_temperature`` at least, each with its own seed,
    when the writer has those parameters (a greedy model would repeat its refused reply).
    With ``rule`` the writer only chooses a rule (a small JSON object, ``rules.py``) and the
    spec is built from it. Without ``feedback`` every try is asked afresh (independent samples:
    small models tend to echo the problems instead of fixing them)."""
    if tries < 1:
        raise CookbookError(f"--tries must be at least 1, not {tries}")
    scaffold.ensure_free_folder(output)
    component = get_registry().get("writers", writer)
    params = component.params.resolve(f"writer {writer!r}", writer_params)
    records = data.records(SHOWN_RECORDS) if data is not None else []
    task = data.task if data else None
    if rule:
        from cookbook_plugins.template_writing import rules

        spec, shaping = True, data.records(SHAPE_RECORDS) if data is not None else []
        first = rules.rule_messages(description, records, task)
    else:
        first = prompts.first_messages(description, spec=spec, records=records, task=task)
    messages, attempts = first, []
    suffix = ".yaml" if spec else ".py"
    what = "rule" if rule else "spec" if spec else "module"
    block = {"rule": "json", "spec": "yaml", "module": "python"}[what]
    with tempfile.TemporaryDirectory(prefix="cookbook-write-") as scratch:
        for number in range(1, tries + 1):
            if on_stage is not None:
                on_stage(number, "writing")
            reply = str(component.write(messages, **try_params(params, number, retry_temperature)))
            source = prompts.extract_source(reply, spec=spec)
            attempt = Attempt(number, reply, [], messages=messages)
            choice = source if rule else None
            if rule and source is not None:
                source, attempt.problems = rules.spec_from_choice(source, shaping)
            if source is None and not attempt.problems:
                attempt.problems = [f"the reply has no ```{block} block with the {what}"]
            elif source is not None:  # (a refused rule choice has problems and no source)
                path = Path(scratch) / f"try{number}" / f"written_template{suffix}"
                path.parent.mkdir()
                path.write_text(source + "\n", encoding="utf-8")
                if on_stage is not None:
                    on_stage(number, "checking")
                attempt.report = check(path, data, samples, time_limit)
                attempt.problems = list(attempt.report.problems)
                if attempt.report.accepted:
                    attempt.problems = name_problems(attempt.report)
                elif not attempt.problems:
                    attempt.problems = ["the check refused it without saying why"]
            attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)
            if attempt.accepted:
                assert source is not None
                return _package(
                    output, source, attempt, (attempts, tries), description, writer, params,
                    spec, name, choice,
                )  # fmt: skip
            if feedback:
                messages = prompts.retry_messages(first, reply, attempt.problems, what)
    last = "\n".join(f"  - {p}" for p in attempts[-1].problems)
    raise CookbookError(
        f"writer {writer!r}: no template was accepted in {tries} tr{'y' if tries == 1 else 'ies'};"
        f" nothing was written to {output}. The last try's problems:\n{last}"
    )


def _package(
    output: Path,
    source: str,
    attempt: Attempt,
    tried: tuple[list[Attempt], int],
    description: str,
    writer: str,
    params: Mapping[str, Any],
    spec: bool,
    name: str | None,
    choice: str | None = None,
) -> Written:
    """The accepted template's package, its README saying how it was written and checked
    (and, with ``--rule``, the rule the writer chose)."""
    attempts, tries = tried
    report = attempt.report
    names = scaffold.package_names(name or report.templates[0])
    model = params.get("model")
    how = (
        f"`cookbook write-template` with the writer `{writer}`"
        + (f" (model `{model}`)" if model else "")
        + f", accepted on try {attempt.number} of at most {tries}, from the description:\n\n"
        + "\n".join(f"> {line}" for line in description.strip().splitlines())
    )
    if choice is not None:
        how += (
            "\n\nThe writer chose the rule (`--rule`); Cookbook built the spec from it:"
            f"\n\n```json\n{choice.strip()}\n```"
        )
    summary = "A Cookbook template written by a model and checked by Cookbook"
    return _write(output, names, source, report, how, spec, attempts, summary=summary)


def _write(
    output: Path,
    names: scaffold.PackageNames,
    source: str,
    report: Any,
    how: str,
    spec: bool,
    attempts: list[Attempt],
    more: str = "",
    summary: str = "A Cookbook template",
) -> Written:
    """Write the package of an accepted module or spec ``source``; the README's check report
    names the package's file, not the temporary one that was checked."""
    checked = "spec.yaml" if spec else "__init__.py"
    if spec:
        module, artifacts = files.SPEC_MODULE, {"spec.yaml": source.rstrip() + "\n"}
    else:
        module = source.rstrip() + "\n"
        if not _REGISTERS.search(module):
            module += files.REGISTER_ALL
        artifacts = {}
    templates = ", ".join(f"`{t}`" for t in report.templates)
    summary = f"{summary}: {templates}."
    report_text = report.text().rstrip().replace(str(report.path), f"{names.module}/{checked}")
    extra = "\n".join(
        [
            "## How it was written",
            "",
            how,
            "",
            "## The check",
            "",
            "```text",
            report_text,
            "```",
            "",
            alignment_text(report.alignment),
            more,
        ]
    )
    folder = scaffold.write_package(
        output,
        names,
        module=module,
        test=names.fill(files.TEMPLATE_TEST, checked=checked),
        readme=scaffold.readme_text(names, summary, extra, checked=checked),
        summary=summary,
        artifacts=artifacts,
    )
    return Written(folder=folder, names=names, report=report, attempts=attempts, checked=checked)


def alignment_text(alignment: Mapping[str, Any] | None) -> str:
    """The README's alignment section: how far the task's records follow the template's rule."""
    if not alignment:
        return "## Alignment\n\nNo task records were given, so no alignment was measured.\n"
    mean, aligned = alignment.get("mean"), alignment.get("aligned")
    return (
        "## Alignment\n\n"
        f"Task `{alignment.get('task')}`, {alignment.get('records')} records: mean alignment"
        f" {_number(mean)}, share aligned {_number(aligned)} (the higher, the better the"
        " template's rule describes the task).\n"
    )


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else str(value)


def search_template(
    output: Path,
    data: TaskData,
    *,
    budget: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    name: str | None = None,
    samples: int = 300,
    time_limit: float = 60.0,
    check: Check = default_check,
    progress: Any = None,
) -> tuple[Written, list[Any]]:
    """Search specs for the one under which ``data``'s records align best, check it and write
    it as a package; returns the package and the search's results, best first."""
    import yaml

    from cookbook_plugins.template_writing.search import search_specs

    scaffold.ensure_free_folder(output)
    records = data.records(limit)
    if not records:
        raise CookbookError(f"task {data.task!r}: {data.path} has no records to search with")
    options: dict[str, Any] = {"seed": seed, "progress": progress}
    if budget is not None:
        options["budget"] = budget
    results = search_specs(records, **options)
    if not results:
        raise CookbookError(f"task {data.task!r}: the search found no spec")
    best = results[0]
    source = yaml.safe_dump(best.spec, sort_keys=False, allow_unicode=True)
    with tempfile.TemporaryDirectory(prefix="cookbook-search-") as scratch:
        path = Path(scratch) / "searched_spec.yaml"
        path.write_text(source, encoding="utf-8")
        report = check(path, data, samples, time_limit)
    problems = list(report.problems) if not report.accepted else name_problems(report)
    if problems:
        raise CookbookError(
            f"the search's best spec {best.name!r} was refused by the check; nothing was"
            f" written to {output}:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    names = scaffold.package_names(name or report.templates[0])
    how = (
        f"`cookbook write-template --search` over {len(records)} records of the task"
        f" `{data.task}` ({data.path}): the spec whose alignment on them is highest."
    )
    rows = "\n".join(f"| {r.name} | {r.alignment:.3f} |" for r in results[:10])
    more = f"\n## The search's best specs\n\n| spec | alignment |\n|---|---|\n{rows}\n"
    summary = "A Cookbook template found by Cookbook's alignment-guided search"
    written = _write(output, names, source, report, how, True, [], more, summary=summary)
    return written, results


Option = typer.Option


def write_template_command(
    output: Annotated[Path, Option("-o", "--output", help="The package folder to write.")],
    description: Annotated[
        str, typer.Argument(help="What the task is: its input and the rule for its answer.")
    ] = "",
    examples: Annotated[
        str | None, Option("--examples", help="A task's data: a few records are shown.")
    ] = None,
    task: Annotated[str | None, Option("--task", help="The task type reading --examples.")] = None,
    split: Annotated[
        str | None,
        Option("--split", help="Which split of --examples to read (default: the task's own)."),
    ] = None,
    param: Annotated[
        list[str] | None, Option("--param", "-p", help="Task parameter KEY=VALUE (repeatable).")
    ] = None,
    writer: Annotated[
        str | None,
        Option(help="The writer (default: openai with --endpoint, else transformers)."),
    ] = None,
    model: Annotated[
        str | None, Option("--model", help="The writer's model: a folder, alias or name.")
    ] = None,
    endpoint: Annotated[
        str | None, Option("--endpoint", help="An OpenAI-compatible endpoint URL.")
    ] = None,
    writer_param: Annotated[
        list[str] | None,
        Option("--writer-param", "-w", help="Writer parameter KEY=VALUE (repeatable)."),
    ] = None,
    tries: Annotated[int, Option(min=1, help="Tries before giving up.")] = 3,
    spec: Annotated[bool, Option("--spec", help="Ask for a declarative spec.")] = False,
    rule: Annotated[
        bool,
        Option(
            "--rule",
            help="Ask the writer only to choose a rule (a JSON object: operation, slots, k or"
            " threshold); Cookbook builds the spec from it.",
        ),
    ] = False,
    search: Annotated[
        bool, Option("--search", help="Search specs on the task's records; no model.")
    ] = False,
    budget: Annotated[int | None, Option(min=1, help="Specs the search tries.")] = None,
    seed: Annotated[int, Option(help="The search's seed.")] = 0,
    name: Annotated[str | None, Option(help="Plugin name (default: the template's).")] = None,
    samples: Annotated[int, Option(min=1, help="Samples the check scores.")] = 300,
    time_limit: Annotated[float, Option(min=1, help="The check's seconds per run.")] = 60.0,
    retry_temperature: Annotated[
        float,
        Option(min=0, help="Sampling temperature (at least) of the tries after the first."),
    ] = 0.7,
    feedback: Annotated[
        bool,
        Option(
            "--feedback/--no-feedback",
            help="Show each retry the refused reply and its problems (--no-feedback: ask every"
            " try afresh).",
        ),
    ] = True,
    transcript: Annotated[
        Path | None,
        Option(help="Write each try (messages, reply, problems) to this JSON-lines file."),
    ] = None,
) -> None:
    """A model writes a template for DESCRIPTION; Cookbook checks it in a sandbox, retries with
    the check's problems, and writes the accepted one as a plugin package (-o DIR)."""
    from rich.console import Console

    err = Console(stderr=True)
    if (examples is None) != (task is None):
        raise CookbookError("write-template: --examples and --task go together")
    if split is not None and examples is None:
        raise CookbookError("write-template: --split applies to --examples data only")
    data = None
    if examples is not None and task is not None:
        data = TaskData(task, examples, dict(parse_assignments(param, "--param")), split)
    if search and (spec or rule):
        asked = "--rule" if rule else "--spec"
        raise CookbookError(f"write-template: --search asks no model, {asked} asks one: give one")
    if search:
        if data is None:
            raise CookbookError("write-template --search needs --examples FILE --task TYPE")
        from cookbook.engine import progress_bar
        from cookbook_plugins.template_writing.search import DEFAULT_BUDGET

        with progress_bar("searching specs", budget or DEFAULT_BUDGET) as advance:
            written, results = search_template(
                output, data, budget=budget, seed=seed, name=name, samples=samples,
                time_limit=time_limit, progress=advance,
            )  # fmt: skip
        for result in results[:5]:
            err.print(f"  {result.alignment:.3f}  {result.name}")
        _report(written)
        return
    if not description.strip():
        raise CookbookError("write-template: describe the task (or use --search)")
    writer = writer or ("openai" if endpoint else "transformers")
    chosen = dict(parse_assignments(writer_param, "--writer-param"))
    if model is not None:
        chosen["model"] = model
    if endpoint is not None:
        chosen["endpoint"] = endpoint

    if transcript is not None:
        transcript.parent.mkdir(parents=True, exist_ok=True)
        transcript.write_text("", encoding="utf-8")

    def show(attempt: Attempt) -> None:
        if transcript is not None:
            with transcript.open("a", encoding="utf-8") as f:
                f.write(json.dumps(attempt.to_json(), ensure_ascii=False) + "\n")
        if attempt.accepted:
            err.print(f"[green]try {attempt.number}/{tries}: accepted[/]")
            return
        err.print(f"[yellow]try {attempt.number}/{tries}: refused[/]")
        for problem in attempt.problems:
            err.print(f"  - {problem}", markup=False, highlight=False)

    written = write_template(
        description, output, writer=writer, writer_params=chosen, data=data, tries=tries,
        spec=spec, rule=rule, name=name, samples=samples, time_limit=time_limit,
        on_attempt=show,
        on_stage=lambda number, what: err.print(f"try {number}/{tries}: {what}...", style="dim"),
        retry_temperature=retry_temperature, feedback=feedback,
    )  # fmt: skip
    _report(written)


def _report(written: Written) -> None:
    typer.echo(written.report_text())
    typer.echo(
        f"wrote {written.folder}: pip install {written.folder} (plugin {written.names.name})"
    )


def register(cli: typer.Typer) -> None:
    cli.command("write-template")(write_template_command)

"""``cookbook eval``: JSON and table views, generations written for ``cookbook score``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("transformers")

from eval_helpers import FAKE_PLUGIN, FIXTURES, SQUAD, one_thread, tiny_vocabulary, write_data  # noqa: E402
from tiny_llama import build_tiny_llama  # noqa: E402

from cookbook import CookbookError  # noqa: E402
from cookbook.cli import app  # noqa: E402


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    yield from one_thread(monkeypatch)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny"), tiny_vocabulary()))


@pytest.fixture
def fake_plugin(install_fake, tmp_path):
    install_fake("cookbook-fake-tasks", "fake_tasks", FAKE_PLUGIN)
    return write_data(tmp_path)


def run(*args: str):
    return CliRunner().invoke(app, ["eval", *args, "--no-progress"])


def run_json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_squad_json_has_em_f1_and_alignment_and_generations_feed_score(tiny_model, tmp_path):
    out = tmp_path / "generations.jsonl"
    result = run_json(
        "--task", "squad", "--data", str(SQUAD), "--model", tiny_model, "--output", str(out)
    )
    assert result["task"] == "squad" and result["template"] == "document_qa"
    assert result["n"] >= 2
    assert 0 <= result["em"] <= 100 and 0 <= result["f1"] <= 100
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == result["n"]
    fields = {"id", "prompt", "references", "output", "metric", "alignment"}
    assert all(set(x) == fields for x in lines)  # lm-eval's --log_samples, per record
    from cookbook import get_registry

    task = get_registry().get("tasks", "squad")
    records = {r.id: r for r in task.read(str(SQUAD))}
    for line in lines:
        record = records[line["id"]]
        assert line["references"] == record.answers and record.prompt in line["prompt"]
        assert line["metric"] == {"f1": task.metric([record], [line["output"]])["f1"]}
    assert sum(x["metric"]["f1"] for x in lines) / len(lines) == pytest.approx(result["f1"])
    assert sum(x["alignment"] for x in lines) / len(lines) == pytest.approx(result["alignment"])
    scored = CliRunner().invoke(
        app,
        ["score", "document_qa", "--task", "squad", "--data", str(SQUAD)]
        + ["--generations", str(out), "--json"],
    )
    assert scored.exit_code == 0, scored.output
    score = json.loads(scored.stdout)
    assert score["n"] == result["n"]
    assert score["statistic"] == pytest.approx(result["alignment"])


def test_limit_counts_records(tiny_model):
    result = run_json(
        "--task", "squad", "--data", str(SQUAD), "--model", tiny_model, "--limit", "1"
    )
    assert result["n"] == 1


def test_table_view_shows_the_metrics_and_the_alignment(tiny_model, fake_plugin):
    copy, _ = fake_plugin
    result = run("--task", "copy", "--data", str(copy), "--model", tiny_model)
    assert result.exit_code == 0, result.output
    for word in ("copy", "records", "accuracy", "words", "alignment"):
        assert word in result.output


def test_choice_task_json_reports_accuracy(tiny_model, fake_plugin):
    _, pick = fake_plugin
    result = run_json("--task", "pick", "--data", str(pick), "--model", tiny_model)
    assert result["n"] == 5 and 0 <= result["accuracy"] <= 100
    assert 0 <= result["alignment"] <= 1


def test_deepmatcher_fits_its_threshold_on_another_split(tiny_model):
    fixture = str(FIXTURES / "deepmatcher")
    result = run_json(
        "--task", "deepmatcher", "--data", fixture, "--model", tiny_model,
        "--calibrate-split", "train",
    )  # fmt: skip
    assert result["n"] == 4 and "threshold" in result
    assert {"f1", "precision", "recall"} <= result.keys()


def test_template_mode_reports_alignment_and_exact(tiny_model, fake_plugin, tmp_path):
    out = tmp_path / "t.jsonl"
    result = run_json(
        "--template", "copy_word", "--model", tiny_model, "-n", "3", "--tokens", "tiny_words",
        "-p", "length=2", "--output", str(out),
    )  # fmt: skip
    assert result["template"] == "copy_word" and result["n"] == 3
    assert 0 <= result["exact"] <= 1 and 0 <= result["alignment"] <= 1
    assert len(out.read_text().splitlines()) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "either --task"),
        (["--task", "squad", "--template", "document_qa"], "either --task"),
        (["--task", "squad"], "--data"),
        (["--template", "document_qa", "--data", "x"], "--data applies to --task"),
        (["--task", "squad", "--data", "missing.json"], "no such file"),
        (["--task", "squad", "--data", "x", "--chat-template", "maybe"], "true, false or auto"),
        (["--template", "document_qa", "--chat-template", "false"], "applies to --task"),
        (["--template", "document_qa", "--threshold", "1"], "--threshold applies to --task"),
        (["--task", "deepmatcher", "--data", "x", "--calibrate-limit", "5"], "--calibrate-split"),
        (["--task", "deepmatcher", "--data", "x", "--calibrate-data", "x"], "evaluated records"),
        (
            [
                "--task",
                "deepmatcher",
                "--data",
                "x",
                "--split",
                "valid",
                "--calibrate-split",
                "valid",
            ],
            "evaluated records",
        ),
    ],
)
def test_bad_options_are_clear_errors(args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert isinstance(result.exception, CookbookError)
    assert message in str(result.exception)


@pytest.mark.parametrize(
    "extra, shown",
    [((), "lm-eval/copa plain text"), (("-p", "format=lettered"), "lettered/copa")],
)
def test_the_table_names_the_prompt_convention(tiny_model, extra, shown):
    copa = str(FIXTURES / "multiple_choice" / "hf" / "copa.jsonl")
    result = run("--task", "copa", "--data", copa, "--model", tiny_model, *extra)
    assert result.exit_code == 0, result.output
    assert shown in " ".join(result.output.split())


def test_a_task_no_template_describes_has_no_alignment_column(tiny_model):
    seed = str(FIXTURES / "backtranslation" / "seed.jsonl")
    result = run("--task", "instructions", "--data", seed, "--model", tiny_model,
                 "-p", "holdout=1", "--max-new-tokens", "4")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "no template describes this task" in " ".join(result.output.split())
    as_json = run_json("--task", "instructions", "--data", seed, "--model", tiny_model,
                       "-p", "holdout=1", "--max-new-tokens", "4")  # fmt: skip
    assert as_json["alignment"] is None and as_json["template"] is None
    assert 0 <= as_json["rouge_l"] <= 100 and as_json["n"] == 1


def test_a_choice_task_logs_each_choice_and_whether_it_was_right(tiny_model, tmp_path):
    copa = str(FIXTURES / "multiple_choice" / "hf" / "copa.jsonl")
    out = tmp_path / "copa.jsonl"
    result = run_json("--task", "copa", "--data", copa, "--model", tiny_model, "-o", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == result["n"]
    for line in lines:
        values = line["loglikelihoods"]
        assert len(values) == len(line["choices"]) == 2 and line["gold"] in (0, 1)
        assert line["chosen"] == values.index(max(values))
        assert line["metric"] == {"accuracy": 100.0 * (line["chosen"] == line["gold"])}
    mean = sum(x["metric"]["accuracy"] for x in lines) / len(lines)
    assert mean == pytest.approx(result["accuracy"])

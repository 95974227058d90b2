"""``cookbook score``: the alignment statistic of samples, a task's gold answers or generations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cookbook import CookbookError
from cookbook.cli import app
from cookbook.engine.samples import SampleMaker
from cookbook.engine.token_spaces import resolve_token_space
from cookbook.registry import get_registry

FIXTURES = Path(__file__).parent / "fixtures"
SQUAD = FIXTURES / "qa" / "squad_small.json"
COPA = FIXTURES / "multiple_choice" / "copa_small.jsonl"


def score(*args: str):
    return CliRunner().invoke(app, ["score", *args])


def score_json(*args: str) -> dict:
    result = score(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def write_samples(path: Path, name: str, n: int, seed: int = 0) -> list[dict]:
    registry = get_registry()
    tpl = registry.get("templates", name)
    maker = SampleMaker(
        tpl, name, tpl.resolve(), seed, resolve_token_space("pseudowords", registry)
    )
    records = [maker.record(i) for i in range(n)]
    with path.open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    return records


def test_generated_samples_align_perfectly(tmp_path):
    data = tmp_path / "s.jsonl"
    write_samples(data, "retrieval", 12)
    out = score_json("retrieval", "--data", str(data))
    assert out["template"] == "retrieval"
    assert (out["statistic"], out["n"], out["ci_low"], out["ci_high"]) == (1.0, 12, 1.0, 1.0)
    assert out["outputs"] == "samples"


def test_records_of_other_templates_are_skipped_and_limit_counts_the_rest(tmp_path):
    data = tmp_path / "mix.jsonl"
    write_samples(data, "document_qa", 5)
    write_samples(data, "multiple_choice", 7)
    out = score_json("multiple_choice", "--data", str(data), "--limit", "4")
    assert (out["n"], out["skipped"], out["statistic"]) == (4, 5, 1.0)


def test_task_gold_answers_are_scored_with_the_template(tmp_path):
    out = score_json("document_qa", "--task", "squad", "--data", str(SQUAD))
    assert out["n"] == 3 and out["task"] == "squad" and out["outputs"] == "gold"
    assert 0.0 <= out["ci_low"] <= out["statistic"] <= out["ci_high"] <= 1.0
    from cookbook.engine.alignment import alignment_scores
    from cookbook_plugins.qa.squad_task import squad

    records = list(squad.read(str(SQUAD)))
    expected = alignment_scores(
        get_registry().get("templates", "document_qa"),
        [r.slots for r in records],
        [r.answers for r in records],
    )
    assert out["statistic"] == pytest.approx(sum(expected) / 3)


def test_another_templates_task_is_scored_as_the_pipeline_scores_it():
    from cookbook.engine.mixing import alignment_matrix
    from cookbook_plugins.qa.squad_task import squad

    out = score_json("typed_qa", "--task", "squad", "--data", str(SQUAD))
    typed_qa = get_registry().get("templates", "typed_qa")
    matrix = alignment_matrix({"squad": squad.read(str(SQUAD))}, [typed_qa])
    assert out["n"] == 3 and out["scorer"] == "typed_qa"
    assert out["statistic"] == pytest.approx(matrix.as_mapping()["squad"]["typed_qa"])


def test_generations_replace_the_gold_answers_matched_by_id(tmp_path):
    generations = tmp_path / "g.jsonl"
    generations.write_text('{"id": "copa_small-1", "output": "nonsense"}\n')
    gold = score_json("multiple_choice", "--task", "multiple_choice", "--data", str(COPA))
    model = score_json(
        "multiple_choice",
        "--task",
        "multiple_choice",
        "--data",
        str(COPA),
        "--generations",
        str(generations),
    )
    assert gold["statistic"] > 0.0
    assert model["statistic"] == 0.0 and model["outputs"] == "generations"


def test_a_missing_generation_is_a_clear_error(tmp_path):
    generations = tmp_path / "g.jsonl"
    generations.write_text('{"id": "q-built", "output": "Robert Stevenson"}\n')
    result = score(
        "document_qa", "--task", "squad", "--data", str(SQUAD), "--generations", str(generations)
    )
    assert isinstance(result.exception, CookbookError)
    assert "no output for record 'q-when', 'q-tay'" in str(result.exception)


def test_a_named_scorer_is_used(tmp_path):
    lambada = FIXTURES / "multiple_choice" / "lambada_small.jsonl"
    args = ("fill_in_the_blank", "--task", "cloze", "--data", str(lambada))
    strict, loose = score_json(*args), score_json(*args, "--scorer", "context_copy")
    assert loose["scorer"] == "context_copy"
    assert loose["statistic"] == 1.0 > strict["statistic"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (
            ["multiple_choice", "--task", "squad"],
            "record q-built with 'multiple_choice' failed: the record has no slot 'options'",
        ),
        (["document_qa", "--split", "dev"], "--split applies to --task data only"),
        (["documnt_qa"], "did you mean 'document_qa'"),
        (["document_qa", "--task", "squad", "--scorer", "context_copy"], "not 'document_qa'"),
    ],
)
def test_bad_combinations_are_clear_errors(args, fragment):
    result = score(*args, "--data", str(SQUAD))
    assert isinstance(result.exception, CookbookError), result.output
    assert fragment in str(result.exception)


def test_samples_without_the_output_slot_are_an_error_naming_the_record(tmp_path):
    data = tmp_path / "s.jsonl"
    data.write_text('{"id": "x-1", "template": "retrieval", "slots": {"query": "a"}}\n')
    result = score("retrieval", "--data", str(data))
    assert "record x-1: needs 'slots' holding the output slot 'answer'" in str(result.exception)


def test_table_view_shows_the_statistic_interval_and_misaligned_records(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line
    data = tmp_path / "s.jsonl"
    records = write_samples(data, "document_qa", 6)
    generations = tmp_path / "g.jsonl"
    generations.write_text(
        "".join(
            json.dumps({"id": r["id"], "output": "zzz" if i == 2 else r["slots"]["answer"]}) + "\n"
            for i, r in enumerate(records)
        )
    )
    result = score("document_qa", "--data", str(data), "--generations", str(generations))
    assert result.exit_code == 0, result.output
    assert "0.8333" in result.output and "95% CI" in result.output
    assert "Records that do not align (1 of 6)" in result.output
    assert records[2]["id"] in result.output
    row = next(line for line in result.output.splitlines() if "zzz" in line)
    assert "expected (the rule's)" in result.output
    assert records[2]["slots"]["answer"].split()[0] in row  # the rule's answer beside it


def test_the_cli_prints_errors_without_a_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookbook",
            "score",
            "document_qa",
            "--task",
            "squad",
            "--data",
            str(tmp_path / "missing.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "missing.json: no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_scorer_takes_the_template_parameters_it_declares_and_its_own():
    from cookbook import Scorer
    from cookbook.engine.alignment import alignment_scores

    calls = []

    def floored(slots, output, k: int = 3, floor: float = 0.0) -> float:
        calls.append((k, floor))
        return max(floor, 0.0)

    scorer = Scorer("floored", "document_qa", floored)
    template = get_registry().get("templates", "document_qa")
    assert alignment_scores(template, [{}], ["x"], {"k": 2, "floor": 0.5}, scorer) == [0.5]
    assert calls == [(2, 0.5)]
    with pytest.raises(CookbookError, match="scorer 'floored': flor: unknown parameter 'flor'"):
        alignment_scores(template, [{}], ["x"], {"flor": 0.5}, scorer)
    with pytest.raises(CookbookError, match="template 'document_qa': k: 'two' is not of type"):
        alignment_scores(template, [{}], ["x"], {"k": "two"}, scorer)

"""The squad task: SQuAD v1.1 JSON into document_qa records, official EM and F1."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook.registry import get_registry
from cookbook_plugins.qa.squad_task import exact_match, f1, normalize_answer, squad

QA = Path(__file__).parent / "fixtures" / "qa"


def test_the_task_is_registered_and_maps_into_document_qa():
    task = get_registry().get("tasks", "squad")
    assert task is squad
    assert (task.template, task.mode) == ("document_qa", "generate")


def test_records_hold_paragraph_question_answers_and_the_template_prompt():
    records = list(squad.read(str(QA / "squad_small.json")))
    assert [r.id for r in records] == ["q-built", "q-when", "q-tay"]  # unanswerable skipped
    first = records[0]
    assert first.slots == {
        "document": first.slots["document"],
        "question": "Who built the Bell Rock Lighthouse?",
    }
    assert first.slots["document"].startswith("The Bell Rock Lighthouse")
    assert first.answers == ["Robert Stevenson", "Stevenson"]
    assert first.prompt == (
        f"Context: {first.slots['document']}\nQuestion: {first.slots['question']}\nAnswer:"
    )
    assert first.choices is None


def test_a_folder_and_split_pick_the_file(tmp_path):
    (tmp_path / "tiny_dev.json").write_text((QA / "squad_small.json").read_text())
    (tmp_path / "tiny_train.json").write_text('{"data": []}')
    assert len(list(squad.read(str(tmp_path), split="dev"))) == 3
    assert list(squad.read(str(tmp_path), split="train")) == []
    with pytest.raises(CookbookError, match="name one with --split"):
        list(squad.read(str(tmp_path)))


def test_the_prompt_format_can_be_overridden():
    record = next(squad.read(str(QA / "squad_small.json"), prompt="Q: {question}\nA:"))
    assert record.prompt == "Q: Who built the Bell Rock Lighthouse?\nA:"


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("missing.json", "no such file or folder"),
        ("squad_bad_json.json", "squad_bad_json.json:2:"),
        ("squad_bad_structure.json", "data[0].paragraphs[0].qas[0]: 'question' must be a string"),
    ],
)
def test_bad_files_are_clear_errors_naming_the_place(name, fragment):
    with pytest.raises(CookbookError) as err:
        list(squad.read(str(QA / name)))
    assert fragment in str(err.value)


def test_official_normalisation_and_scores():
    assert normalize_answer("The  Bell-Rock, a lighthouse!") == "bellrock lighthouse"
    assert exact_match("the Robert Stevenson.", "Robert Stevenson") == 1.0
    assert f1("Robert Louis Stevenson", "Robert Stevenson") == pytest.approx(0.8)
    assert f1("nothing", "Robert Stevenson") == 0.0


def test_metric_is_the_best_over_gold_answers_in_percent():
    records = list(squad.read(str(QA / "squad_small.json")))
    outputs = ["Stevenson", "in 1807", "about 117 miles long"]
    metrics = squad.metric(records, outputs)
    assert metrics["em"] == pytest.approx(100 / 3)
    expected_f1 = 1.0 + f1("in 1807", "between 1807 and 1810") + f1(outputs[2], "about 117 miles")
    assert metrics["f1"] == pytest.approx(100 * expected_f1 / 3)
    with pytest.raises(CookbookError, match="3 records but 2 outputs"):
        squad.metric(records, outputs[:2])


def test_a_byte_order_mark_before_the_json_is_read_past(tmp_path):
    from cookbook_plugins.qa.squad_task import squad

    source = Path(__file__).parent / "fixtures" / "qa" / "squad_small.json"
    marked = tmp_path / "marked.json"
    marked.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())
    expected = [(r.id, r.answers) for r in squad.read(str(source))]
    assert [(r.id, r.answers) for r in squad.read(str(marked))] == expected

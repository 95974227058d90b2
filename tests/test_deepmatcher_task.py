"""The deepmatcher task: DeepMatcher folders mapped into entity_matching, and F1 of matches."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook.registry import get_registry
from cookbook_plugins.entity_matching.deepmatcher_task import deepmatcher
from cookbook_plugins.entity_matching.template import entity_matching

FIXTURE = Path(__file__).parent / "fixtures" / "deepmatcher"


@pytest.fixture
def dataset(tmp_path):
    """A writable copy of the fixture folder."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "data"))


def test_deepmatcher_is_registered_for_entity_matching():
    task = get_registry().get("tasks", "deepmatcher")
    assert task is deepmatcher
    assert (task.template, task.mode) == ("entity_matching", "choice")


def test_reads_the_test_split_by_default_into_serialised_records():
    records = list(deepmatcher.read(str(FIXTURE)))
    assert [r.answers for r in records] == [["Yes"], ["Yes"], ["No"], ["No"]]
    first = records[0]
    assert set(first.slots) == {"entity_a", "entity_b"}
    assert first.slots["entity_a"] == (
        "name: golden dragon palace. city: san francisco. phone: 415-555-0101"
    )
    assert first.prompt == entity_matching.render({**first.slots, "answer": "Yes"}, {})[0]
    assert first.id == "test-0-10"
    assert records[1].slots["entity_a"].startswith("name: joe 's diner, downtown. city: new york")
    assert "city: nan" in records[2].slots["entity_a"]  # a missing value


def test_other_splits_and_excluded_columns():
    records = list(deepmatcher.read(str(FIXTURE), split="train", exclude=["phone"]))
    assert [r.answers[0] for r in records] == ["Yes", "No"]
    assert "phone" not in records[0].slots["entity_a"]


def test_gold_answers_align_with_the_template_on_the_fixture():
    records = list(deepmatcher.read(str(FIXTURE)))
    params = entity_matching.resolve()
    assert [entity_matching.align(r.slots, r.answers[0], params) for r in records] == [1.0] * 4


def test_metric_is_f1_of_the_matching_class():
    records = list(deepmatcher.read(str(FIXTURE)))  # gold: Yes Yes No No
    perfect = deepmatcher.metric(records, ["Yes", "yes.", "No", "no"])
    assert perfect == {"f1": 100.0, "precision": 100.0, "recall": 100.0}
    mixed = deepmatcher.metric(records, ["Yes, same.", "I cannot tell", "Yes", "No"])
    assert mixed["precision"] == 50.0 and mixed["recall"] == 50.0 and mixed["f1"] == 50.0
    assert deepmatcher.metric(records, ["No"] * 4)["f1"] == 0.0
    with pytest.raises(CookbookError, match="4 records but 3 outputs"):
        deepmatcher.metric(records, ["Yes"] * 3)


def test_a_missing_folder_or_split_is_a_clear_error(tmp_path):
    with pytest.raises(CookbookError, match="no such folder"):
        list(deepmatcher.read(str(tmp_path / "nope")))
    with pytest.raises(CookbookError, match=r"no such split \(found: test, train\)"):
        list(deepmatcher.read(str(FIXTURE), split="valid"))


def test_an_unknown_id_names_the_file_and_line(dataset):
    (dataset / "test.csv").write_text("ltable_id,rtable_id,label\n0,10,1\n0,99,0\n")
    with pytest.raises(CookbookError, match=r"test\.csv:3: rtable_id '99' is not in tableB"):
        list(deepmatcher.read(str(dataset)))


def test_a_bad_label_names_the_file_and_line(dataset):
    (dataset / "test.csv").write_text("ltable_id,rtable_id,label\n0,10,yes\n")
    with pytest.raises(CookbookError, match=r"test\.csv:2: label must be 0 or 1"):
        list(deepmatcher.read(str(dataset)))


def test_a_missing_column_or_ragged_row_names_the_file(dataset):
    (dataset / "tableA.csv").write_text("key,name\n0,x\n")
    with pytest.raises(CookbookError, match=r"tableA\.csv:1: header lacks column\(s\) id"):
        list(deepmatcher.read(str(dataset)))
    (dataset / "tableA.csv").write_text("id,name,city\n0,x,y\n1,z\n")
    with pytest.raises(CookbookError, match=r"tableA\.csv:3: expected 3 fields"):
        list(deepmatcher.read(str(dataset)))


def test_a_byte_order_mark_on_the_tables_is_read_past(dataset):
    """Spreadsheet exports start a CSV file with a UTF-8 byte order mark."""
    expected = [(r.id, r.slots, r.answers) for r in deepmatcher.read(str(dataset))]
    for table in dataset.glob("*.csv"):
        table.write_bytes(b"\xef\xbb\xbf" + table.read_bytes())
    assert [(r.id, r.slots, r.answers) for r in deepmatcher.read(str(dataset))] == expected

"""The cloze task: LAMBADA JSONL into fill_in_the_blank records, first-word accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook.registry import get_registry
from cookbook_plugins.fill_in_the_blank.cloze_task import cloze, word_key

MC = Path(__file__).parent / "fixtures" / "multiple_choice"


def test_the_task_is_registered_and_maps_into_fill_in_the_blank():
    assert get_registry().get("tasks", "cloze") is cloze
    assert (cloze.template, cloze.mode) == ("fill_in_the_blank", "generate")


def test_records_are_the_context_as_prompt_and_the_word_as_answer():
    records = list(cloze.read(str(MC / "lambada_small.jsonl")))
    assert [r.id for r in records] == ["lambada_small-1", "lambada_small-2", "lambada_small-3"]
    assert records[1].slots == {
        "context": "Tom gave the keys to Anna. Anna opened the door and gave the keys back to"
    }
    assert records[1].prompt == records[1].slots["context"]
    assert records[1].answers == ["Tom"]


def test_first_word_comparison_ignores_case_and_punctuation_only():
    assert word_key("Kettle. And then") == word_key("kettle")
    assert word_key("kettles") != word_key("kettle")
    assert word_key("a") == ["a"]
    assert word_key("") == []


def test_accuracy_counts_records_whose_first_generated_word_is_right():
    records = list(cloze.read(str(MC / "lambada_small.jsonl")))
    assert cloze.metric(records, [" kettle to boil", "Tom.", "gate"]) == {"accuracy": 100 * 2 / 3}
    assert cloze.metric(records, ["", "", ""]) == {"accuracy": 0.0}


def test_a_record_without_continuation_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"context": "a b", "continuation": "c"}\n{"context": "a b"}\n')
    with pytest.raises(CookbookError, match=r"bad.jsonl:2: missing field 'continuation'"):
        list(cloze.read(str(path)))

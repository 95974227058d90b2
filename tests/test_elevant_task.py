"""The elevant task: ELEVANT JSONL mapped into entity_disambiguation, candidates built offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook.registry import get_registry
from cookbook_plugins.entity_disambiguation.elevant_task import elevant
from cookbook_plugins.entity_disambiguation.template import entity_disambiguation, parse_candidates

FOLDER = Path(__file__).parent / "fixtures" / "elevant"
FILE = FOLDER / "tiny.benchmark.jsonl"


def _records(**params):
    return {r.id: r for r in elevant.read(str(FILE), **params)}


def test_elevant_is_registered_for_entity_disambiguation():
    task = get_registry().get("tasks", "elevant")
    assert task is elevant
    assert (task.template, task.mode) == ("entity_disambiguation", "generate")


def test_linked_mentions_become_records_and_nil_mentions_are_skipped():
    records = _records()
    assert len(records) == 9  # 4 + 3 + 2; the <NIL> mention of document 2 is left out
    steve = records["0-0"]
    assert steve.slots["mention"] == "Steve"
    assert steve.slots["context"] == "Steve founded Apple with Wozniak in California."
    assert steve.answers == ["Steve Jobs"] and steve.choices[steve.gold] == "Steve Jobs"
    assert steve.prompt == entity_disambiguation.render({**steve.slots, "answer": "x"}, {})[0]


def test_candidates_share_the_mention_first_and_include_the_gold_once():
    for record in _records(candidates=3).values():
        names = [name for name, _ in parse_candidates(record.slots["candidates"])]
        assert len(names) == 3 and names.count(record.answers[0]) == 1
    steve = _records(candidates=3)["0-0"]
    assert sorted(steve.choices) == ["Steve Ballmer", "Steve Jobs", "Steve Wozniak"]


def test_descriptions_leave_out_the_records_own_document():
    described = dict(parse_candidates(_records(candidates=3)["0-0"].slots["candidates"]))
    # Steve Jobs is mentioned with California and Wozniak only in document 0 itself.
    assert described["Steve Jobs"] == "person; mentioned with Apple, Pixar"
    assert described["Steve Wozniak"] == "person"
    assert described["Steve Ballmer"] == "person; mentioned with Microsoft"


def test_candidate_order_is_a_fixed_shuffle():
    first, again = _records(), _records()
    assert all(first[k].slots == again[k].slots for k in first)
    assert len({r.gold for r in first.values()}) > 1


def test_gold_answers_follow_the_rule_where_the_benchmark_supports_it():
    params = entity_disambiguation.resolve()
    steve = _records(candidates=3)["0-0"]
    assert entity_disambiguation.align(steve.slots, "Steve Jobs", params) == 1.0
    assert entity_disambiguation.align(steve.slots, "Steve Ballmer", params) == 0.0


def test_context_is_a_window_of_words_around_the_mention(tmp_path):
    text = " ".join(f"w{i}" for i in range(50)) + " Steve, " + " ".join(f"v{i}" for i in range(50))
    start = text.index("Steve")
    label = {"span": [start, start + 5], "entity_id": "Q1", "name": "Steve Jobs", "type": ""}
    (tmp_path / "x.benchmark.jsonl").write_text(json.dumps({"text": text, "labels": [label]}))
    record = next(elevant.read(str(tmp_path), split="x", window=2))
    assert record.slots["context"] == "w48 w49 Steve, v0 v1"


def test_a_folder_needs_a_benchmark_name():
    assert len(list(elevant.read(str(FOLDER), split="tiny"))) == 9
    with pytest.raises(CookbookError, match=r"name a benchmark with --split \(found: tiny\)"):
        list(elevant.read(str(FOLDER)))
    with pytest.raises(CookbookError, match="no benchmark 'kore50'"):
        list(elevant.read(str(FOLDER), split="kore50"))


def test_metric_is_accuracy_over_candidate_names():
    records = list(_records().values())
    gold = [r.answers[0] for r in records]
    assert elevant.metric(records, gold) == {"accuracy": 100.0}
    sloppy = [f" {g.lower()}." for g in gold]
    assert elevant.metric(records, sloppy) == {"accuracy": 100.0}
    wrong = ["Frobozz"] * len(records)
    assert elevant.metric(records, wrong) == {"accuracy": 0.0}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"x\.benchmark\.jsonl:2: not valid JSON"),
        ('{"labels": []}', r"x\.benchmark\.jsonl:2: missing field 'text'"),
        (
            '{"text": "abc", "labels": [{"span": [1, 9], "entity_id": "Q1", "name": "A"}]}',
            r"x\.benchmark\.jsonl:2: labels\[0\]: span \[1, 9\] is outside the text",
        ),
    ],
)
def test_bad_lines_name_the_file_and_line(tmp_path, line, message):
    (tmp_path / "x.benchmark.jsonl").write_text(FILE.read_text().splitlines()[0] + "\n" + line)
    with pytest.raises(CookbookError, match=message):
        list(elevant.read(str(tmp_path / "x.benchmark.jsonl")))

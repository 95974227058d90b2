"""Alignment-guided search: records made by a hidden spec lead the search back to that spec
(or one under which they align perfectly) within a stated budget, deterministically."""

from __future__ import annotations

import pytest

from cookbook import CookbookError, TaskRecord, get_registry, template_from_spec
from cookbook.engine import SampleMaker, resolve_token_space
from cookbook_plugins.template_writing.search import (
    candidates,
    describe,
    make_spec,
    search_specs,
)

#: The budget every recovery test states: specs evaluated at most.
BUDGET = 40


def records_of(spec: dict, n: int = 40, drop: tuple[str, ...] = ()) -> list[TaskRecord]:
    """``n`` records a spec generates, as a task would give them: input slots (less
    ``drop``, e.g. a position real data does not have) and the answer as the gold one."""
    template = template_from_spec(spec)
    tokens = resolve_token_space("pseudowords", get_registry())
    maker = SampleMaker(template, template.name, template.resolve(), 11, tokens)
    out = []
    for i in range(n):
        slots = dict(maker.record(i)["slots"])
        answer = str(slots.pop(template.output))
        for name in drop:
            slots.pop(name)
        out.append(TaskRecord(id=str(i), slots=slots, answers=[answer]))
    return out


def hidden(choices: dict, slots: dict[str, tuple[int, int]], yes_no=False) -> dict:
    """The spec the search must find, made from choices it does not see."""
    from cookbook_plugins.template_writing.search import Shape

    return make_spec(choices, Shape(tuple(slots), slots, yes_no, 3))


@pytest.mark.parametrize(
    ("choices", "slots", "drop"),
    [
        (
            {"op": "span", "document": "passage", "question": "query", "side": "after", "k": 2},
            {"passage": (30, 60), "query": (2, 4)},
            ("position",),
        ),
        (
            {"op": "span", "document": "passage", "question": "query", "side": "before", "k": 4},
            {"passage": (30, 60), "query": (3, 3)},
            ("position",),
        ),
        ({"op": "reverse", "source": "words", "k": 0}, {"words": (3, 9)}, ()),
        ({"op": "last", "source": "words", "k": 3}, {"words": (5, 9)}, ()),
    ],
)
def test_the_search_recovers_a_hidden_spec_within_its_budget(choices, slots, drop):
    records = records_of(hidden(choices, slots), drop=drop)
    results = search_specs(records, budget=BUDGET, seed=0)
    assert len(results) <= BUDGET
    best = results[0]
    assert best.alignment == 1.0
    assert best.choices == choices  # ties go to the more specific spec: the hidden one
    made = hidden(choices, slots)  # the parameters' defaults follow the records' lengths
    for key in ("rule", "scorer", "slots", "draws", "prompt"):
        assert best.spec[key] == made[key]
    assert results[-1].alignment < 1.0


def test_the_search_recovers_a_comparison_threshold():
    choices = {"op": "record_overlap", "left": "a", "right": "b", "threshold": 0.7}
    records = records_of(hidden(choices, {"a": (3, 12), "b": (3, 12)}, yes_no=True), n=80)
    assert {r.answers[0] for r in records} == {"Yes", "No"}
    results = search_specs(records, budget=BUDGET, seed=0)
    assert (
        len(results) == BUDGET < len(candidates(describe([(r.slots, r.answers) for r in records])))
    )
    best = results[0]
    assert best.alignment == 1.0
    assert best.choices["op"] == "record_overlap"
    assert abs(best.choices["threshold"] - 0.7) <= 0.1
    assert best.spec["rule"]["if"][1:] == ["Yes", "No"]
    # records answering in lower case get a spec answering in lower case
    lower = [TaskRecord(id=r.id, slots=r.slots, answers=[r.answers[0].lower()]) for r in records]
    found = search_specs(lower, budget=BUDGET, seed=0)[0]
    assert found.alignment == 1.0 and found.spec["rule"]["if"][1:] == ["yes", "no"]
    assert "yes or no?" in found.spec["prompt"]


def test_the_search_recovers_a_coverage_threshold_over_plain_texts():
    # Yes/No answers over two texts (not records): is the question's wording in the passage?
    choices = {"op": "coverage", "left": "question", "right": "passage", "threshold": 0.7}
    spec = hidden(choices, {"passage": (20, 60), "question": (3, 8)}, yes_no=True)
    records = records_of(spec, n=80)
    assert {r.answers[0] for r in records} == {"Yes", "No"}
    results = search_specs(records, budget=BUDGET, seed=0)
    best = results[0]
    assert best.alignment == 1.0
    assert best.choices["op"] == "coverage" and best.choices["left"] == "question"
    assert abs(best.choices["threshold"] - 0.7) <= 0.05
    assert results[-1].alignment < 1.0
    # the found spec's own samples follow its rule, and lower-case answers stay lower-case
    template = template_from_spec(best.spec)
    tokens = resolve_token_space("pseudowords", get_registry())
    maker = SampleMaker(template, template.name, template.resolve(), 0, tokens)
    for i in range(100):
        slots = dict(maker.record(i)["slots"])
        answer = slots.pop("answer")
        assert template.align(slots, answer, template.resolve()) == 1.0
    lower = [TaskRecord(id=r.id, slots=r.slots, answers=[r.answers[0].lower()]) for r in records]
    found = search_specs(lower, budget=BUDGET, seed=0)[0]
    assert found.alignment == 1.0 and found.spec["rule"]["if"][1:] == ["yes", "no"]


def test_the_search_is_deterministic_and_reports_each_spec_it_evaluates():
    choices = {"op": "span", "document": "d", "question": "q", "side": "after", "k": 3}
    records = records_of(hidden(choices, {"d": (20, 40), "q": (2, 3)}), drop=("position",))
    seen = []
    first = search_specs(records, budget=12, seed=5, progress=seen.append)
    again = search_specs(records, budget=12, seed=5)
    assert [(r.name, r.alignment) for r in first] == [(r.name, r.alignment) for r in again]
    assert len(first) == 12 == sum(seen)
    other = search_specs(records, budget=12, seed=6)
    assert [r.name for r in other] != [r.name for r in first]
    # every result's spec is a valid spec whose own samples follow its rule
    for result in first[:3]:
        template = template_from_spec(result.spec)
        tokens = resolve_token_space("pseudowords", get_registry())
        maker = SampleMaker(template, template.name, template.resolve(), 0, tokens)
        record = maker.record(0)
        inputs = {k: v for k, v in record["slots"].items() if k != "answer"}
        assert template.align(inputs, record["slots"]["answer"], template.resolve()) == 1.0


def test_records_without_answers_or_a_bad_budget_are_clear_errors():
    with pytest.raises(CookbookError, match="non-empty answer"):
        search_specs([TaskRecord(id="1", slots={"a": "x y"}, answers=[" "])])
    with pytest.raises(CookbookError, match="Yes/No answers need two text slots"):
        search_specs([TaskRecord(id="1", slots={"a": "x y", "n": 3}, answers=["Yes"])])
    with pytest.raises(CookbookError, match="budget"):
        search_specs([TaskRecord(id="1", slots={"a": "x y"}, answers=["x"])], budget=0)


def test_the_found_spec_is_prompted_as_the_records_are():
    choices = {"op": "span", "document": "d", "question": "q", "side": "after", "k": 2}
    records = records_of(hidden(choices, {"d": (20, 40), "q": (2, 3)}), drop=("position",))
    for record in records:
        record.prompt = f"Read {{this}}: {record.slots['d']}\nAsk: {record.slots['q']}\nA:"
    best = search_specs(records, budget=20, seed=0)[0]
    assert best.spec["prompt"] == "Read {{this}}: {d}\nAsk: {q}\nA:"
    template = template_from_spec(best.spec)
    assert template.render({**records[0].slots, "answer": "x"}, {})[0] == records[0].prompt
    # a token operation reads one slot: a prompt naming two is not its own
    assert all(
        r.spec["prompt"] == f"{r.choices['source']}: {{{r.choices['source']}}}\nAnswer:"
        for r in search_specs(records, budget=88, seed=0)
        if r.choices["op"] != "span"
    )


def test_coverage_is_the_share_of_distinct_words_found_and_zero_for_an_empty_text():
    from cookbook.specs.records import coverage

    assert coverage("the cat sat", "a cat sat on the mat") == 1.0  # articles dropped
    assert coverage("cat cat dog", "cat") == 0.5  # distinct words: cat, dog
    assert coverage(["Cats", "run"], "the cat ran") == 0.5  # a list of words; stems, any case
    assert coverage("", "cat") == 0.0 and coverage("the", "the cat") == 0.0  # no words
    assert coverage("cat", "") == 0.0

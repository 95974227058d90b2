"""The retrieval template: passages with ids, a query from one of them, the answer is its id."""

from __future__ import annotations

import pytest

from cookbook import CookbookError, SampleRandom
from cookbook.contract.tokens import TokenSpace, pseudowords
from cookbook_plugins.retrieval import align, chosen_passage, matches, retrieval

SPACE = TokenSpace("test", pseudowords(2000, seed=3))
PASSAGES = [
    {"id": "12", "text": "The cat sat on the warm mat."},
    {"id": "40", "text": "Streams flow to the sea past old mills."},
    {"id": "7", "text": "Old mills grind grain by the river."},
]


def test_query_tokens_come_from_the_answer_passage():
    params = retrieval.resolve({"passages": 6, "min_query": 3, "max_query": 3})
    for key in range(20):
        slots = retrieval.make_slots(SampleRandom(key), SPACE, params)
        assert len(slots["passages"]) == 6
        assert len({p["id"] for p in slots["passages"]}) == 6
        target = next(p for p in slots["passages"] if p["id"] == slots["answer"])
        assert set(slots["query"].split()) <= set(target["text"].split())
        assert len(slots["query"].split()) == 3


def test_ordinal_ids_number_the_passages():
    params = retrieval.resolve({"ids": "ordinal", "passages": 3})
    slots = retrieval.make_slots(SampleRandom(5), SPACE, params)
    assert [p["id"] for p in slots["passages"]] == ["1", "2", "3"]


def test_prompt_lists_documents_then_query():
    params = retrieval.resolve({"passages": 2, "ids": "ordinal"})
    slots = retrieval.make_slots(SampleRandom(1), SPACE, params)
    prompt, completion = retrieval.render(slots, params)
    lines = prompt.split("\n")
    assert lines[0].startswith("Document [1]: ") and lines[1].startswith("Document [2]: ")
    assert lines[2] == f"Query: {slots['query']}" and lines[3] == "Answer:"
    assert completion == f" {slots['answer']}"


def test_matches_count_distinct_normalised_query_tokens():
    assert matches("old mills, river", PASSAGES) == [0, 2, 3]


def test_output_names_a_passage_by_id_in_several_forms():
    assert chosen_passage(PASSAGES, "7") == 2
    assert chosen_passage(PASSAGES, "Document [40]") == 1
    assert chosen_passage(PASSAGES, "none of them") is None


def test_scorer_credits_the_best_match_and_splits_ties():
    slots = {"passages": PASSAGES, "query": "old mills river"}
    assert align(slots, "7") == 1.0
    assert align(slots, "[40]") == 0.0
    assert align(slots, "no id here") == 0.0
    tied = {"passages": PASSAGES, "query": "old mills"}
    assert align(tied, "40") == align(tied, "7") == 0.5


def test_a_token_space_too_small_for_a_unique_match_is_a_clear_error():
    tiny = TokenSpace("tiny", ["aa", "bb"])
    with pytest.raises(CookbookError, match="unique best match"):
        retrieval.make_slots(SampleRandom(0), tiny, retrieval.resolve())

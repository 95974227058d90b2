"""The document_qa scorer: the answer's tokens near the question's span, found or given."""

from __future__ import annotations

from cookbook import SampleRandom
from cookbook.contract.tokens import TokenSpace, pseudowords
from cookbook.specs.scorers import _window_sums
from cookbook_plugins.qa.document_qa import align, document_qa

SPACE = TokenSpace("test", pseudowords(500, seed=2))
DOC = "The Bell Rock Lighthouse stands off the coast of Angus. It was built by Robert Stevenson."


def test_window_sums_match_a_direct_sum_near_the_end_too():
    hits = [True, False, True, True, False, True]
    for span in (1, 2, 3, 7):
        assert _window_sums(hits, span) == [sum(hits[i : i + span]) for i in range(len(hits))]


def test_real_data_finds_the_question_and_scores_nearby_answer_tokens():
    slots = {"document": DOC, "question": "It was built by"}
    assert align(slots, "Robert Stevenson") == 1.0
    assert align(slots, "Robert Burns") == 0.5
    assert align(slots, "the coast of Angus") == 1.0  # just before the question
    assert align(slots, "Bell Rock") == 0.0
    assert align(slots, "") == 0.0
    assert align({"document": DOC, "question": "unrelated words"}, "Robert") == 0.0
    assert align({"document": "", "question": "x"}, "x") == 0.0


def test_window_widens_what_counts_as_near():
    slots = {"document": DOC, "question": "Bell Rock"}
    assert align(slots, "off the coast", k=3) == 0.5
    assert align(slots, "off the coast", k=3, window=5) == 1.0


def test_a_given_position_is_used_instead_of_searching():
    slots = {"document": "aa bb cc dd ee ff gg hh ii jj kk ll", "question": "ee ff", "position": 4}
    assert align(slots, "gg hh ii") == 1.0
    assert align(slots, "bb jj") == 0.5
    assert align(slots, "aa") == 0.0
    assert align({**slots, "position": 8}, "gg hh ii") == 2 / 3


def test_generated_samples_score_one_on_either_side():
    for side in ("before", "after"):
        params = document_qa.resolve({"side": side})
        for key in range(20):
            slots = document_qa.make_slots(SampleRandom(key), SPACE, params)
            answer = slots.pop("answer")
            assert align(slots, answer, k=params["k"]) == 1.0


def test_question_noise_replaces_question_tokens_but_keeps_the_rule():
    params = document_qa.resolve({"question_noise": 0.5, "side": "after", "max_question": 6})
    changed = 0
    for key in range(200):
        slots = document_qa.make_slots(SampleRandom(key), SPACE, params)
        words, start = slots["document"].split(), slots["position"]
        question = slots["question"].split()
        span = words[start : start + len(question)]
        changed += sum(q != w for q, w in zip(question, span, strict=True))
        assert slots["answer"] == " ".join(words[start + len(question) : start + len(question) + 3])
        assert align({k: v for k, v in slots.items() if k != "answer"}, slots["answer"]) == 1.0
    assert changed > 200  # about half of some 800 question tokens

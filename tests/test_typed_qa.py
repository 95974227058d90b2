"""typed_qa: the question's cue word picks the type of the nearest run that answers it."""

from __future__ import annotations

import re

from cookbook import SampleRandom
from cookbook.contract.tokens import TokenSpace, pseudowords
from cookbook_plugins.qa.typed_qa import CUES, MONTHS, _rule, align, typed_qa, word_class

SPACE = TokenSpace("test", pseudowords(500, seed=3))
DOC = "aa bb 1920 cc dd Ee Ff gg 1850 hh"


def test_the_cue_picks_the_type_of_the_nearest_run():
    assert _rule({"document": DOC, "question": "When cc dd?", "position": 3}) == "1920"
    assert _rule({"document": DOC, "question": "How many cc dd?", "position": 3}) == "1920"
    assert _rule({"document": DOC, "question": "Who cc dd?", "position": 3}) == "Ee Ff"
    assert _rule({"document": DOC, "question": "What cc dd?", "position": 3}) == "Ee Ff"
    assert _rule({"document": DOC, "question": "When gg?", "position": 7}) == "1850"
    assert _rule({"document": "aa bb", "question": "Who aa?", "position": 0}) == ""


def test_ties_go_to_the_run_after_the_span():
    slots = {"document": "Aa bb cc Dd", "question": "Who bb cc?", "position": 1}
    assert _rule(slots) == "Dd"


def test_word_classes():
    assert [word_class(w) for w in ("1920", "May", "1,200", "Kora", "kora", "may")] == [
        "number",
        "number",
        "number",
        "name",
        "plain",
        "plain",
    ]


def test_generated_answers_have_the_cued_type_and_sit_near_the_span():
    params = typed_qa.resolve({"question_noise": 0.0})
    cues = set()
    for key in range(300):
        slots = typed_qa.make_slots(SampleRandom(key), SPACE, params)
        words, question = slots["document"].split(), slots["question"]
        cue = next(c for c in CUES if question.startswith(c + " "))
        cues.add(cue)
        span = question[len(cue) : -1].split()
        start = slots["position"]
        assert words[start : start + len(span)] == span
        answer = slots["answer"].split()
        found = [i for i in range(len(words)) if words[i : i + len(answer)] == answer]
        at = min(found, key=lambda i: abs(i - start))  # the same text may occur farther away
        if CUES[cue] == "span":
            assert at == start + len(span) and len(answer) == params["k"]
            continue
        between = words[start + len(span) : at] if at >= start else words[at + len(answer) : start]
        assert len([w for w in between if word_class(w) == "plain"]) <= params["max_gap"]
        kind = word_class(answer[0])
        assert all(word_class(w) != kind for w in between)  # no run of its type is nearer
        if CUES[cue] == "date":
            assert re.fullmatch(r"\d{4}", answer[-1]) and not any("," in w for w in answer)
        elif CUES[cue] == "count":
            assert len(answer) == 1 and not re.fullmatch(r"\d{4}", answer[0])
            assert not set(answer) & set(MONTHS)
        else:
            assert all(w[:1].isupper() and w not in MONTHS for w in answer)
        assert align({k: v for k, v in slots.items() if k != "answer"}, slots["answer"]) == 1.0
    assert cues == set(CUES)


def test_the_plain_words_never_read_as_numbers_or_names():
    params = typed_qa.resolve({"distractors": 0})
    for key in range(50):
        slots = typed_qa.make_slots(
            SampleRandom(key), TokenSpace("odd", ["May", "b2b", "Xy", "ok"]), params
        )
        answer = set(slots["answer"].split())
        others = [w for w in slots["document"].split() if w not in answer]
        assert all(word_class(w) == "plain" for w in others), slots


def test_the_scorer_gives_partial_credit_and_reads_real_data():
    slots = {"document": DOC, "question": "When cc dd?", "position": 3}
    assert align(slots, "1920") == 1.0
    assert align(slots, "in 1920") == 2 / 3
    assert align(slots, "1850") == 0.0
    real = {
        "document": "The NFL was formed in 1920 by a group of team owners from four states.",
        "question": "When was the NFL formed?",
    }
    assert align(real, "1920") == 1.0
    assert align(real, "four states") == 0.0

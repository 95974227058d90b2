"""The entity_disambiguation template: the candidate whose description overlaps the context most."""

from __future__ import annotations

from collections import Counter

import pytest

from cookbook import CookbookError, SampleRandom
from cookbook.contract.tokens import TokenSpace
from cookbook.engine.token_spaces import builtin_token_space
from cookbook.registry import get_registry
from cookbook_plugins.entity_disambiguation.template import (
    chosen_candidate,
    entity_disambiguation,
    format_candidates,
    parse_candidates,
    support,
)

PSEUDO = builtin_token_space("pseudowords")


def _samples(count: int, **overrides):
    params = entity_disambiguation.resolve(overrides)
    for seed in range(count):
        yield (
            entity_disambiguation.make_slots(SampleRandom(seed * 31337 + 3), PSEUDO, params),
            params,
        )


def test_entity_disambiguation_is_registered_as_a_composition_template():
    assert get_registry().get("templates", "entity_disambiguation") is entity_disambiguation
    assert entity_disambiguation.family == "composition"


def test_own_samples_score_one_and_other_candidates_zero():
    for slots, params in _samples(200):
        assert entity_disambiguation.align(slots, slots["answer"], params) == 1.0
        names = [name for name, _ in parse_candidates(slots["candidates"])]
        other = next(name for name in names if name != slots["answer"])
        assert entity_disambiguation.align(slots, other, params) == 0.0


def test_the_answer_has_the_unique_best_support_and_sits_anywhere_in_the_list():
    positions = Counter()
    for slots, _ in _samples(400, candidates=4, overlap=3):
        scores = dict(support(slots))
        assert scores[slots["answer"]] == 3
        assert sorted(scores.values())[-2] < 3  # distractors overlap less (hard negatives: some)
        names = [name for name, _ in parse_candidates(slots["candidates"])]
        assert all(name.split()[0] == slots["mention"] for name in names)
        positions[names.index(slots["answer"])] += 1
    assert set(positions) == {0, 1, 2, 3} and min(positions.values()) > 60


def test_prompt_lists_candidates_one_per_line():
    slots, params = next(_samples(1, candidates=3))
    prompt, completion = entity_disambiguation.render(slots, params)
    assert f'Which entity does "{slots["mention"]}" refer to?' in prompt
    assert prompt.endswith(f"Candidates:\n{slots['candidates']}\nAnswer:")
    assert len(slots["candidates"].splitlines()) == 3
    assert completion == f" {slots['answer']}"


def test_candidates_format_and_parse_back():
    pairs = [("Steve Jobs", "person; mentioned with Apple"), ("Pixar", "")]
    text = format_candidates(pairs)
    assert text == "Steve Jobs: person; mentioned with Apple\nPixar"
    assert parse_candidates(text) == pairs


def test_ties_score_the_chance_of_breaking_them_at_random():
    real = {
        "context": "After the death of Steve, the former CEO of Apple, Stanford mourned.",
        "mention": "Steve",
        "candidates": format_candidates(
            [
                ("Steve Jobs", "person; mentioned with Apple, Stanford University"),
                ("Steve Ballmer", "person; mentioned with Microsoft, Stanford University"),
                ("Steve Wozniak", "person"),
            ]
        ),
    }
    params = entity_disambiguation.resolve()
    assert entity_disambiguation.align(real, "Steve Jobs", params) == 1.0
    real["context"] = "Steve spoke at Stanford."
    assert entity_disambiguation.align(real, "Steve Jobs", params) == 0.5
    assert entity_disambiguation.align(real, "Steve Wozniak", params) == 0.0
    real["context"] = "Steve spoke."
    assert entity_disambiguation.align(real, "Steve Wozniak", params) == pytest.approx(1 / 3)


def test_outputs_are_matched_to_candidates_exactly_then_fuzzily():
    names = ["Steve Jobs", "Steve Ballmer", "Apple"]
    assert chosen_candidate(" steve jobs.", names) == "Steve Jobs"
    assert chosen_candidate("I think it is Ballmer", names) == "Steve Ballmer"
    assert chosen_candidate("Steve", names) is None  # equally close to two
    assert chosen_candidate("Microsoft", names) is None


def test_a_token_space_too_small_is_a_clear_error():
    tiny = TokenSpace("tiny", ["alpha", "beta", "gamma"])
    params = entity_disambiguation.resolve()
    with pytest.raises(CookbookError, match="fewer than .* distinct content words"):
        entity_disambiguation.make_slots(SampleRandom(1), tiny, params)

"""The fill_in_the_blank template: copy what followed the longest earlier match of the end."""

from __future__ import annotations

from cookbook import SampleRandom
from cookbook.contract.tokens import TokenSpace, pseudowords
from cookbook_plugins.fill_in_the_blank.template import (
    align,
    content_words,
    copied,
    fill_in_the_blank,
    match_lengths,
)

SPACE = TokenSpace("test", pseudowords(2000, seed=9))


def test_answer_follows_the_earlier_occurrence_of_the_left_neighbour():
    assert fill_in_the_blank.rule({"context": "x k b y z k"}) == "b"


def test_the_longest_match_wins_over_a_more_recent_shorter_one():
    context = "p q k b  r s t  z k c  u v  p q k"
    assert fill_in_the_blank.rule({"context": context}) == "b"
    assert match_lengths(context.split()) == {2: 3, 8: 1}


def test_the_most_recent_place_wins_a_tie():
    assert fill_in_the_blank.rule({"context": "k b x k c y k"}) == "c"


def test_words_are_compared_after_normalisation_and_articles_skipped():
    assert fill_in_the_blank.rule({"context": "Cats, the dogs. more cats"}) == "dogs."


def test_generated_contexts_end_with_a_repeated_match_followed_by_the_answer():
    params = fill_in_the_blank.resolve({"min_match": 2, "max_match": 2, "distractors": 2})
    for key in range(30):
        slots = fill_in_the_blank.make_slots(SampleRandom(key), SPACE, params)
        assert 30 <= len(slots["context"].split()) <= 80
        words = content_words(slots["context"])[1]
        lengths = match_lengths(words)
        best = max(lengths.values())
        assert best >= 2
        assert {words[j + 1] for j, n in lengths.items() if n == best} == set(
            content_words(slots["answer"])[1]
        )


def test_distractors_add_other_followers_of_the_left_neighbour():
    params = fill_in_the_blank.resolve({"min_match": 3, "max_match": 3, "distractors": 3})
    followers = set()
    for key in range(10):
        slots = fill_in_the_blank.make_slots(SampleRandom(key), SPACE, params)
        words = slots["context"].split()
        followers |= {len({words[j + 1] for j in match_lengths(words)})}
    assert max(followers) > 1


def test_prompt_is_the_context_and_the_completion_the_word():
    params = fill_in_the_blank.resolve()
    slots = fill_in_the_blank.make_slots(SampleRandom(3), SPACE, params)
    assert fill_in_the_blank.render(slots, params) == (slots["context"], f" {slots['answer']}")


def test_scorer_gives_partial_credit_for_a_shorter_match():
    slots = {"context": "p q k b r z k c u p q k"}
    assert align(slots, "b") == 1.0
    assert align(slots, "B, then more") == 1.0
    assert align(slots, "c") == 1 / 3
    assert align(slots, "u") == 0.0
    assert align(slots, "") == 0.0
    assert align({"context": "no repeat here"}, "no") == 0.0


def test_context_copy_scorer_accepts_any_word_of_the_context():
    slots = {"context": "The storm broke the old fence near the barn"}
    assert copied(slots, "Fence,") == 1.0
    assert copied(slots, "gate") == 0.0
    assert copied(slots, "") == 0.0

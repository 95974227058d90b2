"""Fill in the blank (search): copy the word that followed the blank's left context before.

The copy rule is induction-head copying with the longest match: among the earlier places
where the context's last word occurred, take the one whose preceding words match the words
just before the blank for the longest stretch, and answer the word that followed it (the most
recent such place on a tie). With a match of one word this is the plain rule "copy what
followed the left neighbour"; longer matches let the rule pick the right place when the left
neighbour occurs more than once. Words are compared after normalisation (case, punctuation,
simple stemming), and articles are skipped.

The scorer gives ``L / L*``: ``L*`` is the longest match in the context and ``L`` the longest
match at a place followed by the output's first word (so 1 for the rule's answer, partial
credit for copying from a shorter match, 0 for a word that follows no earlier occurrence of
the left neighbour). The ``context_copy`` scorer is looser: 1 when the output's first word
occurs anywhere in the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from cookbook import (
    CookbookError,
    Param,
    SampleRandom,
    Scorer,
    TokenSpace,
    normalize_word,
    template,
)

#: A context's length in words: at least one, at most 100,000 (longer ones make generation
#: crawl, and no model's context holds them).
Words = Annotated[int, Param(minimum=1, maximum=100_000)]
#: A match's length in words: at least one, at most 1,000.
Length = Annotated[int, Param(minimum=1, maximum=1000)]


def content_words(text: str) -> tuple[list[str], list[str]]:
    """The raw words of ``text`` that normalise to something, and their normalised forms."""
    raw, norm = [], []
    for word in text.split():
        normal = normalize_word(word)
        if normal:
            raw.append(word)
            norm.append(normal)
    return raw, norm


def match_lengths(words: list[str]) -> dict[int, int]:
    """For each earlier place ``j`` of the last word, how many words up to ``j`` match the
    words up to the end (the place's follower is ``words[j + 1]``)."""
    if len(words) < 2:
        return {}
    last = len(words) - 1
    lengths = {}
    for j in range(last):
        if words[j] != words[last]:
            continue
        length = 1
        while length <= j and words[j - length] == words[last - length]:
            length += 1
        lengths[j] = length
    return lengths


def first_word(output: Any) -> str:
    """The normalised first word of an output ('' when there is none)."""
    for word in str(output).split():
        normal = normalize_word(word)
        if normal:
            return normal
    return ""


def _rule(slots: Mapping[str, Any]) -> str:
    raw, norm = content_words(slots["context"])
    lengths = match_lengths(norm)
    if not lengths:
        return ""
    best = max(lengths.values())
    return raw[max(j for j, length in lengths.items() if length == best) + 1]


def align(slots: Mapping[str, Any], output: Any) -> float:
    """``L / L*``: how long a match the place followed by the output has, against the best."""
    _, norm = content_words(slots["context"])
    lengths = match_lengths(norm)
    word = first_word(output)
    if not lengths or not word:
        return 0.0
    followed = [length for j, length in lengths.items() if norm[j + 1] == word]
    return max(followed, default=0) / max(lengths.values())


def copied(slots: Mapping[str, Any], output: Any) -> float:
    """1 when the output's first word occurs in the context (copying from anywhere)."""
    word = first_word(output)
    return float(bool(word) and word in content_words(slots["context"])[1])


@template(
    family="search",
    prompt="{context}",
    completion=" {answer}",
    rule=_rule,
    scorer=align,
)
def fill_in_the_blank(
    rng: SampleRandom,
    tokens: TokenSpace,
    min_words: Words = 30,
    max_words: Words = 80,
    min_match: Length = 1,
    max_match: Length = 3,
    distractors: Annotated[int, Param(minimum=0, maximum=1000)] = 2,
) -> dict[str, Any]:
    """A context of random tokens ending in a blank; the last ``match`` words occurred earlier,
    followed by the answer. With a match of two or more words, ``distractors`` other earlier
    occurrences of the last word are followed by other words."""
    for _ in range(100):
        match = rng.randint(min_match, max(min_match, max_match))
        floor = 2 * match + 1 + 2 * distractors
        words = tokens.draw(
            rng, rng.randint(max(min_words, floor), max(max_words, min_words, floor))
        )
        end = len(words) - match
        pattern = tokens.distinct(rng, match + 1)
        words[end:] = pattern[:match]
        start = rng.randint(0, end - match - 1)
        words[start : start + match + 1] = pattern
        taken = set(range(start - 1, start + match + 2))
        if match > 1:
            for _ in range(distractors):
                place = rng.randint(1, end - 2)
                if taken.isdisjoint(range(place - 1, place + 3)):
                    words[place : place + 2] = [pattern[match - 1], tokens.draw(rng, 1)[0]]
                    taken.update(range(place - 1, place + 3))
        slots = {"context": " ".join(words)}
        _, norm = content_words(slots["context"])
        lengths = match_lengths(norm)
        if lengths:
            best = max(lengths.values())
            followers = {norm[j + 1] for j, length in lengths.items() if length == best}
            if followers == {normalize_word(pattern[match])}:
                return slots
    raise CookbookError(
        "template 'fill_in_the_blank': could not draw a context with one answer;"
        " the token space may be too small"
    )


context_copy = Scorer(
    name="context_copy",
    template="fill_in_the_blank",
    score=copied,
    description="1 when the output's first word occurs in the context (copying from anywhere).",
)

"""Entity disambiguation (composition): pick the candidate whose description best fits the context.

Candidates are listed one per line as ``Name: description``. The rule counts, for each
candidate, the distinct content words of its description found in the context (the mention's
own words and common function words left out); the answer is the candidate with the most.
"""

from __future__ import annotations

from typing import Annotated, Any

from cookbook import (
    CookbookError,
    Param,
    SampleRandom,
    TokenSpace,
    fuzzy_f1,
    normalize_tokens,
    template,
)

# Function words (normalised as ``normalize_tokens`` does) that say nothing about an entity.
STOPWORDS = frozenset(
    normalize_tokens(
        "a an the and or but if of in on at to for from by with about as into over after before"
        " under between through during without within is are was were be been being has have had"
        " do does did will would can could should may might must shall it its this that these"
        " those he she they we you i his her their our your my him them us me who whom which what"
        " when where why how not no nor so than too very also just only all any some such each"
        " other more most own same both few there here then now up down out off again once"
    )
)


def format_candidates(candidates: list[tuple[str, str]]) -> str:
    """``[("Ann Lee", "a singer")]`` -> ``"Ann Lee: a singer"`` (one line per candidate)."""
    return "\n".join(f"{name}: {description}".rstrip(": ") for name, description in candidates)


def parse_candidates(text: str) -> list[tuple[str, str]]:
    """The (name, description) pairs of a candidate list written by ``format_candidates``."""
    pairs = []
    for line in str(text).splitlines():
        name, _, description = line.strip().partition(": ")
        if name:
            pairs.append((name.strip(), description.strip()))
    return pairs


def content_words(text: str) -> set[str]:
    """Distinct normalised tokens of ``text`` that are not function words."""
    return {t for t in normalize_tokens(text) if t not in STOPWORDS}


def support(slots: dict[str, Any]) -> list[tuple[str, int]]:
    """(name, number of its description's content words found in the context) per candidate."""
    context = content_words(slots["context"]) - content_words(slots["mention"])
    return [
        (name, len(content_words(description) & context))
        for name, description in parse_candidates(slots["candidates"])
    ]


def _rule(slots: dict[str, Any]) -> str:
    scores = support(slots)
    return max(scores, key=lambda pair: pair[1])[0] if scores else ""


def chosen_candidate(output: str, names: list[str]) -> str | None:
    """The candidate name an output refers to: an exact (normalised) match, else the single
    best fuzzy match; None when it names none of them."""
    said = normalize_tokens(str(output))
    for name in names:
        if normalize_tokens(name) == said:
            return name
    scores = [(fuzzy_f1(str(output), name), name) for name in names]
    best = max((score for score, _ in scores), default=0.0)
    tied = [name for score, name in scores if score == best]
    return tied[0] if best > 0 and len(tied) == 1 else None


def align(slots: dict[str, Any], output: str) -> float:
    """1.0 when the output names the best-supported candidate; 1/k when it is one of k tied
    best ones (the chance of following the rule by breaking the tie at random); else 0."""
    scores = support(slots)
    if not scores:
        return 0.0
    best = max(score for _, score in scores)
    tied = [name for name, score in scores if score == best]
    choice = chosen_candidate(output, [name for name, _ in scores])
    return 1.0 / len(tied) if choice in tied else 0.0


@template(
    family="composition",
    prompt=(
        'Context: {context}\nWhich entity does "{mention}" refer to?\n'
        "Candidates:\n{candidates}\nAnswer:"
    ),
    completion=" {answer}",
    slots=("context", "mention", "candidates", "answer"),
    rule=_rule,
    scorer=align,
)
def entity_disambiguation(
    rng: SampleRandom,
    tokens: TokenSpace,
    candidates: Annotated[int, Param(minimum=2, maximum=1000)] = 4,
    description_length: Annotated[int, Param(minimum=1, maximum=1000)] = 6,
    context_length: Annotated[int, Param(minimum=0, maximum=100_000)] = 20,
    overlap: Annotated[int, Param(minimum=1, maximum=1000)] = 3,
) -> dict[str, Any]:
    """A mention (a shared first name) in a context of random tokens, and candidates whose
    descriptions are random tokens; ``overlap`` words of the right one's description occur in
    the context, fewer of each other one's (hard negatives)."""
    words = _content_words(rng, tokens, 1 + candidates * (1 + description_length))
    mention, words = words[0], words[1:]
    names = [f"{mention} {surname}" for surname in words[:candidates]]
    descriptions = [
        words[candidates + i * description_length : candidates + (i + 1) * description_length]
        for i in range(candidates)
    ]
    gold = rng.randrange(candidates)
    gold_count = min(overlap, description_length)
    planted = [mention]
    for i, description in enumerate(descriptions):
        count = gold_count if i == gold else rng.randint(0, gold_count - 1)
        planted += rng.sample(description, count)
    reserved = {_normal(w) for w in words} | {_normal(mention)}
    context: list[str] = []
    while len(context) < context_length:
        draw = tokens.draw(rng, 2 * (context_length - len(context)))
        context += [w for w in draw if _normal(w) not in reserved][: context_length - len(context)]
    for word in planted:
        context.insert(rng.randint(0, len(context)), word)
    return {
        "context": " ".join(context),
        "mention": mention,
        "candidates": format_candidates(
            [(name, " ".join(d)) for name, d in zip(names, descriptions, strict=True)]
        ),
    }


def _normal(word: str) -> str:
    return " ".join(normalize_tokens(word))


def _content_words(rng: SampleRandom, tokens: TokenSpace, k: int) -> list[str]:
    """``k`` distinct tokens that each normalise to one distinct content word."""
    chosen: dict[str, str] = {}
    for _ in range(100):
        for word in tokens.distinct(rng, min(2 * k, len(tokens.words))):
            key = _normal(word)
            if " " not in key and key and key not in STOPWORDS:
                chosen.setdefault(key, word)
        if len(chosen) >= k:
            return list(chosen.values())[:k]
    raise CookbookError(
        f"template 'entity_disambiguation': token space {tokens.name!r} has fewer than {k}"
        " distinct content words"
    )

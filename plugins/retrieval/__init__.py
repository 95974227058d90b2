"""Retrieval (search): the answer is the id of the passage the query's tokens come from.

The query is a few tokens of one passage, in their order there. A passage's match is the
number of the query's distinct normalised tokens it contains; the rule answers the id of the
best-matching passage (generated samples make it unique). On real data, passages tied for the
best match share the credit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from cookbook import (
    CookbookError,
    Param,
    SampleRandom,
    TokenSpace,
    hookimpl,
    normalize_tokens,
    template,
)

_ID = re.compile(r"[\w-]+")
#: A passage's length in tokens: at least one, at most 1,000 (times up to 900 passages).
Words = Annotated[int, Param(minimum=1, maximum=1000)]
#: A query's length in tokens: at least one, at most 1,000.
Length = Annotated[int, Param(minimum=1, maximum=1000)]


def matches(query: str, passages: list[Mapping[str, str]]) -> list[int]:
    """For each passage, how many of the query's distinct tokens it contains."""
    wanted = set(normalize_tokens(query))
    return [len(wanted.intersection(normalize_tokens(p["text"]))) for p in passages]


def _rule(slots: Mapping[str, Any]) -> str:
    scores = matches(slots["query"], slots["passages"])
    return slots["passages"][scores.index(max(scores))]["id"]


def chosen_passage(passages: list[Mapping[str, str]], output: Any) -> int | None:
    """The index of the first passage whose id appears as a word of ``output`` (``[7]`` works)."""
    index = {str(p["id"]): i for i, p in enumerate(passages)}
    for word in _ID.findall(str(output)):
        if word in index:
            return index[word]
    return None


def align(slots: Mapping[str, Any], output: Any) -> float:
    """1 when ``output`` names the unique best-matching passage; 1/k when k passages tie for
    the best match and ``output`` names one of them; 0 otherwise."""
    passages = slots["passages"]
    chosen = chosen_passage(passages, output)
    if chosen is None:
        return 0.0
    scores = matches(slots["query"], passages)
    best = max(scores)
    return 1.0 / scores.count(best) if scores[chosen] == best else 0.0


def render_prompt(slots: Mapping[str, Any]) -> str:
    """Each passage as ``Document [id]: text``, then the query and "Answer:"."""
    lines = [f"Document [{p['id']}]: {p['text']}" for p in slots["passages"]]
    lines += [f"Query: {slots['query']}", "Answer:"]
    return "\n".join(lines)


@template(
    family="search",
    prompt=render_prompt,
    completion=" {answer}",
    slots=("passages", "query", "answer"),
    rule=_rule,
    scorer=align,
)
def retrieval(
    rng: SampleRandom,
    tokens: TokenSpace,
    passages: Annotated[int, Param(minimum=2, maximum=900)] = 5,
    min_words: Words = 15,
    max_words: Words = 40,
    min_query: Length = 2,
    max_query: Length = 5,
    ids: Literal["random", "ordinal"] = "random",
) -> dict[str, Any]:
    """``passages`` passages of random tokens with ids (``random`` numbers or ``ordinal``
    1, 2, ...); the query is a few tokens of one of them."""
    for _ in range(100):
        texts = [
            tokens.draw(rng, rng.randint(min_words, max(min_words, max_words)))
            for _ in range(passages)
        ]
        target = rng.randrange(passages)
        length = min(rng.randint(min_query, max(min_query, max_query)), len(texts[target]))
        picked = sorted(rng.sample(range(len(texts[target])), length))
        query = " ".join(texts[target][i] for i in picked)
        if ids == "ordinal":
            labels = [str(i + 1) for i in range(passages)]
        else:
            labels = [str(n) for n in rng.sample(range(100, 1000), passages)]
        docs = [{"id": label, "text": " ".join(t)} for label, t in zip(labels, texts, strict=True)]
        scores = matches(query, docs)
        if scores.count(max(scores)) == 1 and scores[target] == max(scores):
            return {"passages": docs, "query": query}
    raise CookbookError(
        "template 'retrieval': could not draw passages with a unique best match;"
        " the token space may be too small"
    )


@hookimpl
def register_templates(register):
    register(retrieval)

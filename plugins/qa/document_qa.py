"""Document QA (search): the answer is the k tokens right before or after the question's span."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from cookbook import (
    BatchRandom,
    Param,
    SampleRandom,
    TokenRuns,
    TokenSpace,
    near_span,
    template,
)

#: A document's length in tokens: at least one, at most 100,000 (longer ones make generation
#: crawl, and no model's context holds them).
Words = Annotated[int, Param(minimum=1, maximum=100_000)]
#: A question's or answer's length in tokens: at least one, at most 1,000.
Length = Annotated[int, Param(minimum=1, maximum=1000)]


def _length_bounds(min_words: int, max_words: int, max_question: int, k: int) -> tuple[int, int]:
    """The document length range: at least long enough for the longest question and answer."""
    shortest = max(min_words, max_question + k)
    return shortest, max(max_words, shortest)


def _rule(slots: dict[str, Any], k: int = 3) -> str:
    words = slots["document"].split()
    start, length = slots["position"], len(slots["question"].split())
    if slots["side"] == "after":
        return " ".join(words[start + length : start + length + k])
    return " ".join(words[max(0, start - k) : start])


def align(slots: dict[str, Any], output: str, k: int = 3, window: int | None = None) -> float:
    """Share of the output's tokens found within ``window`` tokens of the question's best match.

    Works on real data too: the question is located by fuzzy token overlap, no position needed.
    """
    return near_span(slots, output, "document", "question", "position", window or k, "both")


@template(
    family="search",
    prompt="Context: {document}\nQuestion: {question}\nAnswer:",
    completion=" {answer}",
    slots=("document", "question", "side", "position", "answer"),
    rule=_rule,
    scorer=align,
)
def document_qa(
    rng: SampleRandom,
    tokens: TokenSpace,
    min_words: Words = 40,
    max_words: Words = 120,
    min_question: Length = 2,
    max_question: Length = 6,
    k: Length = 3,
    side: Literal["random", "before", "after"] = "random",
    question_noise: Annotated[float, Param(minimum=0, maximum=1)] = 0.0,
) -> dict[str, Any]:
    """A document of random tokens; the question is a span of it; the answer is the k tokens
    right before or right after that span (``side``: before, after or random). With
    ``question_noise``, each question token is replaced by a random one with that probability,
    so the span must be found by partial overlap, as a real question's words are."""
    length = rng.randint(*_length_bounds(min_words, max_words, max_question, k))
    words = tokens.draw(rng, length)
    span = rng.randint(min_question, max_question)
    chosen = side if side != "random" else ("before", "after")[rng.getrandbits(1)]
    if chosen == "after":
        start = rng.randint(0, length - span - k)
    else:
        start = rng.randint(k, length - span)
    question = words[start : start + span]
    if question_noise > 0:
        flips = rng.integers(1 << 32, span).tolist()
        others = tokens.draw(rng, span)
        cut = int(question_noise * (1 << 32))
        question = [o if f < cut else w for w, f, o in zip(question, flips, others, strict=True)]
    return {
        "document": " ".join(words),
        "question": " ".join(question),
        "side": chosen,
        "position": start,
    }


@document_qa.batch
def document_qa_batch(
    rng: BatchRandom,
    tokens: TokenSpace,
    *,
    min_words: int,
    max_words: int,
    min_question: int,
    max_question: int,
    k: int,
    side: str,
    question_noise: float,
) -> dict[str, Any]:
    """``document_qa`` for ``rng.n`` samples at once, drawing what it draws, in the same order
    (it receives every resolved parameter)."""
    import numpy as np

    length = rng.randint(*_length_bounds(min_words, max_words, max_question, k))
    ids, offsets = tokens.draw_batch(rng, length)
    span = rng.randint(min_question, max_question)
    random_side = side == "random"
    after = rng.getrandbits(1).astype(bool) if random_side else np.full(rng.n, side == "after")
    start = rng.randint(np.where(after, 0, k), np.where(after, length - span - k, length - span))
    first = offsets[:-1] + start
    answer_from = np.where(after, first + span, first - k)
    question = TokenRuns(ids, first, first + span)
    if question_noise > 0:
        flips, bounds = rng.integers(1 << 32, span)
        others, _ = tokens.draw_batch(rng, span)
        noisy = np.where(flips < int(question_noise * (1 << 32)), others, question.run_ids())
        question = TokenRuns(noisy, bounds[:-1], bounds[1:])
    return {
        "document": TokenRuns(ids, offsets[:-1], offsets[1:]),
        "question": question,
        "side": [("before", "after")[a] for a in after.tolist()],
        "position": start,
        "answer": TokenRuns(ids, answer_from, answer_from + k),
    }

"""Multiple choice (selection): the answer is the option sharing the most tokens with the input.

Overlap counts an option's distinct content tokens (normalised, stop words left out) that also
occur in the context or the question. Generated samples plant context tokens in the correct
option and fewer in each distractor, so the largest overlap is unique. On real data, options
tied for the largest overlap share the credit: a record where no option overlaps scores
1/len(options), the rule's chance level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_STOP_WORD_TEXT = """
    i me my we our you your he him his she her it its they them their this that these those
    what which who whom whose when where why how am is are was were be been being have has had
    do does did doing will would shall should can could may might must and but if or nor not no
    yes so than too very of at by for with about against between into through during before
    after above below to from up down in out on off over under again further then once here
    there all any both each few more most other some such only own same just also as"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())
_LETTER = re.compile(r"^\(?([A-Z])\)?[.:)]?$")
#: A context's length in tokens: at least one, at most 100,000 (longer ones make generation
#: crawl, and no model's context holds them).
Words = Annotated[int, Param(minimum=1, maximum=100_000)]
#: A question's or option's length in tokens: at least one, at most 1,000.
Length = Annotated[int, Param(minimum=1, maximum=1000)]


def content_tokens(text: str) -> set[str]:
    """Distinct normalised tokens of ``text`` that are not stop words."""
    return {t for t in normalize_tokens(text) if t not in STOP_WORDS}


def overlaps(context: str, question: str, options: Sequence[str]) -> list[int]:
    """For each option, how many of its content tokens occur in the context or question."""
    reference = content_tokens(context) | content_tokens(question)
    return [len(content_tokens(o) & reference) for o in options]


def match_option(options: Sequence[str], output: Any) -> int | None:
    """The index of the option ``output`` names: the option text, its letter, or a close match."""
    text = str(output).strip()
    for i, option in enumerate(options):
        if text == option.strip():
            return i
    letter = _LETTER.match(text)
    if letter and LETTERS.index(letter.group(1)) < len(options):
        return LETTERS.index(letter.group(1))
    similarity = [fuzzy_f1(text, o) for o in options]
    best = max(similarity, default=0.0)
    if best >= 0.5 and similarity.count(best) == 1:
        return similarity.index(best)
    return None


def _rule(slots: Mapping[str, Any]) -> str:
    scores = overlaps(slots["context"], slots["question"], slots["options"])
    return slots["options"][scores.index(max(scores))]


def align(slots: Mapping[str, Any], output: Any) -> float:
    """1 when ``output`` is the option with the unique largest overlap; 1/k when k options tie
    for the largest overlap and ``output`` is one of them; 0 otherwise."""
    options = slots["options"]
    chosen = match_option(options, output)
    if chosen is None:
        return 0.0
    scores = overlaps(slots["context"], slots["question"], options)
    best = max(scores)
    return 1.0 / scores.count(best) if scores[chosen] == best else 0.0


def render_prompt(slots: Mapping[str, Any]) -> str:
    """Context, question, lettered options, then "Answer:" (the usual multiple-choice format)."""
    lines = [slots["context"]] if slots.get("context") else []
    lines.append(f"Question: {slots['question']}")
    lines += [f"{LETTERS[i]}. {option}" for i, option in enumerate(slots["options"])]
    lines.append("Answer:")
    return "\n".join(lines)


@template(
    family="selection",
    prompt=render_prompt,
    completion=" {answer}",
    slots=("context", "question", "options", "answer"),
    rule=_rule,
    scorer=align,
)
def multiple_choice(
    rng: SampleRandom,
    tokens: TokenSpace,
    min_context: Words = 20,
    max_context: Words = 60,
    min_question: Length = 3,
    max_question: Length = 8,
    options: Annotated[int, Param(minimum=2, maximum=len(LETTERS))] = 4,
    min_option: Length = 2,
    max_option: Length = 5,
) -> dict[str, Any]:
    """A context and question of random tokens and ``options`` options; the correct option
    repeats the most context or question tokens, each distractor fewer."""
    if options > len(LETTERS):
        raise CookbookError(f"template 'multiple_choice': options must be at most {len(LETTERS)}")
    for _ in range(100):
        context = tokens.draw(rng, rng.randint(min_context, max(min_context, max_context)))
        question = tokens.draw(rng, rng.randint(min_question, max(min_question, max_question)))
        pool = list(dict.fromkeys(context + question))
        length = rng.randint(min_option, max(min_option, max_option))
        planted = rng.randint(1, min(length, len(pool)))
        counts = [planted] + [rng.randint(0, planted - 1) for _ in range(options - 1)]
        answer = rng.randrange(options)
        counts[0], counts[answer] = counts[answer], counts[0]
        texts = []
        for count in counts:
            words = rng.sample(pool, count) + tokens.draw(rng, length - count)
            rng.shuffle(words)
            texts.append(" ".join(words))
        slots = {"context": " ".join(context), "question": " ".join(question), "options": texts}
        scores = overlaps(slots["context"], slots["question"], texts)
        if len(set(texts)) == options and scores.count(max(scores)) == 1:
            return slots
    raise CookbookError(
        "template 'multiple_choice': could not draw options with a unique largest overlap;"
        " the token space may be too small"
    )

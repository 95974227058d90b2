"""Typed document QA (search): the question's first word names the answer's type.

A document of random lowercase tokens holds runs of two surface types: numbers (years, dates,
counts) and names (capitalised tokens). "When" asks for the date nearest the question's span,
"How many" for the nearest count, "Who" for the nearest name, "What" for the k tokens right
after the span. Real questions work the same way: "When was X founded?" wants the date near
"X founded", whatever other words sit closer.
"""

from __future__ import annotations

from itertools import groupby
from typing import Annotated, Any

from cookbook import Param, SampleRandom, TokenSpace, fuzzy_f1, template
from cookbook_plugins.qa import document_qa as plain_qa

#: A document's length in tokens: at least one, at most 100,000 (longer ones make generation
#: crawl, and no model's context holds them).
Words = Annotated[int, Param(minimum=1, maximum=100_000)]
#: A question's or answer's length in tokens: at least one, at most 1,000.
Length = Annotated[int, Param(minimum=1, maximum=1000)]
#: A count that may be zero, at most 1,000.
Count = Annotated[int, Param(minimum=0, maximum=1000)]
#: A probability.
Share = Annotated[float, Param(minimum=0, maximum=1)]

MONTHS = [
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
]
CUES = {"When": "date", "How many": "count", "Who": "name", "What": "span"}  # what each asks for
_MONTH_SET = set(MONTHS)


def word_class(word: str) -> str:
    """``number`` (digits or a month name), ``name`` (capitalised) or ``plain``."""
    if word in _MONTH_SET or any(ch.isdigit() for ch in word):
        return "number"
    return "name" if word[:1].isupper() else "plain"


def _class(run: str) -> str:
    """The word class of a run type: dates and counts are numbers."""
    return "number" if run in ("date", "count") else run


def _cue(question: str) -> str:
    """The question word a question starts with ("What" when none)."""
    return next((cue for cue in CUES if question.startswith(cue + " ")), "What")


def _rule(slots: dict[str, Any], k: int = 2) -> str:
    """The run of the asked type nearest the question's span (ties: the one after it)."""
    words = slots["document"].split()
    cue = _cue(slots["question"])
    start = slots["position"]
    end = start + len(slots["question"].rstrip("?").split()) - len(cue.split())
    kind = _class(CUES[cue])
    if kind == "span":
        return " ".join(words[end : end + k])
    runs, at = [], 0
    for word_kind, group in groupby(words, key=word_class):
        length = len(list(group))
        if word_kind == kind:
            runs.append((at, at + length))
        at += length
    if not runs:
        return ""

    def distance(run: tuple[int, int]) -> tuple[int, int]:
        a, b = run
        return (a - end if a >= end else start - b if b <= start else 0), int(a < start)

    a, b = min(runs, key=distance)
    return " ".join(words[a:b])


def align(slots: dict[str, Any], output: str, k: int = 2, window: int = 6) -> float:
    """Generated samples: token F1 of the output against the rule's answer. Real data: the
    share of the output's tokens within ``window`` tokens of the question's best match."""
    if "position" not in slots:
        return plain_qa.align(slots, output, k=k, window=window)
    return fuzzy_f1(str(output), _rule(slots, k))


def _plain(words: list[str]) -> list[str]:
    """``words`` in lower case, digits dropped, so that none reads as a number or a name."""
    lowered = ["".join(ch for ch in w.lower() if not ch.isdigit()) or "x" for w in words]
    return [w if word_class(w) == "plain" else "x" for w in lowered]


def _date(rng: SampleRandom) -> list[str]:
    year = str(rng.randint(1000, 2024))
    form = rng.randrange(3)
    if form == 0:
        return [year]
    if form == 1:
        return [str(rng.randint(1, 28)), rng.choice(MONTHS), year]
    return [rng.choice(MONTHS), year]


def _count(rng: SampleRandom) -> list[str]:
    if rng.getrandbits(1):
        return [str(rng.randint(2, 999))]
    return [f"{rng.randint(1, 999)},{rng.randint(0, 999):03d}"]


def _run(kind: str, rng: SampleRandom, tokens: TokenSpace) -> list[str]:
    """A run of ``kind``: a date, a count, or one to three capitalised tokens."""
    if kind == "date":
        return _date(rng)
    if kind == "count":
        return _count(rng)
    names = [word.capitalize() for word in _plain(tokens.draw(rng, rng.randint(1, 3)))]
    return [name + "s" if name in _MONTH_SET else name for name in names]


@template(
    family="search",
    prompt="Context: {document}\nQuestion: {question}\nAnswer:",
    completion=" {answer}",
    slots=("document", "question", "position", "answer"),
    rule=_rule,
    scorer=align,
)
def typed_qa(
    rng: SampleRandom,
    tokens: TokenSpace,
    min_words: Words = 40,
    max_words: Words = 120,
    min_question: Length = 2,
    max_question: Length = 5,
    k: Length = 2,
    max_gap: Count = 3,
    before: Share = 0.3,
    distractors: Count = 3,
    question_noise: Share = 0.3,
) -> dict[str, Any]:
    """A document of random tokens with number and name runs; the question is a question word
    (When: a date; How many: a count; Who: a name; What) and a span of the document; the
    answer is the run of the cued type nearest the span, up to ``max_gap`` tokens after it
    (before it with probability ``before``), other runs of that type lying farther away;
    "What" asks for the k tokens after the span. Each question token is replaced at random
    with ``question_noise``."""
    span = rng.randint(min_question, max_question)
    shortest = max(min_words, max_question + k + 2 * (max_gap + 4))
    length = rng.randint(shortest, max(max_words, shortest))
    words = _plain(tokens.draw(rng, length))
    cue = rng.choice(list(CUES))
    run_type = CUES[cue]
    kind = _class(run_type)
    gap = rng.randint(0, max_gap) if kind != "span" else 0
    after = kind == "span" or rng.random() >= before
    low = 0 if after else gap
    high = length - span - (gap + k if after else 0)
    start = rng.randint(low, max(low, high))
    inserts: dict[int, list[list[str]]] = {}
    far = max_gap + 4
    if kind != "span":
        inserts.setdefault(start + span + gap if after else start - gap, []).append(
            _run(run_type, rng, tokens)
        )
    for _ in range(distractors):
        for run in ("date", "count", "name"):
            at = rng.randint(0, length)
            if start < at < start + span:
                continue  # never inside the span
            if kind != "span" and _class(run) == kind and start - far < at < start + span + far:
                continue  # the asked type lies farther away than the answer
            inserts.setdefault(at, []).insert(0, _run(run, rng, tokens))
    document, position = [], 0
    for i in range(length + 1):
        for run in inserts.get(i, []):
            document.extend(run)
        if i == start:
            position = len(document)
        if i < length:
            document.append(words[i])
    question = words[start : start + span]
    if question_noise > 0:
        question = [
            _plain(tokens.draw(rng, 1))[0] if rng.random() < question_noise else w for w in question
        ]
    return {
        "document": " ".join(document),
        "question": f"{cue} {' '.join(question)}?",
        "position": position,
    }

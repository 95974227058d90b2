"""The built-in scorers a template spec chooses from: does an output follow the spec's rule?

Each is ``make(rule, args) -> score(slots, output, params) -> float`` where ``rule(slots,
params)`` is the spec's rule and ``args`` the scorer's evaluated arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from cookbook.contract.text import (
    fuzzy_f1,
    normalize_tokens,
    normalize_word,
    token_f1,
    word_tokens,
)
from cookbook.specs.records import parse_yes_no

Score = Callable[[Mapping[str, Any], Any, Mapping[str, Any]], float]
RuleFn = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
#: A scorer's arguments: each a function of the template's parameters.
Args = Mapping[str, Callable[[Mapping[str, Any]], Any]]


@dataclass(frozen=True)
class ScorerKind:
    """A built-in scorer: its arguments (with defaults; an expression over the parameters
    each) and how to make its scoring function."""

    args: dict[str, Any]
    make: Callable[[RuleFn, Args], Score]
    description: str


def _fuzzy(rule: RuleFn, args: Args) -> Score:
    return lambda slots, output, params: fuzzy_f1(str(output), str(rule(slots, params)))


def _exact(rule: RuleFn, args: Args) -> Score:
    def score(slots: Mapping[str, Any], output: Any, params: Mapping[str, Any]) -> float:
        return float(normalize_tokens(str(output)) == normalize_tokens(str(rule(slots, params))))

    return score


def _yes_no(rule: RuleFn, args: Args) -> Score:
    def score(slots: Mapping[str, Any], output: Any, params: Mapping[str, Any]) -> float:
        answer = parse_yes_no(rule(slots, params))
        return float(answer is not None and parse_yes_no(output) == answer)

    return score


def _by_args(function: Callable[..., float]) -> Callable[[RuleFn, Args], Score]:
    """A scorer maker calling ``function(slots, output, **args)`` with the arguments evaluated
    over the parameters (the rule is not used: the scorer finds the answer in the slots)."""

    def make(rule: RuleFn, args: Args) -> Score:
        def score(slots: Mapping[str, Any], output: Any, params: Mapping[str, Any]) -> float:
            return function(slots, output, **{name: arg(params) for name, arg in args.items()})

        return score

    return make


def near_span(
    slots: Mapping[str, Any],
    output: Any,
    document: str,
    question: str,
    position: str,
    window: int,
    side: str,
) -> float:
    """Share of the output's tokens found within ``window`` tokens before and/or after the
    question's span in the document: at its ``position`` slot when there is one, else where
    the question's tokens overlap the document most (real data has no position)."""
    answer = normalize_tokens(output if isinstance(output, str) else str(output))
    if not answer:
        return 0.0
    if position in slots:
        start, span = slots[position], len(slots[question].split())
        words = slots[document].split(None, max(0, start + span + window))
        if not words:
            return 0.0
        return _share_near(answer, _near(words, start, span, window, side))
    words = slots[document].split()
    if not words:
        return 0.0
    wanted = set(normalize_tokens(slots[question]))
    span = max(1, len(wanted))
    doc = [normalize_word(w) for w in words]
    overlaps = _window_sums([w in wanted for w in doc], span)
    best = max(overlaps)
    if best == 0:
        return 0.0
    best_score = 0.0
    for start, overlap in enumerate(overlaps):
        if overlap == best:
            best_score = max(
                best_score, _share_near(answer, _near(words, start, span, window, side))
            )
    return best_score


def span_f1(
    slots: Mapping[str, Any],
    output: Any,
    document: str,
    question: str,
    position: str,
    k: int,
    side: str,
) -> float:
    """Token F1 of the output against the ``k`` words right before or after the question's
    span in the document: at its ``position`` slot when there is one, else the best over the
    places where the question's tokens overlap the document most (real data has no position).
    Unlike ``near_span``, a wrong ``k`` or side costs precision or recall."""
    answer = normalize_tokens(output if isinstance(output, str) else str(output))
    if position in slots:
        starts, span = [slots[position]], len(slots[question].split())
        words = slots[document].split()
    else:
        words = slots[document].split()
        wanted = set(normalize_tokens(slots[question]))
        span = max(1, len(wanted))
        overlaps = _window_sums([normalize_word(w) in wanted for w in words], span)
        best = max(overlaps, default=0)
        if best == 0:
            return 0.0
        starts = [start for start, overlap in enumerate(overlaps) if overlap == best]
    best_score = 0.0
    for start in starts:
        if side == "after":
            near = words[start + span : start + span + k]
        else:
            near = words[max(0, start - k) : start]
        gold = [t for word in near for t in word_tokens(word)]
        best_score = max(best_score, token_f1(answer, gold))
    return best_score


def _near(words: list[str], start: int, span: int, window: int, side: str) -> list[str]:
    before = words[max(0, start - window) : start] if side != "after" else []
    after = words[start + span : start + span + window] if side != "before" else []
    return before + after


def _share_near(answer: list[str], near: list[str]) -> float:
    near_tokens = {t for word in near for t in word_tokens(word)}
    return len([t for t in answer if t in near_tokens]) / len(answer)


def _window_sums(hits: list[bool], span: int) -> list[int]:
    prefix = [0, *accumulate(hits)]
    n = len(hits)
    return [prefix[min(i + span, n)] - prefix[i] for i in range(n)]


SCORERS: dict[str, ScorerKind] = {
    "fuzzy_f1": ScorerKind({}, _fuzzy, "token F1 of the output and the rule's answer"),
    "exact": ScorerKind({}, _exact, "1 when the output's normalised tokens equal the answer's"),
    "yes_no": ScorerKind(
        {},
        _yes_no,
        "1 when the output's first Yes or No is the rule's answer (Yes or No, any case)",
    ),
    "near_span": ScorerKind(
        {
            "document": "document",
            "question": "question",
            "position": "position",
            "window": 3,
            "side": "both",
        },
        _by_args(near_span),
        "share of the output's tokens within 'window' tokens before, after or on both sides"
        " of the question's span in the document (found by overlap when there is no position"
        " slot); slot names are arguments",
    ),
    "span_f1": ScorerKind(
        {
            "document": "document",
            "question": "question",
            "position": "position",
            "k": 3,
            "side": "after",
        },
        _by_args(span_f1),
        "token F1 of the output and the k words right before or after the question's span in"
        " the document (found by overlap when there is no position slot); slot names are"
        " arguments",
    ),
}

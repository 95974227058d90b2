"""Document QA (search): the answer is the k tokens right before or after the question's span."""

from __future__ import annotations

from typing import Any

from cookbook import SampleRandom, TokenSpace, hookimpl, template
from cookbook.text import normalize_tokens


def _rule(slots: dict[str, Any], k: int = 3) -> str:
    words = slots["document"].split()
    start, length = slots["position"], len(slots["question"].split())
    if slots["side"] == "after":
        return " ".join(words[start + length : start + length + k])
    return " ".join(words[max(0, start - k) : start])


def _norm_words(text: str) -> list[str]:
    return [" ".join(normalize_tokens(w)) for w in text.split()]


def align(slots: dict[str, Any], output: str, k: int = 3, window: int | None = None) -> float:
    """Share of the output's tokens found within ``window`` tokens of the question's best match.

    Works on real data too: the question is located by fuzzy token overlap, no position needed.
    """
    window = window or k
    doc = _norm_words(slots["document"])
    question = set(normalize_tokens(slots["question"]))
    answer = [t for t in normalize_tokens(str(output)) if t]
    if not answer or not doc:
        return 0.0
    if "position" in slots:
        starts = [slots["position"]]
        span = len(slots["question"].split())
    else:
        span = max(1, len(question))
        overlaps = [sum(w in question for w in doc[i : i + span]) for i in range(len(doc))]
        best = max(overlaps)
        if best == 0:
            return 0.0
        starts = [i for i, o in enumerate(overlaps) if o == best]
    best_score = 0.0
    for start in starts:
        near = doc[max(0, start - window) : start] + doc[start + span : start + span + window]
        near_tokens = {t for w in near for t in w.split()}
        best_score = max(best_score, sum(t in near_tokens for t in answer) / len(answer))
    return best_score


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
    min_words: int = 40,
    max_words: int = 120,
    min_question: int = 2,
    max_question: int = 6,
    k: int = 3,
    side: str = "random",
) -> dict[str, Any]:
    """A document of random tokens; the question is a span of it; the answer is the k tokens
    right before or right after that span (``side``: before, after or random)."""
    length = rng.randint(
        max(min_words, max_question + k), max(max_words, min_words, max_question + k)
    )
    words = tokens.draw(rng, length)
    span = rng.randint(min_question, max_question)
    chosen = side if side != "random" else ("before", "after")[rng.getrandbits(1)]
    if chosen == "after":
        start = rng.randint(0, length - span - k)
    else:
        start = rng.randint(k, length - span)
    return {
        "document": " ".join(words),
        "question": " ".join(words[start : start + span]),
        "side": chosen,
        "position": start,
    }


document_qa.params_schema["properties"]["side"]["enum"] = ["random", "before", "after"]
for _key in ("min_words", "max_words", "min_question", "max_question", "k"):
    document_qa.params_schema["properties"][_key]["minimum"] = 1


@hookimpl
def register_templates(register):
    register(document_qa)

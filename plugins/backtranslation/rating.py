"""Self-curation: a model rates each (instruction, output) candidate on the 5-point scale of
the Humpback paper (Li et al., ICLR 2024, table 19), and the candidates rated high enough
are kept."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from cookbook import CookbookError, did_you_mean

FIELDS = ("instruction", "output")

DEFAULT_RATING_PROMPT = """\
Below is an instruction from a user and a candidate answer. Evaluate whether or not the \
answer is a good example of how an AI Assistant should respond to the user's instruction. \
Assign a score on this 5-point scale:
1: The answer is incomplete, vague, off-topic, controversial, or not exactly what the user \
asked for: for example some content seems missing, a numbered list does not start from the \
beginning, or the opening sentence repeats the user's question. Or it is written from another \
person's perspective, like a blog post, an answer on a forum or the text of a web page.
2: The answer addresses most of the user's asks but does not directly address the question: \
for example it gives a high-level methodology instead of the exact solution.
3: The answer is helpful but not written by an AI Assistant. It addresses all the basic asks \
and is complete and self-contained, but it is written from another person's perspective, like \
an excerpt from a blog post, a web page or web search results: it has personal experience or \
opinion, promotional text, navigation text or other irrelevant information.
4: The answer is written from an AI Assistant's perspective with a clear focus on addressing \
the instruction. It is complete, clear and comprehensive, well organized, self-contained and \
helpful, with minor room for improvement, such as being more concise and focused.
5: The answer is a perfect answer from an AI Assistant. It has a clear focus on being helpful, \
answering the question without any irrelevant sentences; it shows expert knowledge and is \
very well written, logical, easy to follow, engaging and insightful.

Instruction:
{instruction}

Answer:
{output}

First give a brief reasoning for your rating, then write "Score: <rating>" on the last line, \
where <rating> is a whole number from 1 to 5.
"""

_NUMBER = r"(\d+(?:\.\d+)?)(?![\d.]*\d)"
_OUT_OF = r"\s*(?:/|out\s+of)\s*(\d+)(?![\d/])"
_LABELLED = re.compile(
    rf"\b(?:score|rating)\b[*_\s]*[:=][*_\s]*[\[(<]?\s*{_NUMBER}\s*[\])>]?(?:{_OUT_OF})?",
    re.IGNORECASE,
)
_OUT_OF_5 = re.compile(rf"(?<![\d./]){_NUMBER}\s*(?:/|out\s+of)\s*5(?![\d/])", re.IGNORECASE)
_BARE = re.compile(r"\s*[*_]*\s*(\d+)\s*[*_.]*\s*")


def check_rating_prompt(prompt: str) -> None:
    """An error unless ``prompt`` is a ``str.format`` string whose only fields are plain
    ``{instruction}`` and ``{output}``, both present."""
    if not isinstance(prompt, str):
        raise CookbookError(f"rating prompt must be a string, not {type(prompt).__name__}")
    try:
        parsed = list(string.Formatter().parse(prompt))
    except ValueError as exc:
        raise CookbookError(
            f"rating prompt: unbalanced braces ({exc}); write a literal brace as {{{{ or }}}}"
        ) from None
    found = set()
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in FIELDS:
            shown = f"{{{field}}}" if field else "{} (a field needs a name)"
            hint = did_you_mean(field, FIELDS)
            raise CookbookError(
                f"rating prompt: unknown field {shown}; only {{instruction}} and {{output}}"
                f" may appear (write a literal brace as {{{{ or }}}}){hint}"
            )
        if spec or conversion:
            raise CookbookError(
                f"rating prompt: field {{{field}}} takes no conversion or format spec"
            )
        found.add(field)
    missing = [f"{{{name}}}" for name in FIELDS if name not in found]
    if missing:
        raise CookbookError(f"rating prompt: missing field {' and '.join(missing)}")


def render_rating_prompt(prompt: str, instruction: str, output: str) -> str:
    """The prompt with the candidate's instruction and output filled in."""
    check_rating_prompt(prompt)
    return prompt.format(instruction=instruction, output=output)


def _in_scale(number: str, out_of: str | None) -> int | None:
    """``number`` as a score from 1 to 5 (out of 5 when a scale is given), else None."""
    value = float(number)
    if out_of is not None and int(out_of) != 5:
        return None
    if value != int(value) or not 1 <= value <= 5:
        return None
    return int(value)


def parse_score(reply: str) -> int | None:
    """The 1-5 score in a model's reply: the last "Score:" (or "Rating:") one, else the last
    "N/5" or "N out of 5", else a reply that is only a number; None when there is none."""
    labelled = list(_LABELLED.finditer(reply))
    if labelled:
        return _in_scale(*labelled[-1].groups())
    fractions = list(_OUT_OF_5.finditer(reply))
    if fractions:
        return _in_scale(fractions[-1].group(1), None)
    bare = _BARE.fullmatch(reply)
    return _in_scale(bare.group(1), None) if bare else None


@dataclass(frozen=True)
class Curation:
    """Which candidates were kept (their indices), and how many were not and why."""

    kept: list[int]
    below: int
    unscored: int


def curate(scores: Sequence[int | None], threshold: int) -> Curation:
    """The candidates to keep: those scored at least ``threshold`` (a whole number, 1 to 5)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 5:
        raise CookbookError(
            f"rating threshold must be a whole number from 1 to 5, not {threshold!r}"
        )
    kept, below, unscored = [], 0, 0
    for i, score in enumerate(scores):
        if score is None:
            unscored += 1
        elif isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise CookbookError(f"score {i} is {score!r}; expected a whole number from 1 to 5")
        elif score >= threshold:
            kept.append(i)
        else:
            below += 1
    return Curation(kept=kept, below=below, unscored=unscored)

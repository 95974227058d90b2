"""The draw steps of a template spec: named values drawn or computed in order, one sample at a time.

Each step is ``{let: NAME, OPERATION: ARGUMENTS}``, optionally with ``when: EXPRESSION`` (the
step runs, and draws, only when it is true; otherwise NAME is bound to ``otherwise`` if given,
or left as it was). Steps run in the order written, so a spec draws its random values in
exactly the order a Python template that does the same things draws them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cookbook.contract.seeding import SampleRandom
from cookbook.contract.tokens import TokenSpace
from cookbook.specs.expressions import evaluate

Rule = Callable[[dict], Any] | None


@dataclass(frozen=True)
class StepKind:
    """A step operation: its argument names (one argument: given as it is) and what it does."""

    args: tuple[str, ...]
    description: str
    draws: bool = True


STEP_KINDS: dict[str, StepKind] = {
    "value": StepKind(("of",), "an expression's value (draws nothing)", draws=False),
    "randint": StepKind(("low", "high"), "an integer in [low, high], both included"),
    "random": StepKind(("of",), "a float in [0, 1) (the argument is ignored: write true)"),
    "coin": StepKind(("heads", "tails"), "one of two values, by one random bit"),
    "choice": StepKind(("of",), "one item of a list, uniformly"),
    "tokens": StepKind(("of",), "that many tokens of the token space, with replacement"),
    "distinct_tokens": StepKind(("of",), "that many different tokens of the token space"),
    "noise": StepKind(
        ("of", "rate"),
        "each token replaced by a random one with probability rate (draws only when rate > 0)",
    ),
    "edit": StepKind(
        ("values", "edits"),
        "a copy of a list of token lists after that many random token replacements,"
        " deletions or insertions",
    ),
    "each": StepKind(
        ("over", "as", "steps", "result"),
        "for each item of a list (bound to 'as', default item), run steps; the list of results",
    ),
    "repeat": StepKind(
        ("times", "steps", "until"),
        "run steps up to 'times' times, stopping once 'until' is true",
    ),
}
#: The most tokens one step may draw or edit, and the most times a ``repeat`` may run: a spec
#: runs no code, and these bounds keep what it can ask for finite.
MAX_TOKENS = 1_000_000
MAX_REPEAT = 10_000
#: Keys of a step besides its operation.
STEP_KEYS = ("let", "when", "otherwise")


def step_operation(step: Mapping[str, Any]) -> str:
    """The operation of a validated step."""
    return next(k for k in step if k not in STEP_KEYS)


def _args(kind: str, raw: Any) -> dict[str, Any]:
    names = STEP_KINDS[kind].args
    if kind in ("each", "repeat") or (isinstance(raw, dict) and len(names) > 1):
        return dict(raw)
    if len(names) == 1:
        return {names[0]: raw}
    return dict(zip(names, raw, strict=True))


def run_steps(
    steps: list[dict[str, Any]],
    scope: dict[str, Any],
    rng: SampleRandom,
    tokens: TokenSpace,
    rule: Rule,
) -> None:
    """Run ``steps`` in order, binding their names in ``scope``."""
    for step in steps:
        if "when" in step and not evaluate(step["when"], scope, rule):
            if "otherwise" in step and "let" in step:
                scope[step["let"]] = evaluate(step["otherwise"], scope, rule)
            continue
        kind = step_operation(step)
        value = _run(kind, _args(kind, step[kind]), scope, rng, tokens, rule)
        if "let" in step:
            scope[step["let"]] = value


def _run(
    kind: str,
    args: dict[str, Any],
    scope: dict[str, Any],
    rng: SampleRandom,
    tokens: TokenSpace,
    rule: Rule,
) -> Any:
    def arg(name: str) -> Any:
        return evaluate(args[name], scope, rule)

    def size(name: str, most: int = MAX_TOKENS) -> int:
        value = arg(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            raise ValueError(
                f"{kind!r}: {name} must be a whole number from 0 to {most:,}, not {value!r}"
            )
        return value

    if kind == "value":
        return arg("of")
    if kind == "randint":
        return rng.randint(arg("low"), arg("high"))
    if kind == "random":
        return rng.random()
    if kind == "coin":
        return (arg("heads"), arg("tails"))[rng.getrandbits(1)]
    if kind == "choice":
        return rng.choice(arg("of"))
    if kind == "tokens":
        return tokens.draw(rng, size("of"))
    if kind == "distinct_tokens":
        return tokens.distinct(rng, size("of"))
    if kind == "noise":
        return noisy(rng, tokens, list(arg("of")), arg("rate"))
    if kind == "edit":
        return random_edits(rng, tokens, arg("values"), size("edits"))
    if kind == "each":
        results = []
        for item in arg("over"):
            inner = dict(scope)
            inner[args.get("as", "item")] = item
            run_steps(args.get("steps", []), inner, rng, tokens, rule)
            results.append(evaluate(args["result"], inner, rule))
        return results
    if kind == "repeat":
        for _ in range(size("times", MAX_REPEAT)):
            run_steps(args["steps"], scope, rng, tokens, rule)
            if "until" in args and evaluate(args["until"], scope, rule):
                break
        return None
    raise AssertionError(kind)  # pragma: no cover - every kind is handled above


def noisy(rng: SampleRandom, tokens: TokenSpace, words: list[str], rate: float) -> list[str]:
    """Each word replaced by a random token with probability ``rate``: one 32-bit flip per
    word, then a replacement per word, drawn only when ``rate`` is above 0."""
    if rate <= 0:
        return words
    flips = rng.integers(1 << 32, len(words)).tolist()
    others = tokens.draw(rng, len(words))
    cut = int(rate * (1 << 32))
    return [o if f < cut else w for w, f, o in zip(words, flips, others, strict=True)]


def random_edits(
    rng: SampleRandom, tokens: TokenSpace, values: list[list[str]], edits: int
) -> list[list[str]]:
    """A copy of ``values`` after ``edits`` random token replacements, deletions or
    insertions (replacements twice as likely as either)."""
    values = [list(v) for v in values]
    for _ in range(edits):
        value = values[rng.randrange(len(values))]
        kind = rng.randrange(4)
        if kind < 2 and value:
            value[rng.randrange(len(value))] = tokens.draw(rng, 1)[0]
        elif kind == 2 and len(value) > 1:
            del value[rng.randrange(len(value))]
        else:
            value.insert(rng.randint(0, len(value)), tokens.draw(rng, 1)[0])
    return values

"""The template contract: inputs over random tokens, a rule for the output, a prompt renderer.

A simple template is one decorated function::

    @template(family="search", prompt="Reverse: {words}\\nAnswer:", completion=" {answer}",
              rule=lambda slots: " ".join(reversed(slots["words"].split())))
    def reverse(rng, tokens, length: int = 4):
        return {"words": tokens.text(rng, length)}
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any

from cookbook.contract.errors import CookbookError
from cookbook.contract.params import UNSET, Param, Params, ParamSpec
from cookbook.contract.seeding import SampleRandom
from cookbook.contract.text import fuzzy_f1
from cookbook.contract.tokens import TokenSpace

#: ``natural`` is natural-language data drawn from a file (no rule over tokens).
FAMILIES = ("selection", "search", "comparison", "composition", "natural")

#: Parameters every template accepts: overrides of its prompt and completion formats.
FORMAT_PARAMS = Params(
    [
        ParamSpec(
            "prompt",
            UNSET,
            {"type": "string", "description": "Prompt format (str.format over the slots)."},
        ),
        ParamSpec(
            "completion",
            UNSET,
            {"type": "string", "description": "Completion format over the slots."},
        ),
    ]
)

Renderer = str | Callable[[Mapping[str, Any]], str]

#: The type of a task's ``prompt`` parameter, the template's prompt format for its records:
#: ``prompt: PromptFormat = UNSET`` in a task's ``read``.
PromptFormat = Annotated[str, Param("Prompt format over the slots (str.format).")]


def accepted_params(fn: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``params`` that ``fn`` declares (all of them if it takes ``**kwargs``)."""
    sig = inspect.signature(fn)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return dict(params)
    names = {
        n for n, p in sig.parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    return {k: v for k, v in params.items() if k in names}


def bind_params(fn: Callable[..., Any], params: Mapping[str, Any]) -> Callable[..., Any]:
    """``fn`` with the parameters it declares bound (``fn`` itself when there are none)."""
    accepted = accepted_params(fn, params)
    return partial(fn, **accepted) if accepted else fn


def format_fields(fmt: str) -> list[str]:
    """The slot names a format string refers to, in order."""
    return [f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(fmt) if f]


@dataclass
class Template:
    """A programmatic template; see the module docstring for the decorated-function form.

    ``generate(rng, tokens, **params)`` returns the input slots; ``rule(slots, **params)``
    computes the output slot; ``prompt``/``completion`` render slots to text (format strings
    or callables); ``scorer(slots, output, **params)`` says in [0, 1] whether an output
    follows the rule (default: fuzzy token F1 against the rule's own output).
    """

    name: str
    family: str
    generate: Callable[..., dict[str, Any]]
    rule: Callable[..., Any]
    prompt: Renderer
    completion: Renderer = " {answer}"
    output: str = "answer"
    slots: tuple[str, ...] = ()
    params: Params = field(default_factory=Params)
    scorer: Callable[..., float] | None = None
    description: str = ""
    generate_batch: Callable[..., dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise CookbookError(
                f"template {self.name!r}: family must be one of {', '.join(FAMILIES)}"
            )
        if FORMAT_PARAMS.names[0] not in self.params:
            self.params = self.params.merged(FORMAT_PARAMS)
        if not self.slots and isinstance(self.prompt, str):
            inputs = [s for s in format_fields(self.prompt) if s != self.output]
            self.slots = (*dict.fromkeys(inputs), self.output)

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with ``overrides``, validated; errors name the template and key."""
        return self.params.resolve(f"template {self.name!r}", overrides)

    def own_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` without the generic format overrides."""
        return {k: v for k, v in params.items() if k not in FORMAT_PARAMS}

    def bind(self, params: Mapping[str, Any]) -> Callable[[SampleRandom, TokenSpace], dict]:
        """A fast ``make(rng, tokens) -> slots`` with ``params`` bound once."""
        own = self.own_params(params)
        generate, rule, output = self.generate, self.rule, self.output
        generate_kw, rule_kw = accepted_params(generate, own), accepted_params(rule, own)

        def make(rng: SampleRandom, tokens: TokenSpace) -> dict[str, Any]:
            slots = generate(rng, tokens, **generate_kw)
            slots[output] = rule(slots, **rule_kw)
            return slots

        return make

    def make_slots(self, rng: SampleRandom, tokens: TokenSpace, params: Mapping[str, Any]) -> dict:
        """Draw the input slots and apply the rule to fill the output slot."""
        return self.bind(params)(rng, tokens)

    def batch(self, fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        """Decorator: ``fn(rng: BatchRandom, tokens, **params)`` makes every slot (the output
        too) of ``rng.n`` samples as columns, drawing exactly what ``generate`` draws; see
        ``cookbook.contract.batches``."""
        self.generate_batch = fn
        return fn

    def bind_batch(self, params: Mapping[str, Any]) -> Callable[..., dict[str, Any]] | None:
        """The batch generator with ``params`` bound, or None when the template has none."""
        if self.generate_batch is None:
            return None
        return bind_params(self.generate_batch, self.own_params(params))

    def render(self, slots: Mapping[str, Any], params: Mapping[str, Any]) -> tuple[str, str]:
        """The (prompt, completion) texts of a sample."""
        return (
            render(params.get("prompt", self.prompt), slots),
            render(params.get("completion", self.completion), slots),
        )

    def scoring(self, params: Mapping[str, Any]) -> Callable[[Mapping[str, Any], Any], float]:
        """``score(slots, output)`` with ``params`` bound once, for scoring many records."""
        own = self.own_params(params)
        if self.scorer is not None:
            scorer = bind_params(self.scorer, own)
            return lambda slots, output: float(scorer(slots, output))
        rule = bind_params(self.rule, own)
        return lambda slots, output: fuzzy_f1(str(output), str(rule(slots)))

    def align(self, slots: Mapping[str, Any], output: Any, params: Mapping[str, Any]) -> float:
        """Alignment score in [0, 1]: does ``output`` follow the rule given the inputs?"""
        return self.scoring(params)(slots, output)


def render(renderer: Renderer, slots: Mapping[str, Any]) -> str:
    if callable(renderer):
        return renderer(slots)
    try:
        return renderer.format_map(slots)
    except (KeyError, IndexError) as exc:
        raise CookbookError(
            f"format {renderer!r} names a slot that does not exist: {exc}"
        ) from None


def template(
    func: Callable[..., dict[str, Any]] | None = None,
    *,
    prompt: Renderer,
    rule: Callable[..., Any],
    family: str = "search",
    completion: Renderer = " {answer}",
    name: str | None = None,
    output: str = "answer",
    slots: tuple[str, ...] = (),
    scorer: Callable[..., float] | None = None,
    description: str | None = None,
) -> Any:
    """Make a ``Template`` from a generator function ``fn(rng, tokens, **params)``: the
    parameters after ``rng`` and ``tokens`` are the template's (see ``Params``)."""

    def wrap(fn: Callable[..., dict[str, Any]]) -> Template:
        doc = inspect.getdoc(fn) or ""
        return Template(
            name=name or fn.__name__,
            family=family,
            generate=fn,
            rule=rule,
            prompt=prompt,
            completion=completion,
            output=output,
            slots=tuple(slots),
            params=Params.of(fn, skip=2),
            scorer=scorer,
            description=description or doc.split("\n\n")[0],
        )

    return wrap(func) if func is not None else wrap

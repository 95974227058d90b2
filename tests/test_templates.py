"""The template API: the decorator, parameters and their schema, rendering, alignment."""

from __future__ import annotations

import pytest

from cookbook import CookbookError, SampleRandom, Template, template
from cookbook.contract.tokens import TokenSpace


def _reverse_rule(slots):
    return " ".join(reversed(slots["words"].split()))


@template(family="search", prompt="Reverse: {words}\nAnswer:", rule=_reverse_rule)
def reverse(rng, tokens, length: int = 4, ratio: float = 0.5, loud: bool = False):
    """Random words to be reversed.

    More text that is not part of the summary.
    """
    return {"words": tokens.text(rng, length)}


SPACE = TokenSpace("abc", ["alpha", "beta", "gamma", "delta"])


def test_decorator_builds_a_template_from_the_signature():
    assert isinstance(reverse, Template)
    assert reverse.name == "reverse"
    assert reverse.description == "Random words to be reversed."
    assert reverse.slots == ("words", "answer")
    assert reverse.params.defaults == {"length": 4, "ratio": 0.5, "loud": False}
    assert reverse.resolve() == {"length": 4, "ratio": 0.5, "loud": False}
    props = reverse.params.schema["properties"]
    assert props["length"]["type"] == "integer"
    assert props["ratio"]["type"] == "number"
    assert props["loud"]["type"] == "boolean"
    assert {"prompt", "completion"} <= set(props)


def test_make_slots_applies_the_rule_and_render_uses_the_formats():
    params = reverse.resolve({"length": 3})
    slots = reverse.make_slots(SampleRandom(1), SPACE, params)
    assert len(slots["words"].split()) == 3
    assert slots["answer"] == " ".join(reversed(slots["words"].split()))
    prompt, completion = reverse.render(slots, params)
    assert prompt == f"Reverse: {slots['words']}\nAnswer:"
    assert completion == f" {slots['answer']}"


def test_formats_can_be_overridden_per_run():
    params = reverse.resolve({"prompt": "Q: {words}", "completion": "A: {answer}."})
    slots = {"words": "a b", "answer": "b a"}
    assert reverse.render(slots, params) == ("Q: a b", "A: b a.")


def test_format_naming_a_missing_slot_is_a_clear_error():
    with pytest.raises(CookbookError, match="names a slot that does not exist"):
        reverse.render({"words": "a"}, reverse.resolve({"prompt": "{nope}"}))


@pytest.mark.parametrize(
    "override, fragment",
    [
        ({"length": "three"}, "length: 'three' is not of type 'integer'"),
        ({"colour": 1}, "colour: unknown parameter 'colour'"),
    ],
)
def test_bad_params_name_the_template_and_the_key(override, fragment):
    with pytest.raises(CookbookError) as err:
        reverse.resolve(override)
    assert "template 'reverse'" in str(err.value)
    assert fragment in str(err.value)


def test_default_alignment_is_fuzzy_match_with_the_rule():
    params = reverse.resolve()
    slots = {"words": "The cats sat"}
    assert reverse.align(slots, "sat cats the", params) == 1.0
    assert reverse.align(slots, "Sat, cat!", params) == 1.0
    assert reverse.align(slots, "dogs", params) == 0.0


def test_unknown_family_is_rejected():
    with pytest.raises(CookbookError, match="family must be one of"):
        template(family="magic", prompt="{x}", rule=lambda s: "")(lambda rng, tokens: {})


def test_generator_receives_only_declared_params():
    seen = {}

    @template(prompt="{x}", rule=lambda slots: "y")
    def narrow(rng, tokens, width: int = 2):
        seen["width"] = width
        return {"x": "z"}

    narrow.make_slots(SampleRandom(0), SPACE, narrow.resolve({"prompt": "{x}!"}))
    assert seen == {"width": 2}

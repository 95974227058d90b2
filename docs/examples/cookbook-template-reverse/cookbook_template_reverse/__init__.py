"""A third-party Cookbook template: the answer is the words of the input in reverse order."""

from cookbook import hookimpl, template


def reverse_rule(slots, **params):
    return " ".join(reversed(slots["words"].split()))


@template(family="search", prompt="Reverse the words: {words}\nAnswer:", rule=reverse_rule)
def reverse(rng, tokens, length: int = 4):
    """Random words to be reversed."""
    return {"words": tokens.text(rng, length)}


@hookimpl
def register_templates(register):
    register(reverse)

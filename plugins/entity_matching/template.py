"""Entity matching (comparison): two records match (Yes) when their values overlap enough.

Records are written ``attribute: value`` joined by ". " as in Narayan et al. (2022), "Can
foundation models wrangle your data?"; the overlap is the token F1 of the two records'
values (attribute names and missing values, written "nan", left out).
"""

from __future__ import annotations

from typing import Annotated, Any

from cookbook import (
    Param,
    SampleRandom,
    TokenSpace,
    parse_record,  # noqa: F401 - this module's record helpers, for its task and users
    parse_yes_no,
    random_edits,
    record_overlap,
    serialize_record,
    template,
)

#: A size of at least one, at most 100 (attributes, tokens of a value: a record holds up to
#: 10,000 tokens, each pair perturbed token by token).
Size = Annotated[int, Param(minimum=1, maximum=100)]
#: A probability.
Share = Annotated[float, Param(minimum=0, maximum=1)]

#: Token F1 between the values of two serialised records (0 when either has none).
overlap = record_overlap


def serialize(record: dict[str, Any]) -> str:
    """``{"name": "x y", "city": ""}`` -> ``"name: x y. city: nan"``."""
    return serialize_record(list(record), list(record.values()))


def _rule(slots: dict[str, Any], threshold: float = 0.5) -> str:
    return "Yes" if overlap(slots["entity_a"], slots["entity_b"]) >= threshold else "No"


def align(slots: dict[str, Any], output: str, threshold: float = 0.5) -> float:
    """1.0 when the output's Yes/No is what the overlap rule gives for the two records."""
    return float(parse_yes_no(output) == _rule(slots, threshold))


@template(
    family="comparison",
    prompt=(
        "Entity A is {entity_a}. Entity B is {entity_b}.\n"
        "Are Entity A and Entity B the same? Yes or No?"
    ),
    completion=" {answer}",
    slots=("entity_a", "entity_b", "answer"),
    rule=_rule,
    scorer=align,
)
def entity_matching(
    rng: SampleRandom,
    tokens: TokenSpace,
    attributes: Size = 3,
    min_value: Size = 1,
    max_value: Size = 4,
    threshold: Annotated[float, Param(exclusiveMinimum=0, maximum=1)] = 0.5,
    hard_negatives: Share = 0.5,
    positives: Share = 0.5,
) -> dict[str, Any]:
    """Two records over the same random attributes; Yes when their values' token F1 reaches
    ``threshold``. ``positives`` of the pairs are Yes (real matching data has far fewer
    matches than non-matches); ``hard_negatives`` of the No pairs share many tokens and fall
    just short of the threshold."""
    names = tokens.distinct(rng, attributes)
    values = [tokens.draw(rng, rng.randint(min_value, max(min_value, max_value))) for _ in names]
    size = sum(map(len, values))
    want = "Yes" if rng.random() < positives else "No"
    hard = want == "No" and rng.random() < hard_negatives
    entity_a = serialize(dict(zip(names, map(" ".join, values), strict=True)))
    allowed = int(size * (1 - threshold))  # replacements that keep the F1 >= threshold
    for _ in range(32):  # the rule decides the label; redraw the rare pair that misses it
        if want == "Yes":
            other = random_edits(rng, tokens, values, rng.randint(0, allowed))
        elif hard:
            other = random_edits(rng, tokens, values, rng.randint(allowed + 1, size))
        else:
            other = [tokens.draw(rng, len(v)) for v in values]
        entity_b = serialize(dict(zip(names, map(" ".join, other), strict=True)))
        if _rule({"entity_a": entity_a, "entity_b": entity_b}, threshold) == want:
            break
    return {"entity_a": entity_a, "entity_b": entity_b}

"""Poetry (composition): lines of random tokens whose final words rhyme by a named scheme.

Rhymes come from a pronouncing dictionary (default CMUdict; see ``rhyme_dictionary`` for the
definition of a rhyme). The scorer checks any poem against a scheme, so it also measures
real stanzas and model generations.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from string import ascii_uppercase
from typing import Annotated, Any, Literal

from cookbook import CookbookError, Param, SampleRandom, TokenSpace, template
from cookbook_plugins.poetry.rhyme_dictionary import end_word, load_dictionary

#: Schemes drawn when ``scheme`` is "random": couplets, quatrains, a limerick, sestet endings.
SCHEMES = ("AABB", "ABAB", "ABBA", "ABCB", "AAAA", "AABBA", "ABABCC", "AABCCB")
_SCHEME_HELP = "'random' (one of " + ", ".join(SCHEMES) + ") or letters."


def label(index: int) -> str:
    """The scheme letter of the ``index``-th rhyme group: A..Z, then AA, AB, ..."""
    if index < 26:
        return ascii_uppercase[index]
    return label(index // 26 - 1) + ascii_uppercase[index % 26]


def parse_scheme(scheme: str) -> list[str]:
    """A scheme's labels: one per letter ("ABAB"), or white-space separated ("1 2 1 2")."""
    return scheme.split() if any(c.isspace() for c in scheme.strip()) else list(scheme.strip())


def format_scheme(labels: list[str]) -> str:
    """Labels written as a scheme: "ABAB", or space-separated when a label has two letters."""
    return ("" if all(len(x) == 1 for x in labels) else " ").join(labels)


def normalize_scheme(labels: list[str]) -> list[str]:
    """Labels renamed A, B, C, ... in order of first appearance (1 2 1 2 -> A B A B)."""
    names: dict[str, str] = {}
    return [names.setdefault(x, label(len(names))) for x in labels]


def expand_scheme(pattern: str, lines: int) -> list[str]:
    """``pattern`` repeated with fresh letters to fill ``lines`` lines (AABB, 8 -> AABBCCDD)."""
    base = normalize_scheme(list(pattern))
    groups = len(set(base))
    index = {x: i for i, x in enumerate(dict.fromkeys(base))}
    return [label(index[base[i % len(base)]] + groups * (i // len(base))) for i in range(lines)]


def poem_lines(poem: str) -> list[str]:
    """The non-empty lines of a poem."""
    return [line for line in str(poem).splitlines() if line.strip()]


def scheme_agreement(scheme: str, poem: str, rhyme_dictionary: str = "") -> float:
    """Share of line pairs whose rhyme relation (rhyme or not) is the one the scheme asks for.

    A pair involving a line missing from the poem, or a line beyond the scheme, disagrees.
    """
    labels = parse_scheme(scheme)
    ends = [end_word(line) for line in poem_lines(poem)]
    size = max(len(labels), len(ends))
    if size < 2:
        return float(len(labels) == len(ends))
    rhymes = load_dictionary(rhyme_dictionary).rhymes
    agree = 0
    for i, j in combinations(range(size), 2):
        if j < len(labels) and j < len(ends):
            agree += (labels[i] == labels[j]) == rhymes(ends[i], ends[j])
    return agree / (size * (size - 1) // 2)


def follows_scheme(scheme: str, poem: str, rhyme_dictionary: str = "") -> bool:
    """Whether a poem follows a scheme exactly (every line pair agrees)."""
    return scheme_agreement(scheme, poem, rhyme_dictionary) == 1.0


def _rule(slots: dict[str, Any]) -> str:
    lines = zip(slots["fillers"], slots["end_words"], strict=True)
    return "\n".join(f"{filler} {word}".strip() for filler, word in lines)


def align(slots: dict[str, Any], output: str, rhyme_dictionary: str = "") -> float:
    """Share of the poem's line pairs whose rhyme relation matches ``slots["scheme"]``."""
    return scheme_agreement(slots["scheme"], output, rhyme_dictionary)


@lru_cache(maxsize=256)
def _eligible(path: str, common: bool, size: int) -> list[int]:
    """Indices of the rhyme classes with at least ``size`` words."""
    classes = load_dictionary(path).rhyme_classes(common)
    return [i for i, words in enumerate(classes) if len(words) >= size]


def rhyming_words(
    rng: SampleRandom, labels: list[str], path: str = "", common: bool = True
) -> list[str]:
    """One end word per label: the same label rhymes, different labels never do."""
    classes = load_dictionary(path).rhyme_classes(common)
    used: set[int] = set()
    chosen: dict[str, list[str]] = {}
    for name in dict.fromkeys(labels):
        count = labels.count(name)
        pick = _unused_class(rng, _eligible(path, common, count), used)
        if pick is None:
            raise CookbookError(
                f"template 'poetry': the rhyme dictionary {path or 'CMUdict'} has too few"
                f" rhyme groups of {count} words for the scheme {format_scheme(labels)}"
            )
        used.add(pick)
        chosen[name] = rng.sample(classes[pick], count)
    return [chosen[name].pop() for name in labels]


def _unused_class(rng: SampleRandom, pool: list[int], used: set[int]) -> int | None:
    """A random member of ``pool`` not in ``used`` (None when there is none)."""
    for _ in range(16):  # a few draws nearly always suffice; the pool dwarfs ``used``
        if not pool:
            return None
        pick = pool[rng.randrange(len(pool))]
        if pick not in used:
            return pick
    rest = [i for i in pool if i not in used]
    return rest[rng.randrange(len(rest))] if rest else None


@template(
    family="composition",
    prompt="Write a poem of {lines} lines with the rhyme scheme {scheme}.\nPoem:\n",
    completion="{answer}",
    slots=("scheme", "lines", "fillers", "end_words", "answer"),
    rule=_rule,
    scorer=align,
)
def poetry(
    rng: SampleRandom,
    tokens: TokenSpace,
    scheme: Annotated[str, Param(_SCHEME_HELP, pattern="^(random|[A-Z]{1,26})$")] = "random",
    lines: Annotated[int, Param(minimum=0, maximum=64)] = 0,
    line_length: Annotated[int, Param(minimum=1, maximum=1000)] = 6,
    rhyme_dictionary: Annotated[str, Param("Path to a CMUdict-format file ('' for CMUdict).")] = "",
    end_words: Literal["common", "all"] = "common",
) -> dict[str, Any]:
    """A poem whose line-final words rhyme by ``scheme`` (random: one of SCHEMES), random tokens
    elsewhere; ``lines`` (0: the scheme's length) repeats the scheme with fresh letters."""
    pattern = SCHEMES[rng.randrange(len(SCHEMES))] if scheme == "random" else scheme
    labels = expand_scheme(pattern, lines or len(pattern))
    words = rhyming_words(rng, labels, rhyme_dictionary, end_words == "common")
    return {
        "scheme": format_scheme(labels),
        "lines": len(labels),
        "fillers": [tokens.text(rng, line_length - 1) for _ in labels],
        "end_words": words,
    }

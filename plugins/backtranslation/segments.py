"""Unlabelled text for instruction backtranslation ("Humpback", Li et al. 2024): read documents,
split them into segments and drop the segments the paper's filters reject.

Documents come from .txt/.md files, JSONL files (one document per line), SQuAD-format JSON
(each paragraph's context) or a folder of those. Segments are paragraphs or Markdown sections;
the filters drop segments that are too short or long, shouting, boilerplate, repetitive within
themselves, or near-duplicates of a segment already kept.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from cookbook import CookbookError, read_json, read_jsonl, require_field

#: Why a segment is dropped, in the order the filters are tried.
REASONS = ("too_short", "too_long", "uppercase", "boilerplate", "repetitive", "near_duplicate")

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (*TEXT_SUFFIXES, ".jsonl", ".json")
SPLITS = ("paragraph", "heading")

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:\s|$)")
_FENCE = re.compile(r"^ {0,3}(?:```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+")

#: Phrases of navigation, legal and call-to-action lines (matched case-insensitively).
BOILERPLATE_PHRASES = (
    "all rights reserved",
    "©",  # also "Copyright ©"
    "cookie policy",
    "cookie settings",
    "we use cookies",
    "privacy policy",
    "terms of use",
    "terms of service",
    "terms and conditions",
    "subscribe",
    "skip to content",
    "skip to main content",
    "click here",
    "share this",
    "follow us",
    "back to top",
)
_BOILERPLATE = re.compile("|".join(re.escape(p) for p in BOILERPLATE_PHRASES), re.IGNORECASE)
#: A line with a boilerplate phrase counts only if it has at most this many words.
PHRASE_LINE_WORDS = 20
#: A line of at most this many words (a Markdown heading aside) is a menu-like item.
MENU_LINE_WORDS = 3


@dataclass(frozen=True)
class Segment:
    """One unlabelled text segment and where it came from."""

    id: str
    text: str
    source: str


# --- reading ------------------------------------------------------------------------------


def read_texts(path: str | Path, *, text_field: str = "text") -> Iterator[tuple[str, str, str]]:
    """(id, source file, text) of each document at ``path``: a .txt or .md file (one document),
    a folder (its .txt, .md, .jsonl and .json files, sorted by name, not recursive), a .jsonl
    file (one document per line, the string in ``text_field``), or a SQuAD-format .json file
    (each paragraph's ``context``, each distinct context once)."""
    files = _corpus_files(Path(path))
    return _documents(files, text_field)


def _corpus_files(path: Path) -> list[Path]:
    """The files to read at ``path``; a missing path, an unknown suffix or a folder with no
    readable file is an error naming it."""
    if not path.exists():
        raise CookbookError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES),
            key=lambda p: p.name,
        )
        if not files:
            raise CookbookError(f"{path}: folder has no {', '.join(SUFFIXES)} file")
        return files
    if path.suffix.lower() not in SUFFIXES:
        raise CookbookError(
            f"{path}: cannot read {path.suffix or 'a file with no suffix'}; "
            f"expected one of {', '.join(SUFFIXES)}"
        )
    return [path]


def _documents(files: list[Path], text_field: str) -> Iterator[tuple[str, str, str]]:
    """The documents of each file in turn."""
    for file in files:
        suffix = file.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            yield file.name, str(file), _read_text(file)
        elif suffix == ".jsonl":
            yield from _jsonl_documents(file, text_field)
        else:
            yield from _squad_documents(file)


def _read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (a BOM skipped); undecodable bytes name the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CookbookError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CookbookError(f"{path}: cannot read it: {exc.strerror or exc}") from None


def _jsonl_documents(path: Path, text_field: str) -> Iterator[tuple[str, str, str]]:
    """One document per JSONL line, id "<file>:<line>"; the text field must be a string."""
    for number, record in read_jsonl(path):
        text = require_field(record, text_field, str, f"{path}:{number}")
        yield f"{path.name}:{number}", str(path), text


def _squad_documents(path: Path) -> Iterator[tuple[str, str, str]]:
    """Each distinct paragraph context of a SQuAD file, id "<file>:a<article>:c<paragraph>"."""
    seen: set[str] = set()
    for place, text in _squad_contexts(path, read_json(path)):
        if text not in seen:
            seen.add(text)
            yield f"{path.name}:{place}", str(path), text


def _squad_contexts(path: Path, document: Any) -> Iterator[tuple[str, str]]:
    """("a<i>:c<j>", context) of every paragraph; anything not SQuAD-shaped names its place."""
    articles = document.get("data") if isinstance(document, dict) else None
    if not isinstance(articles, list):
        raise CookbookError(f"{path}: not SQuAD format: expected an object with a 'data' list")
    for i, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise CookbookError(f"{path}: not SQuAD format: data[{i}] needs a 'paragraphs' list")
        for j, paragraph in enumerate(paragraphs):
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str):
                raise CookbookError(
                    f"{path}: not SQuAD format: data[{i}].paragraphs[{j}].context must be a string"
                )
            yield f"a{i}:c{j}", context


# --- splitting ----------------------------------------------------------------------------


def split_segments(text: str, by: str = "paragraph") -> list[str]:
    """``by="paragraph"``: blocks separated by blank lines; ``by="heading"``: a Markdown heading
    line (``#``..``######``) starts a new segment that includes the heading line. Segments are
    stripped; empty ones dropped. Any other ``by`` raises CookbookError."""
    _check_split(by)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = _PARAGRAPH_BREAK.split(text) if by == "paragraph" else _sections(text)
    return [block.strip() for block in blocks if block.strip()]


def _check_split(by: str) -> None:
    """``by`` must name a way to split."""
    if by not in SPLITS:
        raise CookbookError(f"cannot split by {by!r}; expected one of {', '.join(SPLITS)}")


def _sections(text: str) -> list[str]:
    """The text cut before each Markdown heading line; ``#`` lines in code fences are no
    headings."""
    sections: list[list[str]] = [[]]
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and _HEADING.match(line):
            sections.append([])
        sections[-1].append(line)
    return ["\n".join(lines) for lines in sections]


def read_segments(
    path: str | Path, *, by: str = "paragraph", text_field: str = "text"
) -> list[Segment]:
    """Every segment of every document at ``path`` (read_texts then split_segments), ids
    "<document id>:p<N>" with N counted from 1 within each document. An empty corpus (no
    document, or no non-empty segment) is a CookbookError naming the path."""
    _check_split(by)
    segments = []
    documents = 0
    for doc_id, source, text in read_texts(path, text_field=text_field):
        documents += 1
        for n, piece in enumerate(split_segments(text, by), 1):
            segments.append(Segment(id=f"{doc_id}:p{n}", text=piece, source=source))
    if not documents:
        raise CookbookError(f"{path}: no documents to read")
    if not segments:
        raise CookbookError(f"{path}: {documents} document(s) but no non-empty text segment")
    return segments


# --- filtering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentFilter:
    """The paper's filters on raw segments, tried in ``REASONS`` order.

    - ``too_short`` / ``too_long``: fewer than ``min_chars`` or more than ``max_chars``
      characters.
    - ``uppercase``: more than ``max_uppercase`` of its cased letters are uppercase.
    - ``boilerplate`` (if ``drop_boilerplate``): more than half of its non-empty lines are
      boilerplate lines. A boilerplate line either has at most ``PHRASE_LINE_WORDS`` words and
      contains one of ``BOILERPLATE_PHRASES`` ("All rights reserved", "Privacy policy", ...),
      or is a menu-like item of at most ``MENU_LINE_WORDS`` words that is no Markdown heading.
    - ``repetitive``: two of its sentences have a word-``ngram`` Jaccard above
      ``max_sentence_overlap``.
    - ``near_duplicate``: its word-``ngram`` Jaccard with an earlier kept segment is above
      ``max_duplicate_overlap``.

    Sentences split after ``.``, ``!`` or ``?``; words are lowercase ``\\w+`` tokens. A text of
    fewer than ``ngram`` words uses its set of single words instead of n-grams, so short
    repeated sentences still count.
    """

    min_chars: int = 200
    max_chars: int = 3000
    ngram: int = 3
    max_sentence_overlap: float = 0.5
    max_duplicate_overlap: float = 0.8
    max_uppercase: float = 0.5
    drop_boilerplate: bool = True

    def __post_init__(self) -> None:
        """Reject values the filters cannot use, naming the field."""
        for name in ("min_chars", "max_chars", "ngram"):
            _check_int(name, getattr(self, name))
        if self.min_chars < 0:
            raise CookbookError(f"SegmentFilter.min_chars must be >= 0, not {self.min_chars}")
        if self.max_chars < self.min_chars:
            raise CookbookError(
                f"SegmentFilter.max_chars must be >= min_chars ({self.min_chars}), "
                f"not {self.max_chars}"
            )
        if self.ngram < 1:
            raise CookbookError(f"SegmentFilter.ngram must be >= 1, not {self.ngram}")
        for name in ("max_sentence_overlap", "max_duplicate_overlap", "max_uppercase"):
            _check_fraction(name, getattr(self, name))
        if not isinstance(self.drop_boilerplate, bool):
            raise CookbookError(
                f"SegmentFilter.drop_boilerplate must be true or false, "
                f"not {self.drop_boilerplate!r}"
            )


def _check_int(name: str, value: Any) -> None:
    """``value`` must be an int (not a bool)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise CookbookError(f"SegmentFilter.{name} must be an integer, not {value!r}")


def _check_fraction(name: str, value: Any) -> None:
    """``value`` must be a number from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise CookbookError(f"SegmentFilter.{name} must be a number from 0 to 1, not {value!r}")


def filter_segments(
    segments: Iterable[Segment], rules: SegmentFilter
) -> tuple[list[Segment], Counter[str]]:
    """The segments that pass every filter, in order, and how many were dropped for each reason
    (the first failing reason in REASONS order counts)."""
    drops: Counter[str] = Counter()
    passed = []  # (segment, its words, its n-grams) for those that only near_duplicate may drop
    for segment in segments:
        reason = _first_failure(segment.text, rules)
        if reason is None:
            words = _words(segment.text)
            passed.append((segment, " ".join(words), _grams(words, rules.ngram)))
        else:
            drops[reason] += 1
    kept = []
    seen = _NearDuplicates(rules.max_duplicate_overlap, [grams for _, _, grams in passed])
    for segment, words, grams in passed:
        if seen.keep(words, grams):
            kept.append(segment)
        else:
            drops["near_duplicate"] += 1
    return kept, drops


def _first_failure(text: str, rules: SegmentFilter) -> str | None:
    """The first reason in REASONS before ``near_duplicate`` that drops ``text``, or None."""
    if len(text) < rules.min_chars:
        return "too_short"
    if len(text) > rules.max_chars:
        return "too_long"
    if uppercase_share(text) > rules.max_uppercase:
        return "uppercase"
    if rules.drop_boilerplate and is_boilerplate(text):
        return "boilerplate"
    if max_sentence_overlap(text, rules.ngram) > rules.max_sentence_overlap:
        return "repetitive"
    return None


def uppercase_share(text: str) -> float:
    """The share of cased letters in ``text`` that are uppercase (0 without any)."""
    upper = sum(map(str.isupper, text))
    lower = sum(map(str.islower, text))
    return upper / (upper + lower) if upper + lower else 0.0


def is_boilerplate(text: str) -> bool:
    """Whether more than half of the non-empty lines of ``text`` are boilerplate lines (see
    ``SegmentFilter``)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    bad = sum(1 for line in lines if _is_boilerplate_line(line))
    return bool(lines) and bad * 2 > len(lines)


def _is_boilerplate_line(line: str) -> bool:
    """A short line with a boilerplate phrase, or a menu-like item that is no heading."""
    words = len(_WORD.findall(line))
    if words <= PHRASE_LINE_WORDS and _BOILERPLATE.search(line):
        return True
    return words <= MENU_LINE_WORDS and not _HEADING.match(line)


def max_sentence_overlap(text: str, ngram: int) -> float:
    """The highest word-``ngram`` Jaccard between two sentences of ``text`` (0 for one)."""
    sets = [_grams(_words(s), ngram) for s in _SENTENCE_END.split(text.strip())]
    if sum(map(len, sets)) == len(frozenset().union(*sets)):
        return 0.0  # no n-gram occurs in two sentences
    return max((jaccard(a, b) for a, b in combinations(sets, 2)), default=0.0)


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    """|a ∩ b| / |a ∪ b|, 0 when both are empty."""
    common = len(a & b)
    union = len(a) + len(b) - common
    return common / union if union else 0.0


def _words(text: str) -> list[str]:
    """The lowercase ``\\w+`` tokens of ``text``."""
    return _WORD.findall(text.lower())


def _grams(words: list[str], n: int) -> frozenset[str]:
    """The word n-grams of ``words``, each as its words joined by spaces; fewer than ``n``
    words give the set of single words."""
    if len(words) < n:
        return frozenset(words)
    return frozenset(map(" ".join, zip(*(words[i:] for i in range(n)), strict=False)))


class _NearDuplicates:
    """The n-gram sets of kept segments, to find one with Jaccard above ``limit`` with a new set.

    Prefix filtering keeps this fast: two sets with Jaccard above ``limit`` share at least
    ``need`` n-grams (``need`` = floor(limit * size) + 1 for either set), so with the n-grams of
    every set in one fixed order the first ``size - need + 1`` of each must meet. The order is
    rarest first (how many of ``all_sets`` hold the n-gram, then alphabetical), so prefixes are
    mostly n-grams few sets share. Only prefixes are indexed and probed; candidates are then
    checked exactly.
    """

    def __init__(self, limit: float, all_sets: list[frozenset[str]]) -> None:
        self.limit = limit
        self._frequency: Counter[str] = Counter()
        for grams in all_sets:
            self._frequency.update(grams)
        self._sets: list[frozenset[str]] = []
        self._postings: dict[str, list[int]] = {}
        self._texts: set[str] = set()

    def _prefix(self, grams: frozenset[str]) -> list[str]:
        """The n-grams among the first of ``grams`` (rarest first) that any match must share;
        n-grams of no other set are left out, as nothing can match through them."""
        need = max(math.floor(self.limit * len(grams) - 1e-9) + 1, 1)  # rounded down: safe
        frequency = self._frequency
        shared = [gram for gram in grams if frequency[gram] > 1]
        size = len(shared) - need + 1  # the prefix's length less the n-grams of no other set
        if size <= 0:
            return []
        return sorted(shared, key=lambda gram: (frequency[gram], gram))[:size]

    def keep(self, words: str, grams: frozenset[str]) -> bool:
        """Keep ``grams`` unless a kept set has Jaccard above the limit with it (an identical
        word sequence ``words`` is found at once); whether it was kept."""
        if grams and words in self._texts and self.limit < 1:
            return False
        prefix = self._prefix(grams)
        candidates = {i for gram in prefix for i in self._postings.get(gram, ())}
        if any(self._above(grams, self._sets[i]) for i in candidates):
            return False
        for gram in prefix:
            self._postings.setdefault(gram, []).append(len(self._sets))
        self._sets.append(grams)
        if grams:
            self._texts.add(words)
        return True

    def _above(self, a: frozenset[str], b: frozenset[str]) -> bool:
        """Whether Jaccard(a, b) is above the limit; sizes too far apart are ruled out first."""
        if not a or not b or min(len(a), len(b)) / max(len(a), len(b)) <= self.limit:
            return False  # Jaccard <= smaller size / larger size
        return jaccard(a, b) > self.limit


def describe_drops(counts: Counter[str]) -> str:
    """The drop counts as "12 too_short, 3 near_duplicate", in REASONS order, zeros left out;
    "none" when nothing was dropped."""
    parts = [f"{counts[reason]} {reason}" for reason in REASONS if counts.get(reason)]
    return ", ".join(parts) or "none"

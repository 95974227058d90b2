"""The ``rhyme`` task: rhyme schemes of real stanzas (Chicago Rhyming Poetry Corpus layout),
mapped into ``poetry``.

The corpus folder holds ``english_raw/<author>.txt`` (poems, stanzas headed by ``RHYME``
lines) and ``english_gold/<author>.pgold`` (per stanza: ``POEMn`` and its line-final words,
then the stanza's rhyme scheme as numbers, then the scheme in the context of the poem). A
gold stanza is paired with the raw stanza that has the same final words, searched in order;
gold stanzas without such a partner are skipped. A record asks for the stanza's own scheme
(``1 2 1 2`` -> ``ABAB``); its gold answer is the stanza text. Metrics (0-100): the share of
outputs that follow the scheme exactly, and the mean share of line pairs that agree with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from cookbook import (
    UNSET,
    CookbookError,
    Param,
    Params,
    PromptFormat,
    Task,
    TaskRecord,
    check_outputs,
)
from cookbook_plugins.poetry.template import (
    format_scheme,
    normalize_scheme,
    poetry,
    scheme_agreement,
)

HEADERS = ("RHYME", "RHYME-POEM", "TITLE", "AUTHOR")
_NOT_ALNUM = re.compile(r"[\W_]+")
_LOOKAHEAD = 8


@dataclass
class GoldStanza:
    """One stanza of a ``.pgold`` file: where it is, its final words and rhyme scheme."""

    line: int
    poem: str
    words: list[str]
    scheme: list[str]


def _decode(raw: bytes) -> str:
    """UTF-8, else Mac Roman (the corpus mixes them: 0xD5 is a right quote there)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("mac_roman")


def _text_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise CookbookError(f"{path}: no such file")
    return [_decode(line).rstrip("\r") for line in path.read_bytes().split(b"\n")]


def read_gold(path: Path, strict: bool = False) -> list[GoldStanza]:
    """The stanzas of a ``.pgold`` file. The corpus has a few malformed blocks (a scheme
    whose length differs from the number of final words, a stray line): they are skipped,
    or with ``strict`` an error naming the line."""
    lines = _text_lines(path)
    stanzas = []
    index = 0
    while index < len(lines):
        head, line = lines[index].split(), index + 1
        index += 1
        if not head:
            continue
        if not head[0].startswith("POEM"):
            if strict:
                raise CookbookError(f"{path}:{line}: expected 'POEMn word word ...'")
            continue
        scheme = lines[index].split() if index < len(lines) else []
        index += 2  # the stanza's scheme, then its scheme in the context of the poem
        if len(scheme) != len(head) - 1:
            if strict:
                raise CookbookError(
                    f"{path}:{line + 1}: the scheme has {len(scheme)} entries for"
                    f" {len(head) - 1} final words on line {line}"
                )
            continue
        stanzas.append(GoldStanza(line, head[0], [_key(w) for w in head[1:]], scheme))
    if not stanzas:
        raise CookbookError(f"{path}: no 'POEMn word ...' stanza with a matching scheme line")
    return stanzas


def read_raw(path: Path) -> list[list[str]]:
    """The annotated stanzas of a raw poem file: the text lines after each ``RHYME`` header."""
    stanzas: list[list[str]] = []
    current: list[str] | None = None
    for line in _text_lines(path):
        if line.split(" ", 1)[0] in HEADERS:
            if current:
                stanzas.append(current)
            current = [] if line.startswith("RHYME") else None
        elif line.strip() and current is not None:
            current.append(line.strip())
    if current:
        stanzas.append(current)
    return stanzas


def _key(word: str) -> str:
    return _NOT_ALNUM.sub("", word.lower())


def _final_key(line: str) -> str:
    """The alignment key of a raw line: its last token that has a letter, without punctuation
    or a trailing footnote number ("none6," -> "none")."""
    for token in reversed(line.split()):
        if any(c.isalpha() for c in token):
            return _key(token).rstrip("0123456789")
    return ""


def pair_stanzas(
    gold: list[GoldStanza], raw: list[list[str]]
) -> Iterator[tuple[GoldStanza, list[str]]]:
    """(gold stanza, raw stanza lines) for each gold stanza whose final words a raw stanza a
    few places ahead of the last match shares."""
    start = 0
    for stanza in gold:
        for index in range(start, min(start + _LOOKAHEAD, len(raw))):
            if [_final_key(line) for line in raw[index]] == stanza.words:
                yield stanza, raw[index]
                start = index + 1
                break


class RhymeTask(Task):
    """Write a stanza in a requested rhyme scheme; scored by CMUdict rhymes."""

    name = "rhyme"
    template = "poetry"
    mode = "generate"
    main_metric = "follows_scheme"
    description = (
        "Rhyme schemes of real stanzas (Chicago Rhyming Poetry Corpus: english_raw +"
        " english_gold/*.pgold); share of outputs that follow the scheme."
    )

    def read(
        self,
        path: str,
        split: str | None = None,
        *,
        prompt: PromptFormat = UNSET,
        min_lines: Annotated[int, Param(minimum=1)] = 2,
        max_lines: Annotated[
            int, Param("Longer stanzas (some run past 100 lines) are left out.", minimum=1)
        ] = 16,
        rhyme_dictionary: Annotated[
            str, Param("CMUdict-format file used by the metric ('' for CMUdict).")
        ] = "",
        strict: Annotated[
            bool, Param("Fail on a malformed gold block instead of skipping it.")
        ] = False,
    ) -> Iterator[TaskRecord]:
        """Records of the corpus folder at ``path``: every author, or ``split`` = one author
        (``wyatt``) or a period whose ``english_raw/<split>.authors`` lists authors."""
        root = Path(path)
        params = {} if prompt is UNSET else {"prompt": prompt}
        for author in self.authors(root, split):
            gold = read_gold(root / "english_gold" / f"{author}.pgold", strict)
            raw = read_raw(root / "english_raw" / f"{author}.txt")
            for stanza, lines in pair_stanzas(gold, raw):
                labels = normalize_scheme(stanza.scheme)
                if not min_lines <= len(labels) <= max_lines:
                    continue
                slots = {"scheme": format_scheme(labels), "lines": len(labels)}
                answer = "\n".join(lines)
                yield TaskRecord(
                    id=f"{author}-{stanza.line}",
                    slots=slots,
                    answers=[answer],
                    prompt=poetry.render({**slots, "answer": answer}, params)[0],
                    meta={"poem": stanza.poem, "rhyme_dictionary": rhyme_dictionary},
                )

    def authors(self, root: Path, split: str | None) -> list[str]:
        """The author files to read for ``split`` (see ``read``)."""
        raw_dir, gold_dir = root / "english_raw", root / "english_gold"
        if not raw_dir.is_dir() or not gold_dir.is_dir():
            raise CookbookError(
                f"task {self.name!r}: {root}: expected the folders english_raw and english_gold"
            )
        available = sorted(
            p.stem for p in raw_dir.glob("*.txt") if (gold_dir / f"{p.stem}.pgold").is_file()
        )
        if split is None:
            return available
        if split in available:
            return [split]
        period = raw_dir / f"{split}.authors"
        if period.is_file():
            names = [line.strip().lower() for line in _text_lines(period) if line.strip()]
            for number, name in enumerate(names, 1):
                if name not in available:
                    raise CookbookError(f"{period}:{number}: no poems for author {name!r}")
            return names
        periods = sorted(p.stem for p in raw_dir.glob("*.authors"))
        raise CookbookError(
            f"task {self.name!r}: {root}: no author or period {split!r}"
            f" (authors: {', '.join(available) or 'none'}; periods: {', '.join(periods) or 'none'})"
        )

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """``follows_scheme``: share of outputs whose every line pair agrees with the requested
        scheme; ``pair_agreement``: mean share of agreeing line pairs (both 0-100)."""
        check_outputs(self.name, list(records), list(outputs))
        if not records:
            return {"follows_scheme": 0.0, "pair_agreement": 0.0}
        scores = [
            scheme_agreement(
                record.slots["scheme"], str(output), record.meta.get("rhyme_dictionary", "")
            )
            for record, output in zip(records, outputs, strict=True)
        ]
        return {
            "follows_scheme": 100 * sum(s == 1.0 for s in scores) / len(scores),
            "pair_agreement": 100 * sum(scores) / len(scores),
        }

    params = Params.of(read)


rhyme = RhymeTask()

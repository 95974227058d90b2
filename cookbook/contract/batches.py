"""Batch generation: a template's optional vectorised generator and the JSON lines it makes.

A template may add a batch generator (``@my_template.batch``) that makes the slots of many
samples at once from a ``BatchRandom``. It must draw exactly what the per-sample generator
draws, so sample i is the same record either way; ``SampleMaker`` checks the first sample of
every batch against the per-sample path and stops with an error naming the template if they
differ. Columns are one of:

- ``TokenRuns``: runs of token ids, each sample's text being its tokens joined by spaces;
- an integer numpy array;
- a sequence of strings.

Lines are assembled as bytes from JSON-escaped pieces (each token escaped once per vocabulary,
each array of token ids written out once and its runs cut from that text, numbers looked up
or written by one ``repr`` of the list), so no per-sample dict, ``json.dumps`` or encoding is
needed.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.contract.tokens import TokenSpace

PAD = b"\0"  # padding of token rows; JSON-escaped text never contains it
SMALL_NUMBERS = [str(i).encode() for i in range(1024)]  # the texts of common small integers


@dataclass(frozen=True)
class TokenRuns:
    """Sample j's text is ``tokens[ids[starts[j]:ends[j]]]`` joined by single spaces."""

    ids: Any
    starts: Any
    ends: Any

    def run_ids(self) -> Any:
        """The runs' token ids one run after another (a flat numpy array)."""
        import numpy as np

        starts, ends = np.asarray(self.starts), np.asarray(self.ends)
        lengths = ends - starts
        before = np.zeros(len(lengths), dtype=np.int64)  # ids of the runs before each run
        np.cumsum(lengths[:-1], out=before[1:])
        return np.asarray(self.ids)[np.repeat(starts - before, lengths) + np.arange(lengths.sum())]


def _escape(text: str) -> str:
    """``text`` as it appears inside a JSON string written by ``json.dumps`` (ASCII)."""
    return json.dumps(text)[1:-1]


Parts = list[str | int]  # literal text, or the number of a column whose value goes there


def format_parts(renderer: Any, columns: Sequence[str], name: str, what: str) -> Parts | None:
    """A format string as JSON-escaped literals and column numbers, or None when it is not a
    plain ``{slot}`` format (a callable, a conversion or a format spec)."""
    if not isinstance(renderer, str):
        return None
    parts: Parts = []
    for literal, field, spec, conversion in string.Formatter().parse(renderer):
        if literal:
            parts.append(_escape(literal))
        if field is None:
            continue
        if field.isidentifier() and field not in columns:
            raise CookbookError(f"template {name!r}: {what} names unknown slot {field!r}")
        if spec or conversion or field not in columns:
            return None
        parts.append(columns.index(field) + 1)  # column 0 is the sample index
    return parts


class LineWriter:
    """Turns one template's batch columns into the JSON lines ``SampleMaker.line`` would write."""

    def __init__(
        self, name: str, seed: int, slots: Sequence[str], prompt: Any, completion: Any
    ) -> None:
        self.name, self.slots, self._seed = name, list(slots), seed
        self._prompt = format_parts(prompt, self.slots, name, "the prompt")
        self._completion = format_parts(completion, self.slots, name, "the completion")

    @property
    def usable(self) -> bool:
        """Whether both the prompt and the completion are plain ``{slot}`` formats."""
        return self._prompt is not None and self._completion is not None

    def pieces(
        self, columns: Mapping[str, Any], tokens: TokenSpace, start: int, stop: int
    ) -> tuple[list[bytes], int]:
        """The pieces of the JSON lines of samples ``start..stop-1`` one line after another,
        and how many each line has: joined, they are the lines (ASCII, newlines included)."""
        n = stop - start
        if list(columns) != self.slots:
            raise CookbookError(
                f"template {self.name!r}: the batch generator returned slots {list(columns)}, "
                f"the per-sample generator {self.slots}"
            )
        import numpy as np

        texts, kinds = [_numbers_text(np.arange(start, stop))], []
        written: dict[int, tuple[Any, bytes, Any]] = {}  # ids arrays already written out
        for slot, column in columns.items():
            where = f"template {self.name!r} slot {slot!r}"
            text, kind = _column_text(column, tokens, n, where, written)
            texts.append(text)
            kinds.append(kind)
        line = self._line_parts(kinds)
        pieces: list[bytes] = [b""] * (len(line) * n)
        for i, part in enumerate(line):  # piece i of every line: a slice assignment each
            pieces[i :: len(line)] = [part] * n if isinstance(part, bytes) else texts[part]
        return pieces, len(line)

    def _line_parts(self, kinds: Sequence[str]) -> list[bytes | int]:
        """A whole line as ``json.dumps(record, separators=(",", ":"))`` writes it: literal
        bytes (adjacent ones merged) and column numbers (0: the sample index)."""
        assert self._prompt is not None and self._completion is not None
        parts: Parts = [
            '{"id":' + json.dumps(f"{self.name}-{self._seed}-")[:-1],
            0,
            f'","template":{json.dumps(self.name)},"seed":{self._seed},"index":',
            0,
            ',"slots":{',
        ]
        for i, (slot, kind) in enumerate(zip(self.slots, kinds, strict=True)):
            quote = '"' if kind == "str" else ""
            parts += [("," if i else "") + json.dumps(slot) + ":" + quote, i + 1, quote]
        parts += ['},"prompt":"', *self._prompt, '","completion":"', *self._completion, '"}\n']
        merged: list[bytes | int] = []
        for part in parts:
            if isinstance(part, int):
                merged.append(part)
            elif merged and isinstance(merged[-1], bytes):
                merged[-1] += part.encode()
            elif part:
                merged.append(part.encode())
        return merged


def _column_text(
    column: Any, tokens: TokenSpace, n: int, where: str, written: dict[int, Any]
) -> tuple[list[bytes], str]:
    """(the column's values as escaped bytes, "str" or "int")."""
    if isinstance(column, TokenRuns):
        return _runs_text(column, tokens, n, where, written), "str"
    import numpy as np

    if isinstance(column, np.ndarray) and column.dtype.kind in "iu":
        if column.shape != (n,):
            raise CookbookError(f"{where}: expected {n} values, got shape {column.shape}")
        return _numbers_text(column), "int"
    values = list(column)
    try:
        distinct = set(values)
    except TypeError:  # unhashable values
        distinct = {None}
    if len(values) != n or any(type(v) is not str for v in distinct):
        raise CookbookError(
            f"{where}: a batch column must be TokenRuns, an integer array or {n} strings"
        )
    escaped = {v: _escape(v).encode() for v in distinct}
    return list(map(escaped.__getitem__, values)), "str"


def _numbers_text(values: Any) -> list[bytes]:
    """Integers as JSON writes them: looked up when all are small, else the list's ``repr``
    split at its commas (all in C)."""
    import numpy as np

    values = np.asarray(values)
    if not len(values):
        return []
    if values.min() >= 0 and values.max() < len(SMALL_NUMBERS):
        return [SMALL_NUMBERS[v] for v in values.tolist()]
    return str(values.tolist())[1:-1].encode().split(b", ")


def _runs_text(
    runs: TokenRuns, tokens: TokenSpace, n: int, where: str, written: dict[int, Any]
) -> list[bytes]:
    """Each run's tokens, JSON-escaped and joined by spaces: slices of the text of its ids.

    An ids array is written out once (``_joined``) however many columns' runs it holds;
    runs covering under half of their ids have their tokens gathered and written alone."""
    import numpy as np

    starts, ends = np.asarray(runs.starts), np.asarray(runs.ends)
    if starts.shape != (n,) or ends.shape != (n,):
        raise CookbookError(f"{where}: TokenRuns needs {n} starts and ends")
    lengths = ends - starts
    made = written.get(id(runs.ids))
    size = len(made[2]) - 1 if made else len(runs.ids)
    if (lengths < 0).any() or (n and (starts.min() < 0 or ends.max() > size)):
        raise CookbookError(f"{where}: TokenRuns has a run outside its ids")
    if made is not None:
        _, text, bounds = made
    elif 2 * int(lengths.sum()) < size:  # a few runs over many ids: write only their tokens
        text, bounds = _joined(runs.run_ids(), tokens, where)
        ends = np.cumsum(lengths)
        starts = ends - lengths
    else:
        text, bounds = _joined(np.asarray(runs.ids), tokens, where)
        written[id(runs.ids)] = (runs.ids, text, bounds)  # holding the ids keeps their id
    firsts = bounds[starts]
    lasts = np.maximum(bounds[ends] - 1, firsts)  # without the space after the last token
    return [text[a:b] for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True)]


def _joined(ids: Any, tokens: TokenSpace, where: str) -> tuple[bytes, Any]:
    """The escaped text of ``ids``, each token followed by a space, and where each token
    starts in it (with the text's length last).

    Token rows are written at their byte offsets in index order, so each row's trailing
    zeros are overwritten by the next row. numpy assigns an index array in order; were that
    ever not so, zeros would be left inside the text, which is checked (one ``memchr``)."""
    import numpy as np

    if ids.dtype.kind not in "iu":
        raise CookbookError(f"{where}: token ids must be integers, not {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(tokens.words)):
        raise CookbookError(f"{where}: token ids must be in 0..{len(tokens.words) - 1}")
    table, sizes = tokens.escaped_rows
    rows = table[ids]
    bounds = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(sizes[ids], out=bounds[1:])
    total = int(bounds[-1])
    buffer = np.empty(total + rows.itemsize, dtype=np.uint8)
    # A row may start at any byte: a view whose item k is the row-sized bytes at byte k.
    at_byte = np.ndarray((total + 1,), dtype=rows.dtype, buffer=buffer, strides=(1,))
    at_byte[bounds[:-1]] = rows
    text = buffer[:total].tobytes()
    if PAD in text:
        raise CookbookError(
            f"{where}: token rows were not written in order (numpy {np.__version__})"
        )
    return text, bounds

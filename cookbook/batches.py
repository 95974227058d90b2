"""Batch generation: a template's optional vectorised generator and the JSON lines it makes.

A template may add a batch generator (``@my_template.batch``) that makes the slots of many
samples at once from a ``BatchRandom``. It must draw exactly what the per-sample generator
draws, so sample i is the same record either way; ``SampleMaker`` checks the first sample of
every batch against the per-sample path and stops with an error naming the template if they
differ. Columns are one of:

- ``TokenRuns``: runs of token ids, each sample's text being its tokens joined by spaces;
- an integer numpy array;
- a sequence of strings.

Lines are assembled from JSON-escaped pieces (each token escaped once per vocabulary), so no
per-sample dict or ``json.dumps`` is needed.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cookbook.errors import CookbookError
from cookbook.tokens import TokenSpace


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
    """``text`` as it appears inside a JSON string written by ``json.dumps``."""
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


def compile_pieces(parts: Parts, columns: int) -> Callable[..., tuple[str, ...]]:
    """``f(c0, c1, ...)`` giving the tuple of ``parts``, numbers standing for the arguments.

    Generated code (literals as ``repr``): joining such tuples is several times faster than
    ``str.format``, and a chunk's tuples can be joined at once, with no per-line string."""
    names = [f"c{i}" for i in range(columns)]
    items = ", ".join(repr(p) if isinstance(p, str) else names[p] for p in parts)
    code = f"lambda {', '.join(names)}: ({items},)"
    return eval(code, {"__builtins__": {}})  # noqa: S307 - code built above from reprs and names


class LineWriter:
    """Turns one template's batch columns into the JSON lines ``SampleMaker.line`` would write."""

    def __init__(
        self, name: str, seed: int, slots: Sequence[str], prompt: Any, completion: Any
    ) -> None:
        self.name, self.slots, self._seed = name, list(slots), seed
        self._prompt = format_parts(prompt, self.slots, name, "the prompt")
        self._completion = format_parts(completion, self.slots, name, "the completion")
        self._kinds: tuple[str, ...] = ()
        self._pieces: Callable[..., tuple[str, ...]] | None = None

    @property
    def usable(self) -> bool:
        """Whether both the prompt and the completion are plain ``{slot}`` formats."""
        return self._prompt is not None and self._completion is not None

    def pieces(
        self, columns: Mapping[str, Any], tokens: TokenSpace, start: int, stop: int
    ) -> list[tuple[str, ...]]:
        """The pieces of the JSON lines of samples ``start..stop-1``: ``"".join`` one to get
        its line (newline included)."""
        n = stop - start
        if list(columns) != self.slots:
            raise CookbookError(
                f"template {self.name!r}: the batch generator returned slots {list(columns)}, "
                f"the per-sample generator {self.slots}"
            )
        texts, kinds = [], []
        for slot, column in columns.items():
            where = f"template {self.name!r} slot {slot!r}"
            text, kind = _column_text(column, tokens, n, where)
            texts.append(text)
            kinds.append(kind)
        if self._pieces is None or tuple(kinds) != self._kinds:
            self._kinds, self._pieces = tuple(kinds), self._line_pieces(kinds)
        return list(map(self._pieces, map(str, range(start, stop)), *texts))

    def _line_pieces(self, kinds: Sequence[str]) -> Callable[..., tuple[str, ...]]:
        """The pieces of a whole line, as ``json.dumps(record, separators=(",", ":"))``."""
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
        return compile_pieces(parts, len(self.slots) + 1)


def _column_text(column: Any, tokens: TokenSpace, n: int, where: str) -> tuple[list[str], str]:
    """(the column's values as escaped text, "str" or "int")."""
    if isinstance(column, TokenRuns):
        return _runs_text(column, tokens, n, where), "str"
    import numpy as np

    if isinstance(column, np.ndarray) and column.dtype.kind in "iu":
        if column.shape != (n,):
            raise CookbookError(f"{where}: expected {n} values, got shape {column.shape}")
        return [str(v) for v in column.tolist()], "int"
    values = list(column)
    if len(values) != n or not set(map(type, values)) <= {str}:
        raise CookbookError(
            f"{where}: a batch column must be TokenRuns, an integer array or {n} strings"
        )
    escaped = {v: _escape(v) for v in set(values)}
    return [escaped[v] for v in values], "str"


def _runs_text(runs: TokenRuns, tokens: TokenSpace, n: int, where: str) -> list[str]:
    """Each run's tokens, JSON-escaped and joined by spaces.

    The runs' tokens are gathered into one object array, each run's last token swapped for
    its ``escaped_end`` form (no space, then NUL, which escaped JSON never contains), joined
    once and split on NUL: two C calls for the whole chunk instead of one slice per run."""
    import numpy as np

    ids = np.asarray(runs.ids)
    starts, ends = np.asarray(runs.starts), np.asarray(runs.ends)
    if starts.shape != (n,) or ends.shape != (n,):
        raise CookbookError(f"{where}: TokenRuns needs {n} starts and ends")
    lengths = ends - starts
    if (lengths < 0).any() or (n and (starts.min() < 0 or ends.max() > len(ids))):
        raise CookbookError(f"{where}: TokenRuns has a run outside its ids")
    cumulative = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=cumulative[1:])
    tiling = n and starts[0] == 0 and ends[-1] == len(ids) and (starts[1:] == ends[:-1]).all()
    if not tiling:
        ids = runs.run_ids()
    pieces = tokens.escaped_spaced[ids]
    present = lengths > 0
    last = cumulative[1:][present] - 1
    pieces[last] = tokens.escaped_end[ids[last]]
    texts = "".join(pieces.tolist()).split("\0")
    texts.pop()  # after the last NUL
    if present.all():
        return texts
    result = [""] * n
    for j, text in zip(np.flatnonzero(present).tolist(), texts, strict=True):
        result[j] = text
    return result

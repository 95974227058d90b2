"""Sample records: how one is made from (seed, template, params, index), and how files are read."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cookbook.contract.batches import LineWriter
from cookbook.contract.errors import CookbookError
from cookbook.contract.seeding import BatchRandom, KeyMaker, SampleRandom
from cookbook.contract.task_files import read_jsonl
from cookbook.contract.templates import Template, render
from cookbook.contract.tokens import TokenSpace


class SampleMaker:
    """Makes the records of one template under one seed, parameter set and token space."""

    def __init__(
        self,
        template: Template,
        name: str,
        params: Mapping[str, Any],
        seed: int,
        tokens: TokenSpace,
    ) -> None:
        self.template, self.name, self.params = template, name, dict(params)
        self.seed, self.tokens = seed, tokens
        seeding = template.params.seeding_values(self.params)
        # keyed by the template's own name: a spec file's samples do not depend on the path
        # it was named by, nor a plugin-qualified name's on the qualifier
        self._keys = KeyMaker(seed, f"{template.name}\x00{tokens.name}", seeding)
        self._id_prefix = f"{name}-{seed}-"
        self._make = template.bind(self.params)
        self._prompt = self.params.get("prompt", template.prompt)
        self._completion = self.params.get("completion", template.completion)
        self._make_batch = template.bind_batch(self.params)
        self._writer: LineWriter | None = None

    def prepare(self) -> None:
        """Build the vocabulary, and the token rows a batch generator's lines are made from,
        now (before worker processes fork, so each inherits them rather than building them)."""
        self.tokens.words  # noqa: B018
        if self._make_batch is not None:
            self.tokens.escaped_rows  # noqa: B018

    def lines(self, start: int, stop: int) -> list[bytes]:
        """The JSON lines of samples ``start..stop-1`` as bytes (ASCII, newline included)."""
        batch = self._batch_pieces(start, stop)
        if batch is None:
            return [self.line(i).encode() for i in range(start, stop)]
        pieces, per_line = batch
        return list(map(b"".join, zip(*[iter(pieces)] * per_line, strict=True)))

    def jsonl(self, start: int, stop: int) -> bytes:
        """The JSON lines of samples ``start..stop-1`` as one block of bytes."""
        batch = self._batch_pieces(start, stop)
        if batch is None:
            return "".join(self.line(i) for i in range(start, stop)).encode()
        return b"".join(batch[0])

    def _batch_pieces(self, start: int, stop: int) -> tuple[list[bytes], int] | None:
        """The line pieces made by the template's batch generator and how many make a line
        (the first line checked against the per-sample path), or None where it has none or
        cannot be used."""
        if self._make_batch is None or stop - start < 2:
            return None
        first = self.record(start)
        if self._writer is None:
            self._writer = LineWriter(
                self.name, self.seed, list(first["slots"]), self._prompt, self._completion
            )
        if not self._writer.usable:
            return None
        rng = BatchRandom(self._keys.keys(start, stop))
        try:
            columns = self._make_batch(rng, self.tokens)
        except CookbookError:
            raise
        except Exception as exc:
            raise CookbookError(
                f"template {self.name!r}: batch generator failed on samples {start}-{stop - 1}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        pieces, per_line = self._writer.pieces(columns, self.tokens, start, stop)
        batch, expected = b"".join(pieces[:per_line]).decode(), _dumps(first)
        if batch != expected:
            raise CookbookError(
                f"template {self.name!r}: its batch generator disagrees with its per-sample "
                f"generator on sample {start}:\n  batch:      {batch.rstrip()}\n"
                f"  per-sample: {expected.rstrip()}"
            )
        return pieces, per_line

    def record(self, index: int) -> dict[str, Any]:
        """The sample record at ``index``; the same inputs always give the same record."""
        rng = SampleRandom(self._keys.key(index))
        try:
            slots = self._make(rng, self.tokens)
            prompt, completion = render(self._prompt, slots), render(self._completion, slots)
        except CookbookError:
            raise
        except Exception as exc:
            raise CookbookError(
                f"template {self.name!r} failed on sample {index}: {type(exc).__name__}: {exc}"
            ) from exc
        return {
            "id": self._id_prefix + str(index),
            "template": self.name,
            "seed": self.seed,
            "index": index,
            "slots": slots,
            "prompt": prompt,
            "completion": completion,
        }

    def line(self, index: int) -> str:
        """The record at ``index`` as one compact JSON line (with the newline)."""
        return _dumps(self.record(index))


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


def read_samples(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of a JSONL or Parquet sample file, or of a folder's data files in order (the
    shards Ray generation keeps); a bad line is an error naming file and line."""
    path = Path(path)
    if not path.exists():
        raise CookbookError(f"{path}: no such file")
    if path.is_dir():
        from cookbook.engine.formats import data_files

        for file in data_files(path):
            yield from read_samples(file)
        return
    if path.suffix == ".parquet":
        yield from _read_parquet(path)
        return
    for _, record in read_jsonl(path):
        yield record


def _read_parquet(path: Path) -> Iterator[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CookbookError(
            "reading Parquet needs pyarrow: pip install 'cookbook-llm[parquet]'"
        ) from None
    for batch in pq.ParquetFile(path).iter_batches():
        for row in batch.to_pylist():
            row["slots"] = json.loads(row["slots"])
            yield row

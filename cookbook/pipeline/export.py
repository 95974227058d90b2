"""Exporting a run's samples (or any sample file) as a folder that Hugging Face ``datasets``
loads as it is: data shards under ``data/`` and a dataset card whose YAML header names them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.engine.formats import EXPORT_FORMATS, as_format, data_files, numbered_records
from cookbook.pipeline.card import card_header

#: Rows per data shard.
SHARD_ROWS = 500_000


def export(
    source: Path,
    output: Path,
    fmt: str,
    *,
    shard_rows: int = SHARD_ROWS,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write the samples of ``source`` (a run folder or a sample file) to the folder ``output``
    in format ``fmt``; returns the rows written. Nothing is left at ``output`` unless all of
    it was written."""
    if fmt not in EXPORT_FORMATS:
        raise CookbookError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise CookbookError(f"{output}: exists and is not an empty folder; choose a new one")
    files = data_files(source)
    partial = output.with_name(f".{output.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "data").mkdir(parents=True)
    try:
        rows = _records(files, fmt)
        written, shards = _write_shards(partial / "data", rows, fmt, shard_rows, on_progress)
        if not written:
            raise CookbookError(f"{source}: no samples to export")
        suffix = "parquet" if fmt == "hf" else "jsonl"
        header = card_header(output.name, f"data/train-*.{suffix}", written)
        body = _card_body(source, fmt, written, shards)
        (partial / "README.md").write_text(f"{header}\n\n{body}", encoding="utf-8")
        if output.exists():
            output.rmdir()
        partial.rename(output)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return written


def _records(files: list[Path], fmt: str) -> Iterator[dict[str, Any]]:
    for file in files:
        for where, record in numbered_records(file):
            if not isinstance(record.get("prompt"), str) or not isinstance(
                record.get("completion"), str
            ):
                raise CookbookError(f"{where}: needs 'prompt' and 'completion'")
            yield as_format(record, fmt)


def _write_shards(
    folder: Path,
    rows: Iterator[dict[str, Any]],
    fmt: str,
    shard_rows: int,
    on_progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Write ``rows`` in shards of ``shard_rows`` as ``train-NNNNN.<ext>``, then name them
    ``train-NNNNN-of-MMMMM``, as the Hub does; (rows, shards)."""
    written, names = 0, []
    while True:
        block = list(islice(rows, shard_rows))
        if not block:
            break
        name = folder / f"train-{len(names):05d}"
        _write_block(name, block, fmt)
        names.append(name)
        written += len(block)
        if on_progress:
            on_progress(len(block))
    suffix = ".parquet" if fmt == "hf" else ".jsonl"
    for i, name in enumerate(names):
        name.with_suffix(suffix).rename(folder / f"train-{i:05d}-of-{len(names):05d}{suffix}")
    return written, len(names)


def _write_block(name: Path, block: list[dict[str, Any]], fmt: str) -> None:
    if fmt != "hf":
        with name.with_suffix(".jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in block)
        return
    try:
        import datasets
    except ImportError:
        raise CookbookError(
            "export --format hf needs Hugging Face datasets: pip install 'cookbook-llm[hf]'"
        ) from None
    from cookbook.pipeline.hf_datasets import sample_features

    features = sample_features()
    rows = [{k: row.get(k) for k in features} for row in block]
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(name) + ".parquet")


def _card_body(source: Path, fmt: str, rows: int, shards: int) -> str:
    """What was exported and from where; a run's own card (templates, parameters, seeds,
    mixture weights) follows."""
    fields = {
        "hf": "Cookbook's sample records (id, template, seed, index, slots, prompt, completion)",
        "messages": "chat `messages` (a user prompt and the assistant's answer), as trl reads",
        "prompt-completion": "`prompt` and `completion`, as trl reads",
        "alpaca": "Alpaca rows (`instruction`, `input`, `output`)",
    }[fmt]
    parts = [
        f"# {source.name}",
        "",
        f"Exported by Cookbook from `{source.name}`: {rows} rows in {shards} shard(s),"
        f' format `{fmt}`: {fields}. Load it with `datasets.load_dataset("PATH")`.',
    ]
    card = source / "README.md" if source.is_dir() else None
    if card is not None and card.is_file():
        text = card.read_text(encoding="utf-8")
        if text.startswith("---\n") and "\n---" in text[4:]:
            text = text[text.index("\n---", 4) + 4 :]
        lines = text.strip().splitlines()
        if lines and lines[0].startswith("# "):
            lines = lines[1:]
        parts += ["", "## The run", "", *_demote(lines)]
    return "\n".join(parts) + "\n"


def _demote(lines: Iterable[str]) -> list[str]:
    """Markdown headings one level down, under this card's own."""
    return [f"#{line}" if line.startswith("#") else line for line in lines]

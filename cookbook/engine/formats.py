"""Training records in the formats other tools use, both ways: Cookbook samples, trl's
``prompt``/``completion`` and ``messages`` (chat), Alpaca's ``instruction``/``input``/``output``;
and Hub-style local dataset folders (a README.md whose YAML header names the train files, or
the data files under it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.contract.task_files import read_jsonl
from cookbook.engine.samples import read_samples

#: Export formats of ``cookbook export`` (``hf`` keeps the whole sample record).
EXPORT_FORMATS = ("hf", "messages", "prompt-completion", "alpaca")
SHAPES = (
    '{"prompt", "completion"}, {"messages": [{"role", "content"}]} or '
    '{"instruction", "input", "output"}'
)
DATA_SUFFIXES = (".jsonl", ".parquet")


def as_format(record: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """A sample record in export format ``fmt`` (the completion's leading space dropped in
    the formats whose answer is a message of its own)."""
    prompt, completion = str(record["prompt"]), str(record["completion"])
    if fmt == "hf":
        return dict(record)
    if fmt == "prompt-completion":
        return {"prompt": prompt, "completion": completion}
    if fmt == "messages":
        return {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": completion.strip()},
            ]
        }
    if fmt == "alpaca":
        return {"instruction": prompt, "input": "", "output": completion.strip()}
    raise CookbookError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


def training_pairs(path: str | Path) -> Iterator[tuple[str, str, str]]:
    """(prompt, completion, where) of every record of a file or Hub-style folder, whichever
    of the shapes in ``SHAPES`` each row has; a row of none is an error naming file and row."""
    for file in data_files(Path(path)):
        for where, record in numbered_records(file):
            yield from ((p, c, where) for p, c in _pairs_of(record, where))


def numbered_records(file: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) of each record of a sample file: ``file:line`` for JSONL, ``file: row
    N`` for Parquet."""
    if file.suffix == ".parquet":
        for number, record in enumerate(read_samples(file), 1):
            yield f"{file}: row {number}", record
        return
    for line, record in read_jsonl(file):
        yield f"{file}:{line}", record


def _pairs_of(record: Mapping[str, Any], where: str) -> list[tuple[str, str]]:
    if "prompt" in record or "completion" in record:
        for key in ("prompt", "completion"):
            if not isinstance(record.get(key), str):
                raise CookbookError(f"{where}: expected a string field {key!r} in each record")
        return [(record["prompt"], record["completion"])]
    if isinstance(record.get("messages"), list):
        return _chat_pairs(record["messages"], where)
    if isinstance(record.get("instruction"), str) and isinstance(record.get("output"), str):
        extra = record.get("input") or ""
        prompt = f"{record['instruction']}\n\n{extra}" if extra else record["instruction"]
        return [(prompt, " " + record["output"].strip())]
    raise CookbookError(f"{where}: not a training record; expected {SHAPES}")


def _chat_pairs(messages: list[Any], where: str) -> list[tuple[str, str]]:
    """Each user message followed at once by an assistant message (system messages left out)."""
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise CookbookError(f"{where}: messages[{i}] needs a string 'content'")
        if message.get("role") not in ("system", "user", "assistant"):
            raise CookbookError(
                f"{where}: messages[{i}]: role must be 'system', 'user' or 'assistant',"
                f" not {message.get('role')!r}"
            )
        if message["role"] != "system":
            turns.append(message)
    pairs = [
        (asked["content"], " " + answer["content"].strip())
        for asked, answer in zip(turns, turns[1:], strict=False)
        if asked["role"] == "user" and answer["role"] == "assistant"
    ]
    if not pairs:
        raise CookbookError(f"{where}: no user message followed by an assistant message")
    return pairs


def data_files(path: Path) -> list[Path]:
    """The data files of ``path``: itself when a file; for a folder, the train files its
    README.md header names (a Hub dataset card), else every .jsonl/.parquet under ``data/``,
    else those at its top (never ``manifest.json`` or a step folder)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CookbookError(f"{path}: no such file or folder")
    named = _card_files(path)
    if named is None:
        under = path / "data"
        top = under if under.is_dir() else path
        named = sorted(p for p in top.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES)
    if not named:
        raise CookbookError(
            f"{path}: no data files (.jsonl or .parquet) in this folder or its data/ folder"
        )
    return named


def _card_files(folder: Path) -> list[Path] | None:
    """The train split's files of the card's default config, or None without such a header."""
    import yaml

    card = folder / "README.md"
    if not card.is_file():
        return None
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---\n") or "\n---" not in text[4:]:
        return None
    try:
        header = yaml.safe_load(text[4 : text.index("\n---", 4)]) or {}
    except yaml.YAMLError as exc:
        raise CookbookError(f"{card}: the YAML header does not parse: {exc}") from None
    configs = header.get("configs") if isinstance(header, dict) else None
    if not isinstance(configs, list) or not configs:
        return None
    config = next((c for c in configs if isinstance(c, dict) and c.get("default")), configs[0])
    files = config.get("data_files") if isinstance(config, dict) else None
    if isinstance(files, str):
        patterns = [files]
    elif isinstance(files, list):
        train = [f for f in files if isinstance(f, dict) and f.get("split", "train") == "train"]
        patterns = [p for f in train for p in _as_list(f.get("path"))] or [
            p for f in files if isinstance(f, str) for p in [f]
        ]
    else:
        return None
    found = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    return found or None


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

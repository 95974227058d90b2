"""(instruction, output) pairs read from JSONL in three shapes, detected row by row:

- Self-Instruct seed tasks: ``{"instruction", "instances": [{"input", "output"}, ...]}``,
  one pair per instance;
- Alpaca: ``{"instruction", "input" (optional), "output"}``;
- chat: ``{"messages": [{"role", "content"}, ...]}``, one pair per user message followed at
  once by an assistant message (system messages ignored);
- samples: ``{"prompt", "completion"}`` (Cookbook's own samples, a curated set of a run).

An input, when not empty, follows its instruction after a blank line. A pair's id is
``stem:line``, or ``stem:line:k`` for the k-th (from 1) of a row that gives several pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cookbook import CookbookError, did_you_mean, read_jsonl, require_field

SHAPES = (
    'Self-Instruct {"instruction", "instances": [{"input", "output"}]}, '
    'Alpaca {"instruction", "input", "output"}, chat {"messages": [{"role", "content"}]} or '
    'samples {"prompt", "completion"}'
)
ROLES = ("system", "user", "assistant")
ROLE_LIST = "'system', 'user' or 'assistant'"


@dataclass(frozen=True)
class InstructionPair:
    """An (instruction, output) pair and where it came from."""

    id: str
    instruction: str
    output: str
    source: str


def read_instruction_pairs(path: str | Path) -> list[InstructionPair]:
    """The pairs of a JSONL file whose rows are seed tasks, Alpaca rows or chats (see the
    module doc); any bad row is an error naming the file, the line and the field."""
    path = Path(path)
    if not path.exists():
        raise CookbookError(f"{path}: no such file")
    if not path.is_file():
        raise CookbookError(f"{path}: not a file")
    pairs = []
    for line, row in read_jsonl(path):
        where = f"{path}:{line}"
        texts = _row_texts(row, where)
        for k, (instruction, output) in enumerate(texts, 1):
            number = f"{line}:{k}" if len(texts) > 1 else str(line)
            pairs.append(InstructionPair(f"{path.stem}:{number}", instruction, output, where))
    if not pairs:
        raise CookbookError(f"{path}: no instruction pairs in it")
    return pairs


def _row_texts(row: dict[str, Any], where: str) -> list[tuple[str, str]]:
    """The (instruction, output) texts of one row, in whichever shape it has."""
    if "messages" in row:
        return _chat_texts(row, where)
    if "instances" in row:
        return _seed_task_texts(row, where)
    if "instruction" in row and "output" in row:
        return [_alpaca_texts(row, where)]
    if "prompt" in row and "completion" in row:
        return [(_text(row, "prompt", where), _text(row, "completion", where))]
    raise CookbookError(f"{where}: not an instruction row; expected {SHAPES}")


def _text(record: dict[str, Any], key: str, where: str) -> str:
    """``record[key]`` stripped, which must be a non-empty string."""
    text = require_field(record, key, str, where).strip()
    if not text:
        raise CookbookError(f"{where}: field {key!r} is empty")
    return text


def _with_input(instruction: str, record: dict[str, Any], where: str) -> str:
    """The instruction, followed after a blank line by the record's input when it has one."""
    given = record.get("input", "")
    if not isinstance(given, str):
        raise CookbookError(f"{where}: field 'input' must be a str, not {type(given).__name__}")
    return f"{instruction}\n\n{given.strip()}" if given.strip() else instruction


def _alpaca_texts(row: dict[str, Any], where: str) -> tuple[str, str]:
    """An Alpaca row's instruction (with its input) and output."""
    instruction = _text(row, "instruction", where)
    return _with_input(instruction, row, where), _text(row, "output", where)


def _seed_task_texts(row: dict[str, Any], where: str) -> list[tuple[str, str]]:
    """A seed task's instruction with each of its instances' input, and their outputs."""
    instruction = _text(row, "instruction", where)
    instances = require_field(row, "instances", list, where)
    if not instances:
        raise CookbookError(f"{where}: field 'instances' is empty")
    texts = []
    for i, instance in enumerate(instances):
        at = f"{where}: instances[{i}]"
        if not isinstance(instance, dict):
            raise CookbookError(f"{at}: must be an object, not {type(instance).__name__}")
        require_field(instance, "input", str, at)
        texts.append((_with_input(instruction, instance, at), _text(instance, "output", at)))
    return texts


def _chat_texts(row: dict[str, Any], where: str) -> list[tuple[str, str]]:
    """Each user message followed by an assistant message (system messages left out)."""
    messages = require_field(row, "messages", list, where)
    turns = []
    for i, message in enumerate(messages):
        at = f"{where}: messages[{i}]"
        if not isinstance(message, dict):
            raise CookbookError(f"{at}: must be an object, not {type(message).__name__}")
        role = require_field(message, "role", str, at)
        if role not in ROLES:
            hint = did_you_mean(role, ROLES)
            raise CookbookError(f"{at}: unknown role {role!r}; expected {ROLE_LIST}{hint}")
        require_field(message, "content", str, at)
        if role != "system":
            turns.append((role, message, at))
    texts = [
        (_text(asked, "content", at_asked), _text(answer, "content", at_answer))
        for (role, asked, at_asked), (next_role, answer, at_answer) in zip(
            turns, turns[1:], strict=False
        )
        if role == "user" and next_role == "assistant"
    ]
    if not texts:
        raise CookbookError(f"{where}: no user message followed by an assistant message")
    return texts


def task_of(pair: InstructionPair) -> str:
    """The task a pair belongs to: its id up to the second ':' (``stem:line``)."""
    return ":".join(pair.id.split(":")[:2])


def split_holdout(
    pairs: list[InstructionPair], holdout: int, *, by_task: bool = True
) -> tuple[list[InstructionPair], list[InstructionPair]]:
    """(train, held out): the last ``holdout`` tasks held out, all pairs of a task on one side
    (with ``by_task`` false, the last ``holdout`` pairs); more than there are is an error."""
    if isinstance(holdout, bool) or not isinstance(holdout, int) or holdout < 0:
        raise CookbookError(f"holdout must be a whole number of at least 0, not {holdout!r}")
    keys = [task_of(pair) if by_task else str(i) for i, pair in enumerate(pairs)]
    tasks = list(dict.fromkeys(keys))
    if holdout > len(tasks):
        what = "tasks" if by_task else "pairs"
        raise CookbookError(f"holdout {holdout} is more than the {len(tasks)} {what} there are")
    held = set(tasks[len(tasks) - holdout :])
    train = [pair for pair, key in zip(pairs, keys, strict=True) if key not in held]
    return train, [pair for pair, key in zip(pairs, keys, strict=True) if key in held]

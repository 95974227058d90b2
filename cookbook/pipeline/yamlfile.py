"""Safe YAML loading that remembers the line of every value, for errors that name the place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cookbook.contract.errors import CookbookError

Path_ = tuple[Any, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader: a tag that would build a Python object is an error, never executed; a key
    given twice in one mapping is an error, not a silent last-one-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (first on line {first})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _lines(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _lines(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), out)


def load_yaml(path: Path) -> tuple[Any, dict[Path_, int]]:
    """The document at ``path`` and a map from JSON path (a tuple) to its 1-based line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CookbookError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CookbookError(f"{path}: cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        tags = (
            ""
            if "appears twice" in str(exc.problem)
            else (" (YAML tags that build Python objects are not allowed)")
        )
        raise CookbookError(f"{where}: {exc.problem}{tags}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise CookbookError(f"{where}: malformed YAML: {problem}") from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path`` or of its nearest ancestor that has one."""
    path = tuple(path)
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def format_path(path: Path_) -> str:
    """``("templates", 1, "params", "k")`` -> ``templates[1].params.k``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"

"""Safe, bounded YAML loading that remembers the line of every value, for errors that name
the place.

A pipeline file is read as UTF-8 text of at most ``MAX_BYTES``; its document may nest at most
``MAX_DEPTH`` levels and hold at most ``MAX_NODES`` values once its aliases are expanded (an
"alias bomb" is refused while it is read, before anything is built); an alias that refers to
a value containing it is refused. Only the JSON types are built (strings, numbers, booleans,
null, lists and mappings): a tag that would build a Python object, a date or a set is an
error, never executed. Every mapping key is a name (a string), and a key given twice in one
mapping is an error. Each limit has its own message naming the file and line.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from cookbook.contract.errors import CookbookError

Path_ = tuple[Any, ...]

#: The largest pipeline file read, in bytes.
MAX_BYTES = 10 * 1024 * 1024
#: The deepest nesting of lists and mappings, aliases expanded (the top mapping is level 1).
MAX_DEPTH = 100
#: The most values (scalars, lists and mappings) a document may hold, aliases expanded.
MAX_NODES = 100_000
#: Messages show at most this many characters of a value (see ``short``).
VALUE_WIDTH = 80
#: A message line longer than this is cut in its middle (see ``cut``).
LINE_WIDTH = 1000

_TAG = "tag:yaml.org,2002:"
_ALLOWED = "strings, numbers, true/false, null, lists and mappings"
#: Characters YAML does not allow in a stream (PyYAML's set).
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


#: A key shown as it is in a JSON path (anything else is shown quoted, as Python writes it).
_PLAIN_NAME = re.compile(r"[^\s.\[\]'\"\x00-\x1f\x7f-\x9f]+")


class LimitError(yaml.MarkedYAMLError):
    """A document over one of the limits, or of a shape a pipeline cannot hold."""


class _Composer(Composer):
    """PyYAML's composer, counting values and nesting as aliases expand them: a document
    over ``MAX_NODES`` values or ``MAX_DEPTH`` levels, or an alias inside the value it names,
    is refused as soon as it is seen, before anything is built."""

    def __init__(self) -> None:
        super().__init__()
        self._count = 0  # values so far, aliases expanded
        self._open: list[int] = []  # per value being composed: the depth below it so far
        self._done: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)
        # a value's depth: how many lists and mappings nest in it, itself included

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._done:
                raise LimitError(
                    None,
                    None,
                    f"alias *{event.anchor} refers to a value that contains it (a cycle)",
                    event.start_mark,
                )
            node = super().compose_node(parent, index)  # an undefined alias is its error
            size, depth = self._done[id(node)]
            self._grow(size, event.start_mark)
            self._reach(depth, event.start_mark, f" (through alias *{event.anchor})")
            return node
        level = 0 if isinstance(event, yaml.ScalarEvent) else 1  # lists and mappings nest
        self._grow(1, event.start_mark)
        self._reach(level, event.start_mark)
        start = self._count - 1
        self._open.append(0)
        node = super().compose_node(parent, index)
        depth = self._open.pop() + level
        self._done[id(node)] = (self._count - start, depth)
        if self._open:
            self._open[-1] = max(self._open[-1], depth)
        return node

    def _grow(self, size: int, mark: Any) -> None:
        self._count += size
        if self._count > MAX_NODES:
            raise LimitError(
                None,
                None,
                f"the document holds more than {MAX_NODES:,} values (aliases expanded):"
                " a pipeline file may hold no more",
                mark,
            )

    def _reach(self, depth: int, mark: Any, how: str = "") -> None:
        # every value open around this one is a list or a mapping (a scalar has no children)
        if len(self._open) + depth > MAX_DEPTH:
            raise LimitError(
                None,
                None,
                f"values nest more than {MAX_DEPTH} levels deep{how}:"
                " a pipeline file may nest no deeper",
                mark,
            )
        if self._open:
            self._open[-1] = max(self._open[-1], depth)


class _Constructor(SafeConstructor):
    """SafeConstructor building JSON types only; a key given twice in one mapping is an
    error, not a silent last-one-wins."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # a scalar that its explicit tag cannot read, such as "!!int x" or "!!bool 3"
            tag = node.tag.replace(_TAG, "!!")
            raise LimitError(
                None, None, f"{short(node.value)} is not a valid {tag}", node.start_mark
            ) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _TAG + "merge":
                continue  # "<<: *defaults": its keys come first, the mapping's own win
            if not isinstance(key_node, ScalarNode):
                raise LimitError(
                    None,
                    None,
                    f"keys are names, not {_shape(key_node)}",
                    key_node.start_mark,
                )
            key = self.construct_object(key_node, deep=True)
            first = seen.get(key)
            if first is not None:
                raise ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (first on line {first})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_undefined(self, node: Node) -> Any:
        tag = node.tag.replace(_TAG, "!!")
        raise ConstructorError(
            None,
            None,
            f"could not determine a constructor for the tag {tag} (YAML tags that build Python"
            " objects are not allowed)",
            node.start_mark,
        )

    def construct_not_allowed(self, node: Node) -> Any:
        tag = node.tag.replace(_TAG, "!!")
        raise LimitError(
            None,
            None,
            f"the tag {tag} is not allowed: a pipeline holds only {_ALLOWED}",
            node.start_mark,
        )


for _tag in ("binary", "timestamp", "omap", "pairs", "set"):
    _Constructor.add_constructor(_TAG + _tag, _Constructor.construct_not_allowed)
_Constructor.add_constructor(None, _Constructor.construct_undefined)


class _Resolver(Resolver):
    """YAML 1.1's implicit types less timestamps (``2024-01-01`` stays text) and ``=``."""


_IMPLICIT = tuple(_TAG + name for name in ("bool", "int", "float", "null", "merge"))
_Resolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in _IMPLICIT]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}

try:  # libyaml scans and parses in C; the composer stays PyYAML's, to count as it goes
    from yaml.cyaml import CParser

    class _Loader(_Composer, CParser, _Constructor, _Resolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Composer.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)

except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, _Composer, _Constructor, _Resolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _Composer.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)


def _shape(node: Node) -> str:
    return "a mapping" if isinstance(node, MappingNode) else "a list"


def short(value: Any, width: int = VALUE_WIDTH) -> str:
    """``repr(value)``, cut to about ``width`` characters (see ``clip``)."""
    return clip(repr(value), width)


def clip(text: str, width: int = VALUE_WIDTH) -> str:
    """``text`` cut to ``width`` characters, saying how many were left out."""
    if len(text) <= width:
        return text
    return f"{text[:width]}… ({len(text) - width:,} more characters)"


def cut(text: str, width: int = LINE_WIDTH) -> str:
    """Each line of ``text`` at most about ``width`` characters: a longer one keeps its start
    and end and says how much was left out."""
    lines = []
    for line in text.split("\n"):
        if len(line) > width:
            half = width // 2
            left = len(line) - 2 * half
            line = f"{line[:half]} …({left:,} characters left out)… {line[-half:]}"
        lines.append(line)
    return "\n".join(lines)


def read_text(path: Path, what: str = "a pipeline file") -> str:
    """The UTF-8 text of ``path`` (a byte order mark is read past), or one clear error: no
    such file, a folder, too large, UTF-16, binary, not UTF-8, a character YAML forbids."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise CookbookError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CookbookError(f"{path}: a folder, not {what}") from None
    except OSError as exc:
        raise CookbookError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise CookbookError(
            f"{path}: larger than {MAX_BYTES // 2**20} MiB, the most {what} may hold"
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if data.startswith(bom):
            raise CookbookError(f"{path}: {name} text: save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise CookbookError(f"{path}:{line}: holds a NUL byte: a binary file, not YAML text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise CookbookError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}):"
            " save it as UTF-8"
        ) from None
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise CookbookError(
            f"{path}:{line}: character U+{ord(bad.group()):04X} at column {column} is not"
            " allowed in YAML text"
        )
    return text


def _document(text: str) -> tuple[Any, Node | None]:
    """The data and the node of the one document in ``text`` (YAML errors propagate)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    return _plain(data), node


def _plain(value: Any) -> Any:
    """``value`` with every list and mapping its own: an alias's value is copied, so that
    changing one place (``--set``) never changes another."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _where(path: Path, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return f"{path}:{mark.line + 1}" if mark is not None else str(path)


def load_yaml(path: Path) -> tuple[Any, dict[Path_, int]]:
    """The document at ``path`` and a map from JSON path (a tuple) to its 1-based line.

    Every error, the limits' included, is a ``CookbookError`` naming the file and line."""
    text = read_text(path)
    try:
        data, node = _document(text)
    except LimitError as exc:
        raise CookbookError(f"{_where(path, exc)}: {exc.problem}") from None
    except ConstructorError as exc:
        raise CookbookError(cut(f"{_where(path, exc)}: {exc.problem}")) from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        if "maximum nesting depth" in problem:  # libyaml's own limit, far above ours
            raise CookbookError(
                f"{_where(path, exc)}: values nest more than {MAX_DEPTH} levels deep:"
                " a pipeline file may nest no deeper"
            ) from None
        if "expected a single document" in f"{problem} {getattr(exc, 'context', '')}":
            problem = "a pipeline file holds one YAML document, not several"
        raise CookbookError(cut(f"{_where(path, exc)}: malformed YAML: {problem}")) from None
    lines: dict[Path_, int] = {}
    keys: list[tuple[int, Path_, Any, str]] = []
    if node is not None:
        _lines(node, (), lines, keys)
    if keys:
        rows = dict.fromkeys(
            f"{path}:{line}: {format_path(where)}: {key_problem(key, text)}"
            for line, where, key, text in keys
        )
        count = f"{len(rows)} error{'s' if len(rows) > 1 else ''} in {path.name}"
        raise CookbookError(cut("\n".join([count, *rows])))
    return data, lines


def key_problem(key: Any, text: str | None = None) -> str:
    """Why ``key`` (written ``text`` in the file) cannot be a key: keys are names."""
    written = text if text is not None else str(key)
    if isinstance(key, bool):
        return (
            f"keys are names, not {written}, which YAML reads as {str(key).lower()}:"
            f" quote it ('{written}') to use it as a name"
        )
    if key is None:
        shown = written or "an empty key"
        return f"keys are names, not {shown}, which YAML reads as null"
    if isinstance(key, (int, float)):
        return f"keys are names, not {written}: quote it ('{written}') to use it as a name"
    return f"keys are names, not {short(key)}"


def _key_value(node: ScalarNode) -> Any:
    if node.tag == _TAG + "str":
        return node.value
    return _Constructor().construct_object(node, deep=True)


def _lines(
    node: Node, path: Path_, out: dict[Path_, int], keys: list[tuple[int, Path_, Any, str]]
) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        for key_node, value in node.value:
            key = _key_value(key_node)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                keys.append((line, path, key, key_node.value))
            _lines(value, (*path, key), out, keys)
            out[(*path, key)] = line
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), out, keys)


def tree_problem(value: Any) -> str | None:
    """What is wrong with the shape of data (after ``--set`` overrides, say): deeper than
    ``MAX_DEPTH``, more than ``MAX_NODES`` values, or a key that is not a name; else None."""
    count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            return f"the pipeline holds more than {MAX_NODES:,} values"
        if depth > MAX_DEPTH and isinstance(item, (dict, list)):
            return f"values nest more than {MAX_DEPTH} levels deep"
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    return key_problem(key)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


def parse_value(text: str, where: str) -> Any:
    """A ``KEY=VALUE`` option's value read as YAML (``3`` is a number, ``x`` text, ``[a, b]``
    a list), under the same limits as a pipeline file; text that is not YAML stays text."""
    try:
        data, node = _document(text)
    except LimitError as exc:
        raise CookbookError(cut(f"{where}: {exc.problem}")) from None
    except yaml.YAMLError:
        return text
    except UnicodeEncodeError as exc:  # bytes of the command line that are not UTF-8
        byte = ord(text[exc.start]) - 0xDC00 if "\udc80" <= text[exc.start] <= "\udcff" else None
        shown = f" (byte 0x{byte:02x})" if byte is not None else ""
        raise CookbookError(cut(f"{where}: not UTF-8 text{shown}")) from None
    problems: list[tuple[int, Path_, Any, str]] = []
    if node is not None:
        _lines(node, (), {}, problems)
    if problems:
        _, _, key, written = problems[0]
        raise CookbookError(cut(f"{where}: {key_problem(key, written)}"))
    return data


def parse_assignments(items: Iterable[str] | None, option: str) -> list[tuple[str, Any]]:
    """``["a.b=3"]`` -> ``[("a.b", 3)]``; a malformed item is an error naming ``option``."""
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CookbookError(cut(f"{option} {short(item)}: expected KEY=VALUE"))
        pairs.append((key.strip(), parse_value(value, f"{option} {short(item)}")))
    return pairs


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
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            plain = isinstance(part, str) and _PLAIN_NAME.fullmatch(part)
            name = clip(part if plain else repr(part))
            text += f".{name}" if text else name
    return text or "(top level)"

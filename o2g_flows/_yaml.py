"""Reading YAML with source positions.

``read_yaml`` is the flow loader's reader: one pass over libyaml's events (PyYAML's C
parser when present) into ``YMap``/``YSeq`` containers that know where each key and value
is, with limits on size, nesting and alias expansion; it never raises anything but
``SourceError``. ``load_yaml`` (ruamel.yaml round trip) serves the simulator's PBX and
traffic files. Both report problems as ``file:line:col: message`` with 1-based positions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ._yaml_messages import syntax_error

if TYPE_CHECKING:  # ruamel.yaml is imported by load_yaml's callers, not by the flow reader
    from ruamel.yaml.comments import CommentedMap

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Location",
    "SourceError",
    "TagHandler",
    "YMap",
    "YSeq",
    "key_location",
    "load_yaml",
    "location_of",
    "read_yaml",
]


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based position in a source file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SourceError(Exception):
    """A problem in a YAML source, with where it is."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


def load_yaml(text: str, file: str | Path) -> Any:
    """Parse ``text`` keeping positions; syntax errors become ``SourceError``."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise SourceError(Location(str(file), line, column), problem or str(exc)) from None


def location_of(node: Any, file: str | Path, key: Any = None) -> Location:
    """Where ``node`` (or its entry ``key``: the value of a mapping, the item of a list) is."""
    if isinstance(node, YMap | YSeq):
        return Location(node.file or str(file), *node.position(key))
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    line = column = 0
    if isinstance(node, CommentedMap):
        line, column = node.lc.line, node.lc.col
        if key is not None and key in node:
            line, column = _value_position(node, key) or node.lc.key(key)
    elif isinstance(node, CommentedSeq):
        line, column = node.lc.line, node.lc.col
        if isinstance(key, int) and 0 <= key < len(node):
            line, column = node.lc.item(key)
    return Location(str(file), line + 1, column + 1)


def key_location(node: CommentedMap | YMap, file: str | Path, key: Any) -> Location:
    """Where the key ``key`` of a mapping is written."""
    if isinstance(node, YMap):
        return Location(node.file or str(file), *node.key_position(key))
    line, column = node.lc.key(key)
    return Location(str(file), line + 1, column + 1)


def _value_position(node: CommentedMap, key: Any) -> tuple[int, int] | None:
    """Where the value of ``key`` starts, if ruamel recorded it."""
    try:
        return node.lc.value(key)
    except (KeyError, TypeError):
        return None


# -- the flow reader ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """What one YAML file may hold; each is reported by name when exceeded."""

    max_bytes: int = 8 * 1024 * 1024
    max_depth: int = 64
    max_alias_values: int = 10_000


DEFAULT_LIMITS = Limits()


class YMap(dict):
    """A mapping read from YAML, with the 0-based position of itself and of its entries."""

    __slots__ = ("at", "file", "keys_at", "values_at")

    def __init__(self, at: tuple[int, int] = (0, 0), file: str | None = None) -> None:
        super().__init__()
        self.at = at
        self.file = file
        self.keys_at: dict[Any, tuple[int, int]] = {}
        self.values_at: dict[Any, tuple[int, int]] = {}

    def position(self, key: Any = None) -> tuple[int, int]:
        """1-based (line, column) of the value of ``key``, or of the mapping."""
        line, column = self.values_at.get(key, self.at) if key is not None else self.at
        return line + 1, column + 1

    def key_position(self, key: Any) -> tuple[int, int]:
        """1-based (line, column) of ``key`` itself."""
        line, column = self.keys_at.get(key, self.at)
        return line + 1, column + 1


class YSeq(list):
    """A list read from YAML, with the 0-based position of itself and of its items."""

    __slots__ = ("at", "file", "items_at")

    def __init__(self, at: tuple[int, int] = (0, 0), file: str | None = None) -> None:
        super().__init__()
        self.at = at
        self.file = file
        self.items_at: list[tuple[int, int]] = []

    def position(self, index: Any = None) -> tuple[int, int]:
        """1-based (line, column) of item ``index``, or of the list."""
        line, column = self.at
        if isinstance(index, int) and 0 <= index < len(self.items_at):
            line, column = self.items_at[index]
        return line + 1, column + 1


#: A local tag's handler: (the scalar's text, where it is) -> the value it stands for, and
#: the errors found getting it (located where they are: an included file's, for instance).
TagHandler = Callable[[str, Location], tuple[Any, list[SourceError]]]

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff]")
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?(?:[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOAT = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
_CORE = "tag:yaml.org,2002:"


def read_bytes(data: bytes, file: str | Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """``data`` as text, or a located ``SourceError`` (too big, not UTF-8)."""
    if len(data) > limits.max_bytes:
        raise SourceError(
            Location(str(file), 1, 1),
            f"the file is {len(data):,} bytes, over the limit of {limits.max_bytes:,} bytes "
            "(max_bytes); split it into several files",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SourceError(
            Location(str(file), line, column),
            f"byte 0x{data[exc.start]:02x} is not UTF-8 text; save the file as UTF-8",
        ) from None


def read_yaml(
    text: str,
    file: str | Path,
    limits: Limits = DEFAULT_LIMITS,
    tags: Mapping[str, TagHandler] | None = None,
) -> tuple[Any, list[SourceError]]:
    """One YAML document as ``YMap``/``YSeq``/scalars, and every problem found.

    A problem that stops the reading (a syntax error, a limit) leaves the data ``None``;
    others (a duplicate key, an unsupported tag) are reported and the reading goes on.
    """
    file = str(file)
    if len(text) > limits.max_bytes:
        where = Location(file, 1, 1)
        return None, [
            SourceError(
                where,
                f"the text is over the limit of {limits.max_bytes:,} "
                "characters (max_bytes); split it into several files",
            )
        ]
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        code = f"U+{ord(bad.group()):04X}"
        return None, [
            SourceError(
                Location(file, line, column),
                f"control character {code} is not allowed in YAML; remove it (inside double "
                f'quotes, write it as "\\u{ord(bad.group()):04x}")',
            )
        ]
    reader = _Reader(file, limits, tags or {})
    try:
        data = reader.read(text)
    except SourceError as exc:
        return None, [*reader.errors, exc]
    except yaml.MarkedYAMLError as exc:
        return None, [*reader.errors, syntax_error(exc, text, file)]
    except yaml.YAMLError as exc:  # the reader's own checks, without a mark
        return None, [*reader.errors, SourceError(Location(file, 1, 1), str(exc))]
    return data, reader.errors


class _Frame:
    """A mapping or list being read."""

    __slots__ = ("anchor", "container", "key", "key_at", "size")

    def __init__(self, container: YMap | YSeq, anchor: str | None) -> None:
        self.container = container
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.key_at = (0, 0)
        self.size = 1


_NO_KEY = object()
_DROP = object()  # the value of a refused key: read, then left out


class _Reader:
    def __init__(self, file: str, limits: Limits, tags: Mapping[str, TagHandler]) -> None:
        self.file = file
        self.limits = limits
        self.tags = tags
        self.errors: list[SourceError] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.expanded = 0

    def at(self, mark: Any) -> Location:
        return Location(self.file, mark.line + 1, mark.column + 1)

    def read(self, text: str) -> Any:
        stack: list[_Frame] = []
        root: Any = None
        documents = 0
        for event in yaml.parse(text, Loader=_Loader):
            kind = event.__class__
            if kind is yaml.ScalarEvent:
                value, size = self.scalar(event), 1
                if event.anchor:
                    self.anchors[event.anchor] = (value, size)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if len(stack) >= self.limits.max_depth:
                    raise SourceError(
                        self.at(event.start_mark),
                        f"nested deeper than {self.limits.max_depth} levels (max_depth)",
                    )
                if stack and stack[-1].key is _NO_KEY and isinstance(stack[-1].container, YMap):
                    raise SourceError(
                        self.at(event.start_mark),
                        "a key must be a plain text or number, not a mapping or list",
                    )
                self.collection_tag(event)
                at = (event.start_mark.line, event.start_mark.column)
                container = (
                    YMap(at, self.file) if kind is yaml.MappingStartEvent else YSeq(at, self.file)
                )
                if event.anchor:
                    self.open_anchors.add(event.anchor)
                stack.append(_Frame(container, event.anchor))
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                value, size = frame.container, frame.size
                if frame.anchor:
                    self.open_anchors.discard(frame.anchor)
                    self.anchors[frame.anchor] = (value, size)
            elif kind is yaml.AliasEvent:
                value, size = self.alias(event)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise SourceError(
                        self.at(event.start_mark),
                        "a second document (---) in one file; a flow file holds one document",
                    )
                continue
            else:
                continue
            if not stack:
                root = value
                continue
            at = (
                value.at
                if isinstance(value, YMap | YSeq) and kind is not yaml.AliasEvent
                else (
                    event.start_mark.line,
                    event.start_mark.column,
                )
            )
            self.add(stack[-1], value, size, at)
        return root

    def add(self, frame: _Frame, value: Any, size: int, at: tuple[int, int]) -> None:
        frame.size += size
        container = frame.container
        if isinstance(container, YSeq):
            container.append(value)
            container.items_at.append(at)
            return
        if frame.key is _NO_KEY:
            frame.key, frame.key_at = self.key(container, value, at), at
            return
        key, frame.key = frame.key, _NO_KEY
        if key is _DROP:
            return
        container[key] = value
        container.keys_at[key] = frame.key_at
        container.values_at[key] = at

    def key(self, container: YMap, value: Any, at: tuple[int, int]) -> Any:
        where = Location(self.file, at[0] + 1, at[1] + 1)
        if isinstance(value, dict | list):
            raise SourceError(where, "a key must be a plain text or number, not a mapping or list")
        if value == "<<":
            self.errors.append(
                SourceError(where, "merge keys (<<) are not supported; write the keys out")
            )
            return _DROP
        if value in container:
            line = container.keys_at[value][0] + 1
            self.errors.append(
                SourceError(where, f"duplicate key {value!r} (first at line {line})")
            )
            return _DROP
        return value

    def alias(self, event: Any) -> tuple[Any, int]:
        name = event.anchor
        if name in self.open_anchors:
            raise SourceError(
                self.at(event.start_mark), f"alias *{name} is used inside its own anchor &{name}"
            )
        if name not in self.anchors:
            raise SourceError(
                self.at(event.start_mark), f"alias *{name} has no anchor &{name} before it"
            )
        value, size = self.anchors[name]
        self.expanded += size
        if self.expanded > self.limits.max_alias_values:
            raise SourceError(
                self.at(event.start_mark),
                f"aliases expand to more than {self.limits.max_alias_values:,} values "
                "(max_alias_values)",
            )
        return value, size

    def collection_tag(self, event: Any) -> None:
        tag = event.tag
        if tag is None or tag == "!" or tag in (_CORE + "map", _CORE + "seq"):
            return
        self.errors.append(
            SourceError(
                self.at(event.start_mark),
                f"the tag {_short_tag(tag)} is not supported on a mapping or list; remove it",
            )
        )

    def scalar(self, event: Any) -> Any:
        tag, text = event.tag, event.value
        if tag is None or tag == "!":
            return _resolve(text) if not event.style and tag is None else text
        where = self.at(event.start_mark)
        if tag in self.tags:
            value, errors = self.tags[tag](text, where)
            self.errors.extend(errors)
            return value
        if not tag.startswith(_CORE):
            known = ", ".join(sorted(self.tags)) or "none here"
            self.errors.append(
                SourceError(where, f"unknown tag {tag} (the tags known are {known})")
            )
            return text
        kind = tag[len(_CORE) :]
        value = _resolve(text)
        expected = {"str": str, "int": int, "float": float, "bool": bool, "null": type(None)}
        if kind == "str":
            return text
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind in expected and type(value) is expected[kind]:
            return value
        if kind in expected:
            words = {
                "int": "a whole number",
                "float": "a number",
                "bool": "true or false",
                "null": "null",
            }
            self.errors.append(SourceError(where, f"!!{kind} takes {words[kind]}, not {text!r}"))
            return text
        self.errors.append(
            SourceError(where, f"the tag !!{kind} is not supported; write a plain value")
        )
        return text


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _resolve(text: str) -> Any:
    """A plain scalar by the YAML 1.2 core schema (``on``, ``yes`` stay text)."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    first = text[0]
    if first.isdigit() or first in "+-.":
        if _INT.match(text):
            return _int(text)
        if _FLOAT.match(text):
            return float(text)
        special = _SPECIAL_FLOAT.get(text.lower())
        if special is not None:
            return special
    return text


def _int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body.startswith("0o"):
        return sign * int(body[2:], 8)
    if body.startswith("0x"):
        return sign * int(body[2:], 16)
    return sign * int(body, 10)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

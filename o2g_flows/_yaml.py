"""Reading YAML with source positions (ruamel.yaml round-trip loader).

Shared by the flow loader and the simulator's PBX file loader: both report
problems as ``file:line:col: message`` with 1-based positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

__all__ = ["Location", "SourceError", "key_location", "load_yaml", "location_of"]


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
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise SourceError(Location(str(file), line, column), problem or str(exc)) from None


def location_of(node: Any, file: str | Path, key: Any = None) -> Location:
    """Where ``node`` (or its entry ``key``: the value of a mapping, the item of a list) is."""
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


def key_location(node: CommentedMap, file: str | Path, key: Any) -> Location:
    """Where the key ``key`` of a mapping is written."""
    line, column = node.lc.key(key)
    return Location(str(file), line + 1, column + 1)


def _value_position(node: CommentedMap, key: Any) -> tuple[int, int] | None:
    """Where the value of ``key`` starts, if ruamel recorded it."""
    try:
        return node.lc.value(key)
    except (KeyError, TypeError):
        return None

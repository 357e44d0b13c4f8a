"""YAML syntax errors in plain words: what is wrong, where, and the likely fix."""

from __future__ import annotations

from typing import Any

from . import _yaml

__all__ = ["syntax_error"]


def syntax_error(exc: Any, text: str, file: str) -> _yaml.SourceError:
    """A parser error (PyYAML's ``MarkedYAMLError``) as a ``SourceError`` people can act on."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line, mark.column) if mark else (0, 0)
    start = exc.context_mark
    lines = text.splitlines()
    char = lines[line][column] if line < len(lines) and column < len(lines[line]) else ""
    problem = str(exc.problem or "")
    if char == "\t" and "cannot start any token" in problem:
        problem = "tab character"
    message = _explain(problem, str(exc.context or ""), line, start, lines)
    return _yaml.SourceError(_yaml.Location(file, line + 1, column + 1), message)


def _explain(problem: str, context: str, line: int, start: Any, lines: list[str]) -> str:
    opened = f" (opened at line {start.line + 1})" if start is not None else ""
    if "tab character" in problem or "found character '\\t'" in problem:
        return "a tab in the indentation; YAML indents with spaces only"
    if "mapping values are not allowed" in problem:
        return (
            "a ':' here starts a key where none can be: either this line is indented "
            "deeper than the keys above it, or a value holding ': ' needs quotes"
        )
    if "did not find expected key" in problem and "block mapping" in context:
        return (
            f"this line is not lined up with the keys of its block{opened}: "
            f"{_indent_hint(line, start, lines)}"
        )
    if "expected '-' indicator" in problem:
        return (
            f"this line is not lined up with the list items above it{opened}: give each "
            "item '- ' at the same indentation, and nothing else at that level"
        )
    if "end of stream" in problem and "quoted scalar" in context:
        return f"a quoted text is never closed{opened}: add the closing quote"
    if "cannot start any token" in problem:
        char = lines[line][start.column] if start and line < len(lines) else ""
        what = f"'{char}'" if char.strip() else "this character"
        return f"a value cannot start with {what} in YAML; put the value in quotes"
    if "expected ',' or ']'" in problem:
        return f"a list in [ ] is not closed{opened}: add ']' (or a ',' between items)"
    if "expected ',' or '}'" in problem:
        return f"a mapping in {{ }} is not closed{opened}: add '}}' (or a ',' between entries)"
    if "could not find expected ':'" in problem:
        return f"a key without ':'{opened}: add ': ' after the key, or quote a long text"
    if "expected node content" in problem:
        return "a value is missing here, or starts with a character YAML reserves; quote it"
    if "found undefined alias" in problem or "found undefined tag handle" in problem:
        return problem
    words = f"{problem} ({context})" if context else problem
    return f"YAML syntax: {words or 'not valid YAML'}"


def _indent_hint(line: int, start: Any, lines: list[str]) -> str:
    if start is None or line >= len(lines):
        return "check its indentation"
    here = _indent(lines[line])
    if here == start.column:
        return "check the line above it (a missing ':' or an unclosed quote?)"
    levels: dict[int, int] = {}  # indentation -> the last line above written with it
    for number in range(start.line, line):
        text = lines[number]
        if text.strip() and not text.lstrip().startswith("#"):
            levels[_indent(text)] = number + 1
    shallower = [level for level in levels if level < here]
    deeper = [level for level in levels if level > here]
    choices = [
        f"by {_spaces(level)} like line {levels[level]}"
        for level in (max(shallower, default=None), min(deeper, default=None))
        if level is not None
    ]
    said = f"it is indented {_spaces(here)}"
    if not choices:
        return f"{said}; indent it like the lines above it"
    return f"{said}; indent it {' or '.join(choices)}"


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _spaces(count: int) -> str:
    return f"{count} space{'s' * (count != 1)}"

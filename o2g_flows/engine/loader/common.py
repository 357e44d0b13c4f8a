"""What every part of the loader shares: positions, errors, expressions, templates."""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..._yaml import (
    Limits,
    Location,
    SourceError,
    YMap,
    YSeq,
    key_location,
    location_of,
    read_yaml,
)
from ..expressions import (
    CONTEXT_NAMES,
    Dynamic,
    Expression,
    ExpressionError,
    compile_value,
)
from ..expressions import expression as compiled_expression
from ..model import (
    Flow,
)
from ..registry import Registry
from ..tags import flow_tags

DEFAULT_KEY = "event.callRef || event.loginName || event.schedule"

FLOW_KEYS = (
    "flow",
    "description",
    "enabled",
    "users",
    "key",
    "mode",
    "max",
    "vars",
    "on_error",
    "on_reload",
    "schedule",
    "on",
    "when",
    "do",
    "start",
    "states",
    "tests",
)
START_KEYS = ("on", "when", "do", "goto")
HANDLER_KEYS = ("when", "do", "goto")
STATE_KEYS = ("enter", "exit", "on", "after", "goto")
TIMER_KEYS = ("seconds", "minutes", "hours", "do", "goto", "on_missed")
SCHEDULE_KEYS = ("name", "cron", "every", "at", "start", "timezone", "when", "do")
SCHEDULE_KINDS = ("cron", "every", "at", "start")
STEP_KEYS = ("guard", "on_error", "as", "retry")
RETRY_KEYS = ("attempts", "delay", "on")
MAX_ATTEMPTS = 10
TEST_KEYS = ("name", "start", "vars", "fail", "events", "expect", "absent", "state", "until")

#: After an unknown name with no close match: it may come from a plugin not loaded.
PLUGIN_HINT = " (if a plugin provides it, load its folder with --plugins DIR)"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_STATE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_EVENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DURATION = re.compile(r"\s*(?:(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*)+\Z")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_VAR_USE = re.compile(r"(?<![\w.])vars\.([A-Za-z_][A-Za-z0-9_]*)")


def find_var(source: str, name: str) -> int:
    """Where ``vars.NAME`` is written in an expression (0 if not as plainly)."""
    for match in _VAR_USE.finditer(source):
        if match.group(1) == name:
            return match.start()
    return 0


def parse_duration(value: Any) -> float:
    """Seconds from a number or text like ``"20s"``, ``"1m30s"``, ``"500ms"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 20s, 2m, 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str) and _DURATION.match(value):
        return sum(float(n) * _UNIT[unit] for n, unit in _PART.findall(value))
    if isinstance(value, str):
        try:
            return parse_duration(float(value))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a duration (a number of seconds, or 20s, 2m, 1h, 1d)")


class Builder:
    """Checks one file's YAML: reporting with positions, expressions and templates."""

    def __init__(self, text: str, file: str, registry: Registry, limits: Limits) -> None:
        self.limits = limits
        self.text = text
        self.file = file
        self.registry = registry
        self.table = registry.functions
        self.errors: list[SourceError] = []
        self.event_refs: list[tuple[str, Location]] = []
        self.emitted: set[str] = set()
        self.gotos: list[tuple[str, Location]] = []
        self.names: set[str] = set()
        self.flow: Flow | None = None
        self.default_on_error = "stop"
        self.var_uses: list[tuple[str, Location]] = []
        self.assigned: set[str] = set()
        self.item_names: frozenset[str] = frozenset()  # names for_each gives its do:

    # -- reporting ----------------------------------------------------------------------------

    def error(self, location: Location, message: str) -> None:
        self.errors.append(SourceError(location, message))

    def at(self, node: Any, key: Any = None) -> Location:
        return location_of(node, self.file, key)

    def at_key(self, node: Any, key: Any) -> Location:
        if isinstance(node, YMap):
            return key_location(node, self.file, key)
        return self.at(node)

    def keys(self, node: YMap, allowed: Iterable[str], where: str) -> None:
        allowed = tuple(allowed)
        for key in node:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                self.error(self.at_key(node, key), f"unknown key {key!r} in {where}{hint}")

    def mapping(self, parent: Any, key: Any, where: str) -> YMap | None:
        value = parent[key]
        if isinstance(value, YMap):
            return value
        self.error(self.at(parent, key), f"{where} must be a mapping, not {kind_of(value)}")
        return None

    def string(self, parent: Any, key: Any, where: str) -> str | None:
        value = parent[key]
        if isinstance(value, str):
            return value
        self.error(self.at(parent, key), f"{where} must be a string, not {kind_of(value)}")
        return None

    # -- parsing ------------------------------------------------------------------------------

    def build(self) -> Builder:
        """Check the file; whatever goes wrong ends as an error of this file alone."""
        try:
            self._build()
        except Exception as exc:  # a loader bug must not take the other files down
            self.flow = None
            self.error(
                Location(self.file, 1, 1),
                f"the loader failed on this file ({type(exc).__name__}: {exc}); please report "
                "it with the file",
            )
        return self

    def _build(self) -> None:
        self.lines = self.text.splitlines()
        data = self._parse()
        if data is None:
            return
        if not isinstance(data, YMap):
            where = Location(self.file, 1, 1)
            self.error(where, f"a flow file holds a mapping (flow: ...), not {kind_of(data)}")
            return
        self._flow(data)

    def _parse(self) -> Any:
        tags = flow_tags(self.file, self.limits)
        data, errors = read_yaml(self.text, self.file, self.limits, tags)
        self.errors.extend(errors)
        if data is None and not errors:
            self.error(Location(self.file, 1, 1), "empty file (a flow starts with flow: NAME)")
        return None if errors and data is None else data

    # -- expressions --------------------------------------------------------------------------

    def expression(
        self, parent: Any, key: Any, roots: frozenset[str] = CONTEXT_NAMES
    ) -> Expression | None:
        roots = roots | self.item_names
        value = parent[key]
        if not isinstance(value, str):
            self.error(
                self.at(parent, key), f"expected a JMESPath expression, not {kind_of(value)}"
            )
            return None
        source = value.strip()
        if source.startswith("${") and source.endswith("}"):
            source = source[2:-1]  # a condition written as a template is the same expression
            shift = value.index("${") + 2
        else:
            shift = len(value) - len(value.lstrip())
        try:
            expression = compiled_expression(source, self.table, roots)
        except ExpressionError as exc:
            where = self.scalar_position(parent, key, shift + (exc.offset or 0))
            self.error(where, f"bad expression: {exc.message}")
            return None
        self.names.update(expression.names)
        for name in expression.vars_read:
            offset = find_var(source, name)
            self.var_uses.append((name, self.scalar_position(parent, key, shift + offset)))
        return expression

    def value(self, parent: Any, key: Any, roots: frozenset[str] = CONTEXT_NAMES) -> Any:
        """A YAML value with its templates compiled (errors reported at their spot)."""
        roots = roots | self.item_names

        def report(path: tuple[Any, ...], exc: ExpressionError) -> None:
            node, last = parent, key
            for step in path:
                node, last = node[last], step
            self.error(
                self.scalar_position(node, last, exc.offset or 0), f"bad template: {exc.message}"
            )

        compiled = compile_value(plain(parent[key]), self.table, roots, report)
        if isinstance(compiled, Dynamic):
            read: set[str] = set()
            for expression in compiled.expressions():
                self.names.update(expression.names)
                read.update(expression.vars_read)
            if read:
                self._var_uses(parent, key, read)
        return compiled

    def _var_uses(self, parent: Any, key: Any, read: set[str]) -> None:
        """Where each ``vars.NAME`` of ``read`` is written in the value ``parent[key]``."""
        value = parent[key]
        if isinstance(value, str):
            for match in _VAR_USE.finditer(value):
                if match.group(1) in read:
                    where = self.scalar_position(parent, key, match.start())
                    self.var_uses.append((match.group(1), where))
        elif isinstance(value, dict | list):
            for inner in value if isinstance(value, dict) else range(len(value)):
                self._var_uses(value, inner, read)

    def _check_vars(self, declared: Iterable[str]) -> None:
        """Every ``vars.NAME`` read is declared in vars:, set: by an action or named by as:."""
        known = sorted({*declared, *self.assigned})
        for name, where in self.var_uses:
            if name in known:
                continue
            hint = did_you_mean(name, known)
            has = f"this flow's variables are {', '.join(known)}" if known else "it has none"
            self.error(
                where,
                f"vars.{name} is not a variable of this flow ({has}; declare it in vars: or "
                f"give it a value with set:){hint}",
            )

    def scalar_position(self, parent: Any, key: Any, offset: int) -> Location:
        """Where character ``offset`` of the scalar ``parent[key]`` is in the file (the rows
        after the first are read one by one: the cost is the scalar's, not the file's)."""
        start = self.at(parent, key)
        line, column = start.line - 1, start.column - 1
        lines = self.lines
        if line >= len(lines) or start.file != self.file:
            return start
        text = lines[line]
        indicator = text[column] if column < len(text) else ""
        if indicator not in "|>":
            column += 1 if indicator in "\"'" else 0
            body = text[column:]
            if offset <= len(body):
                return Location(self.file, line + 1, column + offset + 1)
            offset -= len(body) + 1
        line += 1
        while line < len(lines):
            row = lines[line]
            body = row.lstrip()
            if offset <= len(body):
                return Location(self.file, line + 1, len(row) - len(body) + offset + 1)
            offset -= len(body) + 1
            line += 1
        return start

    def _duration(self, node: YMap, key: str) -> float | None:
        try:
            return parse_duration(node[key])
        except ValueError as exc:
            self.error(self.at(node, key), str(exc))
            return None


def plain(value: Any) -> Any:
    """ruamel containers as plain dicts and lists (scalars as plain str/int...)."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def one_or_list(node: Any, key: Any, single: type) -> list[tuple[Any, Any]]:
    """``(parent, key)`` of each item ``node[key]`` holds: each element of a list, the value
    itself if it is a ``single``, nothing otherwise."""
    value = node[key]
    if isinstance(value, YSeq):
        return [(value, i) for i in range(len(value))]
    if isinstance(value, single):
        return [(node, key)]
    return []


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA time zone ``name``, or None when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.cache
def zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def did_you_mean(word: Any, options: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the option closest to ``word``, or nothing."""
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__

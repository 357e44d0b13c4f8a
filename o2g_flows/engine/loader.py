"""Loading flows: YAML with positions -> validated ``Flow`` objects, every error at once.

Each problem is a ``SourceError`` reading ``file:line:col: message``. A file with errors
yields no flow, but never stops the other files from loading.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import weakref
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from .._yaml import (
    DEFAULT_LIMITS,
    Limits,
    Location,
    SourceError,
    YMap,
    YSeq,
    key_location,
    location_of,
    read_bytes,
    read_yaml,
)
from ..spec import event_names
from .actions import FOR_EACH, ActionSpec, check_call, check_type, describe_type
from .expressions import (
    CONTEXT_NAMES,
    GUARD_NAMES,
    Dynamic,
    Expression,
    ExpressionError,
    compile_text,
    compile_value,
)
from .functions import FunctionTable
from .model import (
    END,
    MODES,
    RELOAD_POLICIES,
    SCHEDULE_EVENT,
    Expect,
    Flow,
    Handler,
    Retry,
    Schedule,
    State,
    Step,
    TestCase,
    TestEvent,
    Timer,
)
from .reach import reach_warnings
from .registry import Registry
from .schedules import local_time
from .tags import flow_tags, is_flow_file

__all__ = [
    "DEFAULT_KEY",
    "FLOW_KEYS",
    "LoadResult",
    "load_flows",
    "load_text",
    "parse_duration",
]

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


def _find_var(source: str, name: str) -> int:
    """Where ``vars.NAME`` is written in an expression (0 if not as plainly)."""
    for match in _VAR_USE.finditer(source):
        if match.group(1) == name:
            return match.start()
    return 0


@dataclass
class LoadResult:
    """The flows that loaded, and every error of those that did not."""

    flows: list[Flow] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[SourceError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed to load."""
        return not self.errors

    def report(self) -> str:
        """The errors, one ``file:line:col: message`` per line."""
        return "\n".join(str(error) for error in self.errors)


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


def load_flows(
    paths: Iterable[str | Path], registry: Registry | None = None, limits: Limits = DEFAULT_LIMITS
) -> LoadResult:
    """Load every ``*.yaml``/``*.yml`` file under ``paths`` (folders are searched recursively)."""
    registry = registry or Registry.builtin()
    result = LoadResult()
    parsed: list[_FlowBuilder] = []
    for file in _flow_files(paths, result):
        result.files.append(str(file))
        builder = _FlowBuilder("", str(file), registry, limits)
        try:
            builder.text = read_bytes(file.read_bytes(), file, limits)
        except OSError as exc:
            builder.error(Location(str(file), 1, 1), f"cannot read: {exc.strerror or exc}")
        except SourceError as exc:
            builder.errors.append(exc)
        parsed.append(builder if builder.errors else builder.build())
    _finish(parsed, registry, result)
    return result


def load_text(
    text: str,
    file: str = "<flow>",
    registry: Registry | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> LoadResult:
    """Load one flow from YAML text (``file`` names it in errors)."""
    registry = registry or Registry.builtin()
    result = LoadResult(files=[file])
    _finish([_FlowBuilder(text, file, registry, limits).build()], registry, result)
    return result


def _flow_files(paths: Iterable[str | Path], result: LoadResult) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in (".yaml", ".yml") and p.is_file() and is_flow_file(p, path)
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            result.errors.append(SourceError(Location(str(path), 1, 1), "no such file or folder"))
    return files


def _finish(builders: list[_FlowBuilder], registry: Registry, result: LoadResult) -> None:
    """Checks across files: event names (O2G, plugins, emitted by flows) and unique names."""
    known = set(event_names()) | registry.events | {SCHEDULE_EVENT}
    for builder in builders:
        known.update(builder.emitted)
    names: dict[str, Location] = {}
    for builder in builders:
        for name, location in builder.event_refs:
            if name not in known:
                hint = _did_you_mean(name, sorted(known)) or PLUGIN_HINT
                builder.error(location, f"unknown event {name!r}{hint}")
        flow = builder.flow
        if flow is not None and not builder.errors:
            if flow.name in names:
                builder.error(
                    flow.location, f"flow {flow.name!r} is already defined at {names[flow.name]}"
                )
            else:
                names[flow.name] = flow.location
        builder.errors.sort(
            key=lambda error: (
                error.location.file != builder.file,  # its own, then those of included files
                error.location.file,
                error.location.line,
                error.location.column,
            )
        )
        result.errors.extend(builder.errors)
        if builder.flow is not None and not builder.errors:
            result.flows.append(builder.flow)
    result.warnings = reach_warnings(result.flows)


class _FlowBuilder:
    """Validates one file, collecting every error."""

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
                hint = _did_you_mean(key, allowed)
                self.error(self.at_key(node, key), f"unknown key {key!r} in {where}{hint}")

    def mapping(self, parent: Any, key: Any, where: str) -> YMap | None:
        value = parent[key]
        if isinstance(value, YMap):
            return value
        self.error(self.at(parent, key), f"{where} must be a mapping, not {_kind(value)}")
        return None

    def string(self, parent: Any, key: Any, where: str) -> str | None:
        value = parent[key]
        if isinstance(value, str):
            return value
        self.error(self.at(parent, key), f"{where} must be a string, not {_kind(value)}")
        return None

    # -- parsing ------------------------------------------------------------------------------

    def build(self) -> _FlowBuilder:
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
            self.error(where, f"a flow file holds a mapping (flow: ...), not {_kind(data)}")
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
            self.error(self.at(parent, key), f"expected a JMESPath expression, not {_kind(value)}")
            return None
        source = value.strip()
        if source.startswith("${") and source.endswith("}"):
            source = source[2:-1]  # a condition written as a template is the same expression
            shift = value.index("${") + 2
        else:
            shift = len(value) - len(value.lstrip())
        try:
            expression = Expression(source, self.table, roots)
        except ExpressionError as exc:
            where = self.scalar_position(parent, key, shift + (exc.offset or 0))
            self.error(where, f"bad expression: {exc.message}")
            return None
        self.names.update(expression.names)
        for name in expression.vars_read:
            offset = _find_var(source, name)
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

        compiled = compile_value(_plain(parent[key]), self.table, roots, report)
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
            hint = _did_you_mean(name, known)
            has = f"this flow's variables are {', '.join(known)}" if known else "it has none"
            self.error(
                where,
                f"vars.{name} is not a variable of this flow ({has}; declare it in vars: or "
                f"give it a value with set:){hint}",
            )

    def scalar_position(self, parent: Any, key: Any, offset: int) -> Location:
        """Where character ``offset`` of the scalar ``parent[key]`` is in the file."""
        start = self.at(parent, key)
        line, column = start.line - 1, start.column - 1
        if line >= len(self.lines) or start.file != self.file:
            return start
        text = self.lines[line]
        indicator = text[column] if column < len(text) else ""
        if indicator in "|>":
            rows = self.lines[line + 1 :]
            line += 1
        else:
            if indicator in "\"'":
                column += 1
            rows = [text[column:], *self.lines[line + 1 :]]
            first = True
            for row in rows:
                body = row if first else row.lstrip()
                pad = column if first else len(row) - len(body)
                if offset <= len(body):
                    return Location(self.file, line + 1, pad + offset + 1)
                offset -= len(body) + 1
                line += 1
                first = False
            return start
        for row in rows:
            body = row.lstrip()
            if offset <= len(body):
                return Location(self.file, line + 1, len(row) - len(body) + offset + 1)
            offset -= len(body) + 1
            line += 1
        return start

    # -- the flow -----------------------------------------------------------------------------

    def _flow(self, data: YMap) -> None:
        self.keys(data, FLOW_KEYS, "a flow")
        name = None
        if "flow" not in data:
            self.error(self.at(data), "missing flow: NAME")
        else:
            name = self.string(data, "flow", "flow")
            if name is not None and not _NAME.match(name):
                self.error(
                    self.at(data, "flow"),
                    f"flow name {name!r} may hold letters, digits, '-', '_' and '.'",
                )
        description = ""
        if "description" in data:
            description = self.string(data, "description", "description") or ""
        enabled = True
        if "enabled" in data:
            enabled = data["enabled"]
            if not isinstance(enabled, bool):
                self.error(self.at(data, "enabled"), "enabled must be true or false")
                enabled = True
        users = self._users(data)
        mode, maximum = self._mode(data)
        variables = self._vars(data)
        if "on_error" in data:
            choice = data["on_error"]
            if choice not in ("continue", "stop"):
                self.error(self.at(data, "on_error"), "flow on_error must be continue or stop")
            else:
                self.default_on_error = choice
        key = self.expression(data, "key") if "key" in data else Expression(DEFAULT_KEY, self.table)
        on_reload = "keep"
        if "on_reload" in data:
            if data["on_reload"] in RELOAD_POLICIES:
                on_reload = data["on_reload"]
            else:
                self.error(
                    self.at(data, "on_reload"),
                    f"on_reload must be one of {', '.join(RELOAD_POLICIES)}",
                )
        schedules, fired = self._schedules(data) if "schedule" in data else ([], [])

        is_machine = "start" in data or "states" in data
        is_rule = "on" in data or ("schedule" in data and not is_machine)
        start: list[Handler] = []
        states: dict[str, State] = {}
        if "on" in data and is_machine:
            self.error(
                self.at_key(data, "on"),
                "a flow is either a rule (on/when/do) or a machine (start/states)",
            )
        elif "on" in data:
            start = self._rule(data)
        elif is_rule:
            for key_name in ("when", "do"):
                if key_name in data:
                    self.error(
                        self.at_key(data, key_name),
                        f"{key_name}: at the top needs on:; a schedule entry takes its own "
                        f"{key_name}:",
                    )
        elif is_machine:
            for key_name in ("when", "do"):
                if key_name in data:
                    self.error(
                        self.at_key(data, key_name),
                        f"{key_name}: belongs in start: or a state of a machine",
                    )
            start, states = self._machine(data)
        else:
            self.error(
                self.at(data),
                "a flow needs on: (a rule), start: and states: (a machine) or schedule:",
            )

        self._check_vars(variables)
        tests = self._tests(data) if "tests" in data else []
        self._check_schedules(data, schedules, fired, start, states)
        start = fired + start
        if self.errors or name is None or key is None:
            return
        self.flow = Flow(
            name=name,
            file=self.file,
            location=self.at(data, "flow"),
            key=key,
            start=start,
            states=states,
            description=description,
            mode=mode,
            max=maximum,
            users=users,
            vars=variables,
            tests=tests,
            is_rule=is_rule,
            uses_now="now" in self.names,
            digest=hashlib.sha256(self.text.encode()).hexdigest()[:16],
            enabled=enabled,
            schedules=schedules,
            on_reload=on_reload,
        )

    def _users(self, data: YMap) -> frozenset[str] | None:
        if "users" not in data:
            return None
        value = data["users"]
        if value == "*":
            return None
        if isinstance(value, str):
            return frozenset([value])
        if isinstance(value, YSeq) and value and all(isinstance(v, str) for v in value):
            return frozenset(value)
        self.error(self.at(data, "users"), "users must be '*', a login name or a list of them")
        return None

    def _mode(self, data: YMap) -> tuple[str, int]:
        mode, maximum = "single", 10
        if "mode" in data:
            if data["mode"] in MODES:
                mode = data["mode"]
            else:
                self.error(self.at(data, "mode"), f"mode must be one of {', '.join(MODES)}")
        if "max" in data:
            value = data["max"]
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                maximum = value
            else:
                self.error(self.at(data, "max"), "max must be an integer >= 1")
        return mode, maximum

    def _vars(self, data: YMap) -> dict[str, Any]:
        if "vars" not in data:
            return {}
        node = self.mapping(data, "vars", "vars")
        if node is None:
            return {}
        for name in node:
            if not isinstance(name, str) or not _VAR.match(name):
                self.error(self.at_key(node, name), f"variable name {name!r} is not an identifier")
        if "${" in repr(_plain(node)):
            self.error(
                self.at(data, "vars"), "vars hold plain values; compute values with a set: action"
            )
        return _plain(node)

    def _rule(self, data: YMap) -> list[Handler]:
        events = self.events(data, "on")
        when = self.expression(data, "when") if "when" in data else None
        if "do" not in data:
            self.error(self.at(data), "a rule needs do: (the actions to run)")
            return []
        steps = self.steps(data, "do")
        return [Handler(events, self.at_key(data, "on"), when, steps, END)]

    def _schedules(self, data: YMap) -> tuple[list[Schedule], list[Handler]]:
        """The ``schedule:`` entries, and the start handlers of those with ``do:``."""
        items = _one_or_list(data, "schedule", YMap)
        if not items:
            self.error(self.at(data, "schedule"), "schedule must be a mapping or a list of them")
        schedules: list[Schedule] = []
        handlers: list[Handler] = []
        names: dict[str, Location] = {}
        for position, (parent, index) in enumerate(items, 1):
            found = self._schedule(parent, index, position, names)
            if found is None:
                continue
            schedule, handler = found
            schedules.append(schedule)
            if handler is not None:
                handlers.append(handler)
        return schedules, handlers

    def _schedule(
        self, parent: Any, index: Any, position: int, names: dict[str, Location]
    ) -> tuple[Schedule, Handler | None] | None:
        node = self.mapping(parent, index, "a schedule entry")
        if node is None:
            return None
        where = self.at(parent, index)
        self.keys(node, SCHEDULE_KEYS, "a schedule entry")
        name = f"schedule-{position}"
        if "name" in node:
            given = self.string(node, "name", "schedule name")
            if given is not None and not _NAME.match(given):
                self.error(
                    self.at(node, "name"),
                    f"schedule name {given!r} may hold letters, digits, '-', '_' and '.'",
                )
            elif given is not None:
                name = given
        if name in names:
            self.error(
                self.at(node, "name") if "name" in node else where,
                f"schedule {name!r} is already defined at line {names[name].line}",
            )
        names.setdefault(name, where)
        zone = None
        if "timezone" in node:
            zone = self.string(node, "timezone", "timezone")
            if zone is not None and _zone(zone) is None:
                hint = _did_you_mean(zone, _zone_names())
                self.error(self.at(node, "timezone"), f"unknown time zone {zone!r}{hint}")
                zone = None
        kinds = [kind for kind in SCHEDULE_KINDS if kind in node]
        if len(kinds) != 1:
            self.error(where, "a schedule entry needs exactly one of cron, every, at, start")
            return None
        kind = kinds[0]
        value = self._schedule_value(node, kind, _zone(zone) if zone else None)
        when = self.expression(node, "when") if "when" in node else None
        if when is not None and "do" not in node:
            self.error(
                self.at_key(node, "when"),
                "when: filters the entry's do:, and this entry has none (or handle "
                "OnSchedule in on:/start: and test event.schedule there)",
            )
        if value is None:
            return None
        schedule = Schedule(name, kind, value, where, zone)
        if "do" not in node:
            return schedule, None
        source = f"event.schedule == '{name}'"
        if when is not None:
            source += f" && ({when.source})"
        steps = self.steps(node, "do")
        return schedule, Handler(
            (SCHEDULE_EVENT,), where, Expression(source, self.table), steps, END
        )

    def _schedule_value(self, node: YMap, kind: str, zone: ZoneInfo | None) -> Any:
        """The entry's ``cron`` text, ``every`` seconds, ``at`` ISO text or ``start`` (True)."""
        raw = node[kind]
        where = self.at(node, kind)
        if kind == "start":
            if raw is not True:
                self.error(where, "start: true is the only form (fires when the flow loads)")
                return None
            return True
        if kind == "every":
            return self._every(node)
        if kind == "at":
            text = raw.isoformat() if isinstance(raw, datetime) else raw
            if not isinstance(text, str):
                self.error(where, f"at must be an ISO date and time, not {_kind(raw)}")
                return None
            try:
                local_time(text, zone or ZoneInfo("UTC"))
            except ValueError:
                self.error(where, f"at: {text!r} is not an ISO date and time (2025-12-24T18:00)")
                return None
            return str(text)
        if not isinstance(raw, str):
            self.error(
                where, f"cron must be crontab text like '0 18 * * mon-fri', not {_kind(raw)}"
            )
            return None
        try:
            CronTrigger.from_crontab(raw, timezone=zone or ZoneInfo("UTC"))
        except ValueError as exc:
            self.error(where, f"bad cron expression {raw!r}: {exc}")
            return None
        return str(raw).strip()

    def _every(self, node: YMap) -> float | None:
        raw = node["every"]
        where = self.at(node, "every")
        if isinstance(raw, YMap):
            units = list(raw)
            if len(units) != 1 or units[0] not in ("seconds", "minutes", "hours"):
                self.error(where, "every is a number of seconds or {seconds|minutes|hours: N}")
                return None
            scale = {"seconds": 1, "minutes": 60, "hours": 3600}[units[0]]
            raw, where = raw[units[0]], self.at(raw, units[0])
            if not isinstance(raw, int | float) or isinstance(raw, bool):
                self.error(where, f"{units[0]} must be a number, not {_kind(raw)}")
                return None
        else:
            scale = 1
        try:
            seconds = parse_duration(raw) * scale
        except ValueError as exc:
            self.error(where, str(exc))
            return None
        if seconds <= 0:
            self.error(where, "every must be more than 0 seconds")
            return None
        return seconds

    def _check_schedules(
        self,
        data: YMap,
        schedules: list[Schedule],
        fired: list[Handler],
        start: list[Handler],
        states: dict[str, State],
    ) -> None:
        """``OnSchedule`` only with a ``schedule:``, and every entry's firings handled."""
        if "schedule" not in data:
            for name, where in self.event_refs:
                if name == SCHEDULE_EVENT:
                    self.error(where, f"{SCHEDULE_EVENT} comes from schedule:; this flow has none")
            return
        handled = any(SCHEDULE_EVENT in handler.events for handler in start) or any(
            SCHEDULE_EVENT in state.on for state in states.values()
        )
        if handled:
            return
        with_do = {handler.location for handler in fired}
        for schedule in schedules:
            if schedule.location not in with_do:
                self.error(
                    schedule.location,
                    f"nothing handles the firings of schedule {schedule.name!r}: give it do:, "
                    f"or handle {SCHEDULE_EVENT} in on:, start: or a state",
                )

    def _machine(self, data: YMap) -> tuple[list[Handler], dict[str, State]]:
        start: list[Handler] = []
        if "start" not in data:
            self.error(self.at(data), "a machine needs start: (on, when, goto)")
        else:
            items = _one_or_list(data, "start", YMap)
            if not items:
                self.error(self.at(data, "start"), "start must be a mapping or a list of them")
            for parent, key in items:
                handler = self._start(parent, key)
                if handler is not None:
                    start.append(handler)
        states: dict[str, State] = {}
        if "states" not in data:
            self.error(self.at(data), "a machine needs states:")
        else:
            node = self.mapping(data, "states", "states")
            if node is not None:
                if not node:
                    self.error(self.at(data, "states"), "states is empty")
                for name in node:
                    state = self._state(node, name)
                    if state is not None:
                        states[name] = state
        self._check_graph(start, states)
        return start, states

    def _start(self, parent: Any, key: Any) -> Handler | None:
        node = self.mapping(parent, key, "start")
        if node is None:
            return None
        self.keys(node, START_KEYS, "start")
        if "on" not in node:
            self.error(self.at(node), "start needs on: (the event that starts an execution)")
            return None
        events = self.events(node, "on")
        when = self.expression(node, "when") if "when" in node else None
        steps = self.steps(node, "do") if "do" in node else []
        goto = self.goto(node)
        if goto is None and "goto" not in node:
            self.error(self.at(node), "start needs goto: (the first state)")
        return Handler(events, self.at_key(node, "on"), when, steps, goto)

    def _state(self, states: YMap, name: Any) -> State | None:
        where = self.at_key(states, name)
        if not isinstance(name, str) or not _STATE.match(name):
            self.error(where, f"state name {name!r} must be an identifier")
            return None
        if name == END:
            self.error(where, "'end' is the built-in final state; it cannot be defined")
            return None
        node = states[name]
        if node is None:
            node = YMap()
        elif not isinstance(node, YMap):
            self.error(self.at(states, name), f"state {name!r} must be a mapping")
            return None
        self.keys(node, STATE_KEYS, f"state {name!r}")
        state = State(name, where)
        if "enter" in node:
            state.enter = self.steps(node, "enter")
        if "exit" in node:
            state.exit = self.steps(node, "exit")
        if "on" in node:
            state.on = self._handlers(node, name)
        if "after" in node:
            state.after = self._timers(node)
        if "goto" in node:
            state.goto = self.goto(node)
            if state.on or state.after:
                self.error(
                    self.at_key(node, "goto"),
                    f"state {name!r} leaves at once with goto:, so its on:/after: never apply",
                )
        elif not state.on and not state.after:
            self.error(where, f"state {name!r} has no way out (add on:, after: or goto:)")
        return state

    def _handlers(self, node: YMap, state: str) -> dict[str, list[Handler]]:
        table = self.mapping(node, "on", f"on: of state {state!r}")
        if table is None:
            return {}
        handlers: dict[str, list[Handler]] = {}
        for event in table:
            where = self.at_key(table, event)
            if not isinstance(event, str) or not _EVENT.match(event):
                self.error(where, f"{event!r} is not an event name")
                continue
            self.event_refs.append((event, where))
            value = table[event]
            if value is None:
                handlers[event] = [Handler((event,), where)]
                continue
            found = []
            for parent, key in _one_or_list(table, event, object):  # mapping() checks each
                handler_node = self.mapping(parent, key, f"the {event} handler")
                if handler_node is None:
                    continue
                self.keys(handler_node, HANDLER_KEYS, f"the {event} handler")
                when = self.expression(handler_node, "when") if "when" in handler_node else None
                steps = self.steps(handler_node, "do") if "do" in handler_node else []
                goto = self.goto(handler_node)
                found.append(Handler((event,), self.at(parent, key), when, steps, goto))
            handlers[event] = found
        return handlers

    def _timers(self, node: YMap) -> list[Timer]:
        items = _one_or_list(node, "after", YMap)
        if not items:
            self.error(self.at(node, "after"), "after must be a mapping (seconds, goto, do)")
        timers = []
        for parent, key in items:
            timer = self.mapping(parent, key, "after")
            if timer is None:
                continue
            self.keys(timer, TIMER_KEYS, "after")
            units = [unit for unit in ("seconds", "minutes", "hours") if unit in timer]
            if len(units) != 1:
                self.error(self.at(timer), "after needs exactly one of seconds, minutes, hours")
                continue
            unit = units[0]
            scale = {"seconds": 1, "minutes": 60, "hours": 3600}[unit]
            raw = timer[unit]
            delay: Any
            if isinstance(raw, str):
                delay = self.value(timer, unit)
                if not isinstance(delay, Dynamic):
                    self.error(self.at(timer, unit), f"{unit} must be a number or a template")
                    continue
                delay = _Scaled(delay, scale)
            elif isinstance(raw, int | float) and not isinstance(raw, bool) and raw >= 0:
                delay = float(raw) * scale
            else:
                self.error(self.at(timer, unit), f"{unit} must be a number >= 0 or a template")
                continue
            steps = self.steps(timer, "do") if "do" in timer else []
            goto = self.goto(timer)
            if goto is None and not steps:
                self.error(self.at(timer), "after needs goto: or do:")
            entry = Timer(delay, self.at(parent, key), goto, steps)
            if "on_missed" in timer:
                self._on_missed(timer, entry)
            timers.append(entry)
        return timers

    def _on_missed(self, node: YMap, timer: Timer) -> None:
        """``on_missed: end | fire | {goto: STATE}``: a timer due too long ago at restart."""
        value = node["on_missed"]
        if value in ("end", "fire"):
            timer.on_missed = value
        elif isinstance(value, YMap) and list(value) == ["goto"]:
            target = self.goto(value)
            if target is not None:
                timer.on_missed, timer.missed_goto = "goto", target
        else:
            self.error(self.at(node, "on_missed"), "on_missed must be end, fire or {goto: STATE}")

    def goto(self, node: YMap) -> str | None:
        """``node``'s ``goto:`` target (checked once every state is known), or None."""
        if "goto" not in node:
            return None
        target = node["goto"]
        if not isinstance(target, str):
            self.error(self.at(node, "goto"), f"goto must name a state, not {_kind(target)}")
            return None
        self.gotos.append((target, self.at(node, "goto")))
        return target

    def _check_graph(self, start: list[Handler], states: dict[str, State]) -> None:
        for target, where in self.gotos:
            if target != END and target not in states:
                hint = _did_you_mean(target, [*states, END])
                self.error(where, f"goto: unknown state {target!r}{hint}")
        reached: set[str] = set()
        pending = [h.goto for h in start if h.goto]
        pending.extend(s.error_goto for h in start for s in h.do if s.error_goto)
        while pending:
            name = pending.pop()
            if name in reached or name not in states:
                continue
            reached.add(name)
            state = states[name]
            pending.extend(_targets(state))
        for name, state in states.items():
            if name not in reached:
                self.error(state.location, f"state {name!r} is never entered")

    def events(self, node: YMap, key: str) -> tuple[str, ...]:
        items = _one_or_list(node, key, str)
        if not items:
            self.error(self.at(node, key), "on: must be an event name or a list of them")
        names = []
        for parent, index in items:
            name = parent[index]
            where = self.at(parent, index)
            if not isinstance(name, str) or not _EVENT.match(name):
                self.error(where, f"{name!r} is not an event name")
                continue
            self.event_refs.append((name, where))
            names.append(name)
        return tuple(names)

    # -- actions ------------------------------------------------------------------------------

    def steps(self, node: Any, key: Any) -> list[Step]:
        value = node[key]
        if isinstance(value, YMap | str):
            return [step for step in [self._step(node, key)] if step]
        if not isinstance(value, YSeq):
            self.error(self.at(node, key), "expected a list of actions")
            return []
        return [step for step in (self._step(value, i) for i in range(len(value))) if step]

    def _step(self, parent: Any, index: Any) -> Step | None:
        item = parent[index]
        where = self.at(parent, index)
        if isinstance(item, str):
            spec = self._action(item, where)
            if spec is None:
                return None
            return self._args(
                spec,
                YMap(),
                None,
                where,
                Step(spec, {}, where, on_error=self.default_on_error),
            )
        if not isinstance(item, YMap):
            self.error(where, f"an action is a mapping like answer: {{...}}, not {_kind(item)}")
            return None
        names = [name for name in item if name not in STEP_KEYS]
        if len(names) != 1:
            message = (
                "an action item names one action"
                if names
                else "no action in this item (only guard/on_error/as)"
            )
            self.error(where, message + (f": {', '.join(map(str, names))}" if names else ""))
            return None
        name = names[0]
        spec = self._action(name, self.at_key(item, name))
        if spec is None:
            return None
        step = Step(spec, {}, self.at_key(item, name), on_error=self.default_on_error)
        if spec.name == FOR_EACH:
            step = self._for_each(item, name, step)
            if step is None:
                return None
        if "guard" in item:
            step.guard = self.expression(item, "guard", GUARD_NAMES)
        if "on_error" in item:
            self._on_error(item, step)
        if "retry" in item:
            step.retry = self._retry(item)
        if "as" in item:
            var = item["as"]
            if isinstance(var, str) and _VAR.match(var):
                step.result_var = var
                self.assigned.add(var)
            else:
                self.error(self.at(item, "as"), "as: must be a variable name")
        if spec.name == FOR_EACH:
            return step
        return self._args(spec, item, name, step.location, step)

    def _retry(self, item: YMap) -> Retry | None:
        """``retry: {attempts: N, delay: 10s, on: [text...]}`` (``retry: N``: N attempts)."""
        node = item["retry"]
        if isinstance(node, int) and not isinstance(node, bool):
            node = YMap()
            node["attempts"] = item["retry"]
        if not isinstance(node, YMap):
            self.error(self.at(item, "retry"), "retry is {attempts: N, delay: 10s, on: [...]}")
            return None
        self.keys(node, RETRY_KEYS, "retry")
        attempts = node.get("attempts", 3)
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            attempts = 0
        if not 2 <= attempts <= MAX_ATTEMPTS:
            where = self.at(node, "attempts") if "attempts" in node else self.at(item, "retry")
            self.error(where, f"retry attempts is a whole number from 2 to {MAX_ATTEMPTS}")
            return None
        delay = self._duration(node, "delay") if "delay" in node else 5.0
        on = node.get("on", [])
        on = [on] if isinstance(on, str) else on
        if not isinstance(on, list) or not all(isinstance(text, str) for text in on):
            self.error(self.at(node, "on"), "retry on: is error text or a list of them")
            return None
        return None if delay is None else Retry(attempts, delay, tuple(on))

    def _for_each(self, item: YMap, name: str, step: Step) -> Step | None:
        """``for_each: {items: LIST, as: NAME, do: [actions]}``: ``do`` for each item."""
        node = self.mapping(item, name, "for_each")
        if node is None:
            return None
        self.keys(node, ("items", "as", "do"), "for_each")
        if "items" not in node or "do" not in node:
            self.error(step.location, "for_each needs items: (a list) and do: (the actions)")
            return None
        alias = node.get("as", "item")
        if not isinstance(alias, str) or not _VAR.match(alias) or alias in CONTEXT_NAMES:
            taken = ", ".join(sorted(CONTEXT_NAMES))
            self.error(
                self.at(node, "as"),
                f"for_each as: names the item (an identifier other than {taken})",
            )
            return None
        items = self.value(node, "items")
        outer = self.item_names
        self.item_names = outer | {alias}
        try:
            steps = self.steps(node, "do")
        finally:
            self.item_names = outer
        for inner in steps:
            if inner.on_error == "goto":
                self.error(inner.location, "on_error: goto is not allowed inside for_each")
        step.args = {"items": items, "as": alias, "do": steps}
        return step

    def _action(self, name: Any, where: Location) -> ActionSpec | None:
        spec = self.registry.actions.get(name) if isinstance(name, str) else None
        if spec is None:
            hint = _did_you_mean(name, sorted(self.registry.actions)) or PLUGIN_HINT
            self.error(where, f"unknown action {name!r}{hint}")
        return spec

    def _on_error(self, item: YMap, step: Step) -> None:
        value = item["on_error"]
        if value in ("continue", "stop"):
            step.on_error = value
            return
        target = None
        if isinstance(value, str) and value.startswith("goto "):
            target = value[5:].strip()
        elif isinstance(value, YMap) and list(value) == ["goto"]:
            target = value["goto"] if isinstance(value["goto"], str) else None
        if not target:
            self.error(self.at(item, "on_error"), "on_error must be continue, stop or goto STATE")
            return
        step.on_error = "goto"
        step.error_goto = target
        self.gotos.append((target, self.at(item, "on_error")))

    def _args(
        self, spec: ActionSpec, item: YMap, name: Any, where: Location, step: Step
    ) -> Step | None:
        raw = item[name] if name is not None else None
        container: Any = item
        if raw is None:
            args_node: YMap = YMap()
        elif isinstance(raw, YMap):
            args_node = raw
        elif spec.shorthand is not None:
            args_node = YMap()
            args_node[spec.shorthand] = raw
            step.args[spec.shorthand] = self.value(item, name)
            container = None
        else:
            self.error(
                self.at(item, name), f"{spec.name} takes a mapping of arguments, not {_kind(raw)}"
            )
            return None
        errors_before = len(self.errors)
        if spec.free_form:
            for var in args_node:
                if not isinstance(var, str) or not _VAR.match(var):
                    self.error(
                        self.at_key(args_node, var), f"variable name {var!r} is not an identifier"
                    )
                else:
                    step.args[var] = self.value(args_node, var)
                    self.assigned.add(var)
            return step if len(self.errors) == errors_before else None
        for arg in args_node:
            param = spec.param(arg)
            if param is None:
                names = [p.name for p in spec.params]
                hint = _did_you_mean(arg, names)
                self.error(
                    self.at_key(args_node, arg) if container is not None else where,
                    f"{spec.name} has no argument {arg!r}{hint}; it takes "
                    f"{', '.join(names) or 'none'}",
                )
                continue
            if container is not None:
                step.args[arg] = self.value(args_node, arg)
            value = step.args[arg]
            if not isinstance(value, Dynamic):
                ok, value = check_type(param, value)
                if not ok:
                    self.error(
                        self.at(args_node, arg) if container is not None else where,
                        f"{spec.name}: {arg} must be {describe_type(param)}",
                    )
                step.args[arg] = value
        for param in spec.params:
            if param.name in step.args:
                continue
            if param.default is not None:
                try:
                    step.args[param.name] = _default(param.default, self.table)
                except ExpressionError as exc:  # the action's (plugin's) fault, not the flow's
                    self.error(
                        where,
                        f"{spec.name}: the default of {param.name} ({param.default!r}) is not a "
                        f"valid template: {exc}",
                    )
            elif param.required:
                about = f" ({param.doc})" if param.doc else ""
                self.error(where, f"{spec.name} is missing its {param.name}: argument{about}")
        step.args = {p.name: step.args[p.name] for p in spec.params if p.name in step.args}
        if spec.name == "emit" and isinstance(step.args.get("event"), str):
            self.emitted.add(step.args["event"])
        if spec.name == "call" and isinstance(step.args.get("method"), str):
            given = step.args.get("args")
            items = given.items if isinstance(given, Dynamic) and hasattr(given, "items") else given
            names = list(items) if isinstance(items, dict) else [] if given is None else None
            for problem in check_call(step.args["method"], names):
                self.error(
                    self.at(args_node, "method") if container is not None else where, problem
                )
        return step if len(self.errors) == errors_before else None

    # -- tests --------------------------------------------------------------------------------

    def _tests(self, data: YMap) -> list[TestCase]:
        value = data["tests"]
        if value is None:
            return []
        if not isinstance(value, YSeq):
            self.error(self.at(data, "tests"), "tests must be a list")
            return []
        return [case for case in (self._test(value, i) for i in range(len(value))) if case]

    def _test(self, tests: YSeq, index: int) -> TestCase | None:
        node = self.mapping(tests, index, "a test")
        if node is None:
            return None
        self.keys(node, TEST_KEYS, "a test")
        name = self.string(node, "name", "test name") if "name" in node else None
        if name is None:
            self.error(self.at(node), "a test needs name:")
            name = f"test {index + 1}"
        case = TestCase(name, self.at(tests, index))
        if "start" in node:
            case.start = str(node["start"])
        if "vars" in node:
            variables = self.mapping(node, "vars", "test vars")
            case.vars = _plain(variables) if variables is not None else {}
        if "fail" in node:
            failures = self.mapping(node, "fail", "fail")
            if failures is not None:
                case.failures = [{"match": str(k), "error": str(v)} for k, v in failures.items()]
        if "until" in node:
            case.until = self._duration(node, "until")
        if "events" in node:
            events = node["events"]
            if isinstance(events, YSeq):
                case.events = [
                    e for e in (self._test_event(events, i) for i in range(len(events))) if e
                ]
            else:
                self.error(self.at(node, "events"), "events must be a list")
        if "expect" in node:
            expect = node["expect"]
            if isinstance(expect, YSeq):
                case.expect = [
                    e for e in (self._expect(expect, i) for i in range(len(expect))) if e
                ]
            else:
                self.error(self.at(node, "expect"), "expect must be a list of actions")
        if "absent" in node:
            absent = node["absent"]
            names = [absent] if isinstance(absent, str) else absent
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                for action in names:
                    self._action(action, self.at(node, "absent"))
                case.absent = list(names)
            else:
                self.error(self.at(node, "absent"), "absent must be action names")
        if "state" in node:
            state = node["state"]
            if isinstance(state, str):
                case.state = state
            elif isinstance(state, YMap) and all(isinstance(v, str) for v in state.values()):
                case.state = {str(k): v for k, v in state.items()}
            else:
                self.error(
                    self.at(node, "state"), "state must be a state name or a mapping key -> state"
                )
        return case

    def _duration(self, node: YMap, key: str) -> float | None:
        try:
            return parse_duration(node[key])
        except ValueError as exc:
            self.error(self.at(node, key), str(exc))
            return None

    def _test_event(self, events: YSeq, index: int) -> TestEvent | None:
        node = self.mapping(events, index, "a test event")
        if node is None:
            return None
        at = self._duration(node, "at") if "at" in node else 0.0
        names = [k for k in node if k != "at"]
        if len(names) != 1:
            self.error(self.at(events, index), "a test event is {at: TIME, EventName: {fields...}}")
            return None
        name = names[0]
        where = self.at_key(node, name)
        if not isinstance(name, str) or not _EVENT.match(name):
            self.error(where, f"{name!r} is not an event name")
            return None
        self.event_refs.append((name, where))
        payload = node[name]
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            self.error(self.at(node, name), "event fields must be a mapping")
            return None
        event = {"eventName": name, **_plain(payload)}
        return TestEvent(at or 0.0, event, where)

    def _expect(self, expect: YSeq, index: int) -> Expect | None:
        node = self.mapping(expect, index, "an expected action")
        if node is None:
            return None
        at = self._duration(node, "at") if "at" in node else None
        names = [k for k in node if k != "at"]
        if len(names) != 1:
            self.error(self.at(expect, index), "an expected action is {ACTION: {args}, at: TIME}")
            return None
        name = names[0]
        if self._action(name, self.at_key(node, name)) is None:
            return None
        args = node[name]
        if args is None:
            args = {}
        if not isinstance(args, dict):
            self.error(self.at(node, name), "expected arguments must be a mapping")
            return None
        return Expect(name, _plain(args), self.at_key(node, name), at)


class _Scaled(Dynamic):
    """A delay template in minutes or hours, rendered to seconds."""

    __slots__ = ("scale", "value")

    def __init__(self, value: Dynamic, scale: float) -> None:
        self.value = value
        self.scale = scale

    def render(self, context: Any) -> Any:
        return parse_duration(self.value.render(context)) * self.scale

    def expressions(self) -> Any:
        return self.value.expressions()


#: Compiled default templates, per function table (an id could be reused by a later table).
_DEFAULTS: weakref.WeakKeyDictionary[FunctionTable, dict[str, Any]] = weakref.WeakKeyDictionary()


def _default(value: Any, table: FunctionTable) -> Any:
    """A parameter's default, its template compiled once per function table."""
    if not isinstance(value, str):
        return value
    compiled = _DEFAULTS.setdefault(table, {})
    if value not in compiled:
        compiled[value] = compile_text(value, table)
    return compiled[value]


def _targets(state: State) -> list[str]:
    """The states ``state`` may lead to (gotos, and the actions' ``on_error: goto``)."""
    found = [state.goto] if state.goto else []
    for handlers in state.on.values():
        found.extend(h.goto for h in handlers if h.goto)
    found.extend(t.goto for t in state.after if t.goto)
    found.extend(t.missed_goto for t in state.after if t.missed_goto)
    found.extend(step.error_goto for step in state.steps() if step.error_goto)
    return found


def _plain(value: Any) -> Any:
    """ruamel containers as plain dicts and lists (scalars as plain str/int...)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _one_or_list(node: Any, key: Any, single: type) -> list[tuple[Any, Any]]:
    """``(parent, key)`` of each item ``node[key]`` holds: each element of a list, the value
    itself if it is a ``single``, nothing otherwise."""
    value = node[key]
    if isinstance(value, YSeq):
        return [(value, i) for i in range(len(value))]
    if isinstance(value, single):
        return [(node, key)]
    return []


def _zone(name: str) -> ZoneInfo | None:
    """The IANA time zone ``name``, or None when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.cache
def _zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _did_you_mean(word: Any, options: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the option closest to ``word``, or nothing."""
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _kind(value: Any) -> str:
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

"""The flow and state grammar: flow keys, rules, machines, states, timers, schedules."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..._yaml import (
    Location,
    YMap,
    YSeq,
)
from ..expressions import (
    Dynamic,
    Expression,
)
from ..model import (
    END,
    MODES,
    RELOAD_POLICIES,
    SCHEDULE_EVENT,
    Flow,
    Handler,
    Schedule,
    State,
    Timer,
)
from .common import (
    _EVENT,
    _NAME,
    _STATE,
    _VAR,
    DEFAULT_KEY,
    FLOW_KEYS,
    HANDLER_KEYS,
    SCHEDULE_KEYS,
    SCHEDULE_KINDS,
    START_KEYS,
    STATE_KEYS,
    TIMER_KEYS,
    Builder,
    did_you_mean,
    kind_of,
    one_or_list,
    parse_duration,
    plain,
    zone_named,
    zone_names,
)
from .scaling import Scaled


class FlowGrammar(Builder):
    """The flow file's top level, its machine and its schedules."""

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
        if "${" in repr(plain(node)):
            self.error(
                self.at(data, "vars"), "vars hold plain values; compute values with a set: action"
            )
        return plain(node)

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
        items = one_or_list(data, "schedule", YMap)
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
            if zone is not None and zone_named(zone) is None:
                hint = did_you_mean(zone, zone_names())
                self.error(self.at(node, "timezone"), f"unknown time zone {zone!r}{hint}")
                zone = None
        kinds = [kind for kind in SCHEDULE_KINDS if kind in node]
        if len(kinds) != 1:
            self.error(where, "a schedule entry needs exactly one of cron, every, at, start")
            return None
        kind = kinds[0]
        value = self._schedule_value(node, kind, zone_named(zone) if zone else None)
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
                self.error(where, f"at must be an ISO date and time, not {kind_of(raw)}")
                return None
            from ..schedules import local_time  # apscheduler: only for flows with schedules

            try:
                local_time(text, zone or ZoneInfo("UTC"))
            except ValueError:
                self.error(where, f"at: {text!r} is not an ISO date and time (2025-12-24T18:00)")
                return None
            return str(text)
        if not isinstance(raw, str):
            self.error(
                where, f"cron must be crontab text like '0 18 * * mon-fri', not {kind_of(raw)}"
            )
            return None
        from apscheduler.triggers.cron import CronTrigger  # only for flows with a cron

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
                self.error(where, f"{units[0]} must be a number, not {kind_of(raw)}")
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
            items = one_or_list(data, "start", YMap)
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
            for parent, key in one_or_list(table, event, object):  # mapping() checks each
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
        items = one_or_list(node, "after", YMap)
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
                delay = Scaled(delay, scale)
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
            self.error(self.at(node, "goto"), f"goto must name a state, not {kind_of(target)}")
            return None
        self.gotos.append((target, self.at(node, "goto")))
        return target

    def _check_graph(self, start: list[Handler], states: dict[str, State]) -> None:
        for target, where in self.gotos:
            if target != END and target not in states:
                hint = did_you_mean(target, [*states, END])
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
            pending.extend(targets_of(state))
        for name, state in states.items():
            if name not in reached:
                self.error(state.location, f"state {name!r} is never entered")

    def events(self, node: YMap, key: str) -> tuple[str, ...]:
        items = one_or_list(node, key, str)
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


def targets_of(state: State) -> list[str]:
    """The states ``state`` may lead to (gotos, and the actions' ``on_error: goto``)."""
    found = [state.goto] if state.goto else []
    for handlers in state.on.values():
        found.extend(h.goto for h in handlers if h.goto)
    found.extend(t.goto for t in state.after if t.goto)
    found.extend(t.missed_goto for t in state.after if t.missed_goto)
    found.extend(step.error_goto for step in state.steps() if step.error_goto)
    return found

"""The ``tests:`` grammar: test cases, their events and expected actions."""

from __future__ import annotations

from ..._yaml import (
    YMap,
    YSeq,
)
from ..model import (
    Expect,
    TestCase,
    TestEvent,
)
from .common import (
    _EVENT,
    TEST_KEYS,
    Builder,
    plain,
)


class TestGrammar(Builder):
    """A flow's ``tests:``."""

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
            case.vars = plain(variables) if variables is not None else {}
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
        event = {"eventName": name, **plain(payload)}
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
        return Expect(name, plain(args), self.at_key(node, name), at)

"""The JSON Schema of the flow language, for editors (``docs/flow.schema.json``).

Built from the same tables the loader checks against (keys, modes, actions and their
parameters), so it cannot drift; ``python -m o2g_flows.engine.schema`` prints it.
The loader stays the authority: it also checks what a schema cannot (event names,
JMESPath, state graphs).
"""

from __future__ import annotations

import json
from typing import Any

from ..spec import event_names
from .actions import FOR_EACH, ActionSpec, Param
from .loader import (
    FLOW_KEYS,
    HANDLER_KEYS,
    SCHEDULE_KEYS,
    START_KEYS,
    STATE_KEYS,
    STEP_KEYS,
    TEST_KEYS,
    TIMER_KEYS,
)
from .model import MODES, RELOAD_POLICIES, SCHEDULE_EVENT
from .registry import Registry

__all__ = ["flow_schema"]

_TEMPLATE = {
    "type": "string",
    "pattern": r"^\s*\$\{.*\}\s*$",
    "description": "a ${...} template giving the value",
}
_JSON_TYPES = {
    "string": {"type": "string"},
    "phone": {"type": ["string", "integer"]},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "array": {"type": "array"},
    "any": {},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _param(param: Param) -> dict[str, Any]:
    base: dict[str, Any] = dict(_JSON_TYPES[param.type])
    if param.choices:
        base = {"enum": list(param.choices)}
    if param.type not in ("string", "phone", "any") or param.choices:
        base = {"anyOf": [base, _TEMPLATE]}
    if param.doc:
        base["description"] = param.doc
    if param.default is not None:
        base["default"] = param.default
    return base


def _action(spec: ActionSpec) -> dict[str, Any]:
    if spec.free_form:
        args: dict[str, Any] = {"type": "object", "propertyNames": {"pattern": r"^[A-Za-z_]\w*$"}}
    else:
        args = {
            "type": ["object", "null"],
            "properties": {param.name: _param(param) for param in spec.params},
            "additionalProperties": False,
        }
        if spec.name == FOR_EACH:
            args["properties"]["do"] = _ref("actions")
        required = [p.name for p in spec.params if p.required and p.default is None]
        if required:
            args["required"] = required
            args["type"] = "object"
    if spec.shorthand:
        args = {"anyOf": [args, {"type": ["string", "number", "boolean"]}]}
    properties = {spec.name: {**args, "description": spec.doc}}
    properties.update({key: _ref(f"step_{key}") for key in STEP_KEYS})
    return {
        "type": "object",
        "required": [spec.name],
        "properties": properties,
        "additionalProperties": False,
    }


def flow_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The schema of a flow file, with the actions of ``registry`` (built-ins by default)."""
    registry = registry or Registry.builtin()
    actions = sorted(registry.actions.values(), key=lambda spec: spec.name)
    bare = [
        spec.name
        for spec in actions
        if not any(p.required and p.default is None for p in spec.params)
    ]
    events = sorted(event_names() | registry.events | {SCHEDULE_EVENT})
    duration = {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": r"^(\d+(\.\d+)?\s*(ms|s|m|h)\s*)+$"},
        ]
    }
    delay = {"anyOf": [{"type": "number", "minimum": 0}, _TEMPLATE]}
    # a test's events and expected actions: {at: TIME, NAME: {...}}
    timed_items = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"at": duration},
            "minProperties": 1,
            "maxProperties": 2,
        },
    }
    defs: dict[str, Any] = {
        "expression": {
            "type": "string",
            "minLength": 1,
            "description": "JMESPath over {event, key, state, vars, now}",
        },
        "event": {"anyOf": [{"enum": events}, {"type": "string", "pattern": r"^[A-Za-z_]\w*$"}]},
        "events": {
            "anyOf": [_ref("event"), {"type": "array", "items": _ref("event"), "minItems": 1}]
        },
        "state_name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_-]*$"},
        "step_guard": {
            "type": "string",
            "minLength": 1,
            "description": "JMESPath re-checked just before the action; it also "
            "sees call and agent, fetched fresh from O2G",
        },
        "step_on_error": {
            "anyOf": [
                {"enum": ["continue", "stop"]},
                {"type": "string", "pattern": r"^goto \S+$"},
                {
                    "type": "object",
                    "properties": {"goto": _ref("state_name")},
                    "required": ["goto"],
                    "additionalProperties": False,
                },
            ]
        },
        "step_as": {
            "type": "string",
            "pattern": r"^[A-Za-z_]\w*$",
            "description": "keep the action's result in vars.NAME",
        },
        "step_retry": {
            "anyOf": [
                {"type": "integer", "minimum": 2, "maximum": 10},
                {
                    "type": "object",
                    "properties": {
                        "attempts": {"type": "integer", "minimum": 2, "maximum": 10},
                        "delay": duration,
                        "on": {
                            "anyOf": [
                                {"type": "string"},
                                {"type": "array", "items": {"type": "string"}},
                            ]
                        },
                    },
                    "additionalProperties": False,
                },
            ],
            "description": "try a failed action again: attempts in all, the delay between "
            "two, and the errors (text) worth it",
        },
        "action": {"anyOf": [{"enum": bare}, *(_action(spec) for spec in actions)]},
        "actions": {"anyOf": [{"type": "array", "items": _ref("action")}, _ref("action")]},
        "start": {
            "type": "object",
            "properties": {
                "on": _ref("events"),
                "when": _ref("expression"),
                "do": _ref("actions"),
                "goto": _ref("state_name"),
            },
            "required": ["on", "goto"],
            "additionalProperties": False,
        },
        "handler": {
            "type": ["object", "null"],
            "properties": {
                "when": _ref("expression"),
                "do": _ref("actions"),
                "goto": _ref("state_name"),
            },
            "additionalProperties": False,
        },
        "timer": {
            "type": "object",
            "properties": {
                "seconds": delay,
                "minutes": delay,
                "hours": delay,
                "do": _ref("actions"),
                "goto": _ref("state_name"),
                "on_missed": {
                    "anyOf": [
                        {"enum": ["end", "fire"]},
                        {
                            "type": "object",
                            "properties": {"goto": _ref("state_name")},
                            "required": ["goto"],
                            "additionalProperties": False,
                        },
                    ],
                    "description": "a timer due too long ago at restart: end, fire or goto",
                },
            },
            "oneOf": [
                {"required": ["seconds"]},
                {"required": ["minutes"]},
                {"required": ["hours"]},
            ],
            "additionalProperties": False,
        },
        "schedule": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
                "cron": {
                    "type": "string",
                    "description": "crontab text: minute hour day month weekday",
                },
                "every": {
                    "anyOf": [
                        {"type": "number", "exclusiveMinimum": 0},
                        {
                            "type": "object",
                            "properties": {
                                unit: {"type": "number", "exclusiveMinimum": 0}
                                for unit in ("seconds", "minutes", "hours")
                            },
                            "minProperties": 1,
                            "maxProperties": 1,
                            "additionalProperties": False,
                        },
                    ]
                },
                "at": {"type": "string", "description": "ISO date-time (naive: in timezone)"},
                "start": {"const": True, "description": "fires when the flow loads"},
                "timezone": {"type": "string", "description": "IANA time zone name"},
                "when": _ref("expression"),
                "do": _ref("actions"),
            },
            "oneOf": [
                {"required": ["cron"]},
                {"required": ["every"]},
                {"required": ["at"]},
                {"required": ["start"]},
            ],
            "additionalProperties": False,
        },
        "state": {
            "type": ["object", "null"],
            "properties": {
                "enter": _ref("actions"),
                "exit": _ref("actions"),
                "on": {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [_ref("handler"), {"type": "array", "items": _ref("handler")}]
                    },
                },
                "after": {"anyOf": [_ref("timer"), {"type": "array", "items": _ref("timer")}]},
                "goto": _ref("state_name"),
            },
            "additionalProperties": False,
        },
        "test": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "start": {"type": "string", "description": "ISO date-time of the virtual clock"},
                "vars": {"type": "object"},
                "fail": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "action or client method -> error message",
                },
                "events": timed_items,
                "expect": timed_items,
                "absent": {
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
                },
                "state": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "object", "additionalProperties": {"type": "string"}},
                    ]
                },
                "until": duration,
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    }
    properties: dict[str, Any] = {
        "flow": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
        "description": {"type": "string"},
        "enabled": {"type": "boolean"},
        "users": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
            "description": "login names whose events the flow receives, or '*'",
        },
        "key": _ref("expression"),
        "mode": {"enum": list(MODES)},
        "max": {"type": "integer", "minimum": 1},
        "vars": {"type": "object", "propertyNames": {"pattern": r"^[A-Za-z_]\w*$"}},
        "on_error": {"enum": ["continue", "stop"]},
        "on_reload": {
            "enum": list(RELOAD_POLICIES),
            "description": "what running executions do when the flow is reloaded",
        },
        "schedule": {
            "anyOf": [_ref("schedule"), {"type": "array", "items": _ref("schedule")}],
            "description": "when the flow receives OnSchedule",
        },
        "on": _ref("events"),
        "when": _ref("expression"),
        "do": _ref("actions"),
        "start": {"anyOf": [_ref("start"), {"type": "array", "items": _ref("start")}]},
        "states": {
            "type": "object",
            "propertyNames": {"not": {"const": "end"}},
            "additionalProperties": _ref("state"),
            "minProperties": 1,
        },
        "tests": {"type": ["array", "null"], "items": _ref("test")},
    }
    _same(properties, FLOW_KEYS)
    _same(defs["start"]["properties"], START_KEYS)
    _same(defs["handler"]["properties"], HANDLER_KEYS)
    _same(defs["state"]["properties"], STATE_KEYS)
    _same(defs["timer"]["properties"], TIMER_KEYS)
    _same(defs["schedule"]["properties"], SCHEDULE_KEYS)
    _same(defs["test"]["properties"], TEST_KEYS)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "o2g-flows flow",
        "description": "A flow file: a rule (on/when/do), a machine (key/start/states) "
        "or schedule entries with do:. See docs/flows.md.",
        "type": "object",
        "required": ["flow"],
        "properties": properties,
        "additionalProperties": False,
        "oneOf": [
            {
                "required": ["on", "do"],
                "not": {"anyOf": [{"required": ["start"]}, {"required": ["states"]}]},
            },
            {
                "required": ["start", "states"],
                "not": {"anyOf": [{"required": ["on"]}, {"required": ["do"]}]},
            },
            {
                "required": ["schedule"],
                "not": {
                    "anyOf": [{"required": key} for key in (["on"], ["do"], ["start"], ["states"])]
                },
            },
        ],
        "$defs": defs,
    }


def _same(properties: dict[str, Any], keys: tuple[str, ...]) -> None:
    if set(properties) != set(keys):
        raise AssertionError(f"schema and loader disagree: {sorted(set(properties) ^ set(keys))}")


if __name__ == "__main__":
    print(json.dumps(flow_schema(), indent=2))

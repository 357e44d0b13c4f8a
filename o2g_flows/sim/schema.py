"""Validation of request bodies and query parameters against the API catalogue.

Every endpoint's body type is described in the catalogue; checking bodies here
gives every handler the spec's BAD_PARAMETER answers (missing field, wrong type,
value outside an enum) without writing them one by one.

By default the check binds like the real gateway's Jackson: an unknown field is
ignored and a number may be sent as a numeric string (the Node SDK sends comlog
``recordIds`` as strings). Each such leniency is reported to the caller; ``strict``
refuses both instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from o2g_flows.spec import find_type

from .errors import RestError

__all__ = [
    "CONDITIONAL",
    "EITHER_OR",
    "EXTRA_ENUM_VALUES",
    "EXTRA_FIELDS",
    "parse_query_value",
    "validate_body",
]

_NUMBERS = frozenset({"int", "long", "nonNegativeInteger"})
_NUMERIC = re.compile(r"-?[0-9]{1,19}")
_PRIMITIVES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "nonNegativeInteger": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "dateTime": lambda v: isinstance(v, str),
}


#: Spec facts the parsed catalogue lost: extra enum values (overflow destinations may be
#: USER, OTHER or ASSOCIATE), a field that takes either of two shapes (a directory
#: Criterion's operand is a string, or a list of Criterion for AND/OR) and an optional field
#: the spec names only in a title (a subscription's webHookUrl, sent by the Node SDK).
EXTRA_ENUM_VALUES = {"DestinationType": ("USER", "OTHER", "ASSOCIATE")}
EITHER_OR = {("Criterion", "operand"): "Criterion"}
EXTRA_FIELDS = {
    "SubscriptionRequest": [
        {"name": "webHookUrl", "type": "string", "required": False, "is_list": False}
    ]
}
#: Fields the catalogue marks required that the spec text makes conditional: a supervisor
#: call (``acdCall.callToSupervisor``) has no callee; the handler checks the other cases.
CONDITIONAL = frozenset({("MakeCallRequest", "callee")})


@dataclass(slots=True)
class _Checker:
    service: str
    strict: bool
    lenient: list[str] = field(default_factory=list)

    def check(self, value: Any, type_name: str, where: str) -> Any:
        """``value`` checked against ``type_name`` (numeric strings bound to numbers)."""
        if type_name in _PRIMITIVES:
            if _PRIMITIVES[type_name](value):
                return value
            if type_name in _NUMBERS and isinstance(value, str) and _NUMERIC.fullmatch(value):
                number = int(value)
                if not self.strict and _PRIMITIVES[type_name](number):
                    self.lenient.append(f"{where}: number sent as the string {value!r}")
                    return number
            raise RestError.bad_parameter(f"{where}: expected {type_name}, got {_json_kind(value)}")
        definition = find_type(type_name, self.service)
        if definition is None or definition["kind"] == "primitive":  # opaque to the catalogue
            return value
        if definition["kind"] == "enum":
            allowed = [item["value"] for item in definition["values"]]
            allowed += EXTRA_ENUM_VALUES.get(type_name, ())
            if value not in allowed:
                raise RestError.bad_parameter(
                    f"{where}: {value!r} is not one of {', '.join(allowed)}"
                )
            return value
        if not isinstance(value, dict):
            raise RestError.bad_parameter(
                f"{where}: expected a {type_name} object, got {_json_kind(value)}"
            )
        return self._object(value, type_name, definition, where)

    def _object(
        self, value: dict[str, Any], type_name: str, definition: dict[str, Any], where: str
    ) -> dict[str, Any]:
        fields = {f["name"]: f for f in (*definition["fields"], *EXTRA_FIELDS.get(type_name, ()))}
        for key in [key for key in value if key not in fields]:
            if self.strict:
                raise RestError.bad_parameter(f"{where}: unknown field '{key}' in {type_name}")
            self.lenient.append(f"{where}.{key}: unknown field of {type_name} ignored")
            del value[key]
        for name, spec in fields.items():
            if name not in value or value[name] is None:
                conditional = (type_name, name) in CONDITIONAL
                if spec["required"] and not spec["is_list"] and not conditional:
                    raise RestError.bad_parameter(f"{where}: missing required field '{name}'")
                continue
            item, place = value[name], f"{where}.{name}"
            alternative = EITHER_OR.get((type_name, name))
            if alternative and isinstance(item, list):
                value[name] = [
                    self.check(e, alternative, f"{place}[{i}]") for i, e in enumerate(item)
                ]
            elif spec["is_list"]:
                if not isinstance(item, list):
                    raise RestError.bad_parameter(
                        f"{place}: expected a list, got {_json_kind(item)}"
                    )
                value[name] = [
                    self.check(e, spec["type"], f"{place}[{i}]") for i, e in enumerate(item)
                ]
            else:
                value[name] = self.check(item, spec["type"], place)
        return value


def validate_body(body: Any, type_name: str, service: str, *, strict: bool = False) -> list[str]:
    """Check ``body`` against the catalogue type, binding it in place as Jackson would.

    Raise BAD_PARAMETER naming the faulty field; return what was let through (unknown
    fields dropped, numbers given as strings), empty when ``strict``.
    """
    checker = _Checker(service, strict)
    checker.check(body, type_name, "body")
    return checker.lenient


def parse_query_value(name: str, raw: str, type_name: str) -> Any:
    """Convert a query parameter to its declared type, or raise BAD_PARAMETER."""
    if type_name == "boolean":
        if raw.lower() in ("", "true", "false"):  # a bare ?flag means true
            return raw.lower() != "false"
    elif type_name in ("int", "long", "nonNegativeInteger"):
        try:
            return int(raw)
        except ValueError:
            pass
    elif type_name == "dateTime":
        try:
            datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return raw
        except ValueError:
            pass
    else:
        return raw
    raise RestError.bad_parameter(f"query parameter {name}: {raw!r} is not a valid {type_name}")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"

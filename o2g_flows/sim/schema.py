"""Validation of request bodies and query parameters against the API catalogue.

Every endpoint's body type is described in the catalogue; checking bodies here
gives every handler the spec's BAD_PARAMETER answers (missing field, wrong type,
unknown field, value outside an enum) without writing them one by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from o2g_flows.spec import find_type

from .errors import RestError

__all__ = ["parse_query_value", "validate_body"]

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
_EXTRA_ENUM_VALUES = {"DestinationType": ("USER", "OTHER", "ASSOCIATE")}
_EITHER_OR = {("Criterion", "operand"): "Criterion"}
_EXTRA_FIELDS = {
    "SubscriptionRequest": [
        {"name": "webHookUrl", "type": "string", "required": False, "is_list": False}
    ]
}


def validate_body(body: Any, type_name: str, service: str) -> None:
    """Check ``body`` against the catalogue type; raise BAD_PARAMETER naming the faulty field."""
    _check(body, type_name, service, "body")


def _check(value: Any, type_name: str, service: str, where: str) -> None:
    if type_name in _PRIMITIVES:
        if not _PRIMITIVES[type_name](value):
            raise RestError.bad_parameter(f"{where}: expected {type_name}, got {_json_kind(value)}")
        return
    definition = find_type(type_name, service)
    if definition is None:  # an opaque type the catalogue names but does not define
        return
    if definition["kind"] == "enum":
        allowed = [item["value"] for item in definition["values"]]
        allowed += _EXTRA_ENUM_VALUES.get(type_name, ())
        if value not in allowed:
            raise RestError.bad_parameter(f"{where}: {value!r} is not one of {', '.join(allowed)}")
        return
    if definition["kind"] == "primitive":
        return
    if not isinstance(value, dict):
        raise RestError.bad_parameter(
            f"{where}: expected a {type_name} object, got {_json_kind(value)}"
        )
    fields = {
        field["name"]: field for field in (*definition["fields"], *_EXTRA_FIELDS.get(type_name, ()))
    }
    for key in value:
        if key not in fields:
            raise RestError.bad_parameter(f"{where}: unknown field '{key}' in {type_name}")
    for name, field in fields.items():
        if name not in value or value[name] is None:
            if field["required"] and not field["is_list"]:
                raise RestError.bad_parameter(f"{where}: missing required field '{name}'")
            continue
        item = value[name]
        alternative = _EITHER_OR.get((type_name, name))
        if alternative and isinstance(item, list):
            for index, element in enumerate(item):
                _check(element, alternative, service, f"{where}.{name}[{index}]")
        elif field["is_list"]:
            if not isinstance(item, list):
                raise RestError.bad_parameter(
                    f"{where}.{name}: expected a list, got {_json_kind(item)}"
                )
            for index, element in enumerate(item):
                _check(element, field["type"], service, f"{where}.{name}[{index}]")
        else:
            _check(item, field["type"], service, f"{where}.{name}")


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

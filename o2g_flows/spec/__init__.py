"""The O2G REST API catalogue (endpoints, types, events) shipped with the package.

The catalogue was parsed from the O2G REST API 2.x reference; every part of
o2g-flows that needs to know the API (the simulator's router and validator, the
client's generated services, the coverage tests) reads it from here.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "API_PREFIX",
    "EVENT_PACKAGES",
    "SDK_EVENTS",
    "SDK_TYPES",
    "catalogue",
    "endpoints",
    "event_names",
    "find_type",
]

API_PREFIX = "/api/rest/1.0"

#: Event packages a subscription selector may name, with their events. The spec text lost
#: this list; it is rebuilt from the vendor SDKs' package enumerations.
EVENT_PACKAGES: dict[str, frozenset[str]] = {
    "telephony": frozenset(
        {
            "OnTelephonyState",
            "OnCallCreated",
            "OnCallModified",
            "OnCallRemoved",
            "OnUserStateModified",
            "OnDeviceStateModified",
            "OnDynamicStateChanged",
        }
    ),
    "eventSummary": frozenset({"OnEventSummaryUpdated"}),
    "routingManagement": frozenset({"OnRoutingStateChanged"}),
    "unifiedComLog": frozenset(
        {
            "OnComRecordCreated",
            "OnComRecordModified",
            "OnComRecordsDeleted",
            "OnComRecordsAck",
            "OnComRecordsUnAck",
        }
    ),
    "user": frozenset({"OnUserInfoChanged", "OnPreferencesChanged"}),
    "userManagement": frozenset({"OnUserCreated", "OnUserDeleted"}),
    "agent": frozenset(
        {
            "OnAgentStateChanged",
            "OnSupervisorHelpRequested",
            "OnSupervisorHelpCancelled",
            "OnAgentSkillChanged",
        }
    ),
    "system": frozenset({"OnCtiLinkUp", "OnCtiLinkDown", "OnPbxLoaded", "OnLicenseExpiration"}),
    "pbxManagement": frozenset(
        {"OnPbxObjectInstanceCreated", "OnPbxObjectInstanceDeleted", "OnPbxObjectInstanceModified"}
    ),
    "pilot": frozenset({"OnPilotCallCreated", "OnPilotCallQueued", "OnPilotCallRemoved"}),
}


def _field(name: str, type_: str, required: bool = False, is_list: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "cardinality": ("[1..*]" if required else "[0..*]")
        if is_list
        else ("[1]" if required else "[0..1]"),
        "required": required,
        "is_list": is_list,
        "description": "",
        "since": None,
    }


_SDK_SERVICE = "Pilot monitoring (vendor SDKs)"

#: Beyond the 2.x text: types and events ALE's Node and Java SDKs handle (the ``pilot``
#: package), in the catalogue's format, with the fields those SDKs parse. ``catalogue()``
#: includes them, so the simulator, the client's generated types and the flow loader know them.
SDK_TYPES: list[dict[str, Any]] = [
    {
        "name": "PilotCallData",
        "service": _SDK_SERVICE,
        "kind": "object",
        "description": "Data of a call arriving at an ACD pilot.",
        "fields": [
            _field("initialCalled", "string"),
            _field("anonymous", "boolean"),
            _field("associatedData", "string"),
            _field("hexaBinaryAssociatedData", "string"),
            _field("networkRerouted", "boolean"),
        ],
    }
]
SDK_EVENTS: list[dict[str, Any]] = [
    {
        "name": "OnPilotCallCreated",
        "service": _SDK_SERVICE,
        "description": "A call reached an ACD pilot.",
        "fields": [
            _field("eventName", "string", required=True),
            _field("pilot", "string", required=True),
            _field("caller", "string"),
            _field("callRef", "string", required=True),
            _field("cause", "string"),
            _field("callData", "PilotCallData"),
        ],
    },
    {
        "name": "OnPilotCallQueued",
        "service": _SDK_SERVICE,
        "description": "A call waits in the queue of an ACD pilot.",
        "fields": [
            _field("eventName", "string", required=True),
            _field("pilot", "string", required=True),
            _field("caller", "string"),
            _field("queue", "string"),
            _field("callRef", "string", required=True),
            _field("cause", "string"),
            _field("numberOfQueued", "int"),
        ],
    },
    {
        "name": "OnPilotCallRemoved",
        "service": _SDK_SERVICE,
        "description": "A call left the queue of an ACD pilot.",
        "fields": [
            _field("eventName", "string", required=True),
            _field("pilot", "string", required=True),
            _field("releasingDevice", "string"),
            _field("newDestination", "string"),
            _field("callRef", "string", required=True),
            _field("cause", "string"),
        ],
    },
]


@cache
def catalogue() -> dict[str, Any]:
    """The whole parsed catalogue (``services``, ``endpoints``, ``types``, ``events``...),
    with the vendor SDKs' pilot types and events added."""
    text = resources.files(__package__).joinpath("o2g-api.json").read_text("utf-8")
    data = json.loads(text)
    data["types"] += SDK_TYPES
    data["events"] += SDK_EVENTS
    return data


def endpoints() -> list[dict[str, Any]]:
    """Every endpoint: ``{"id": "POST /telephony/calls", "method", "path", ...}``."""
    return catalogue()["endpoints"]


@cache
def _types_by_name() -> dict[tuple[str, str], dict[str, Any]]:
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for item in catalogue()["types"]:
        table.setdefault((item["service"], item["name"]), item)
        table.setdefault(("", item["name"]), item)
    return table


def find_type(name: str, service: str = "") -> dict[str, Any] | None:
    """A type definition, preferring the one declared by ``service``."""
    table = _types_by_name()
    return table.get((service, name)) or table.get(("", name))


@cache
def event_names() -> frozenset[str]:
    """Names of all events the catalogue defines."""
    return frozenset(event["name"] for event in catalogue()["events"])

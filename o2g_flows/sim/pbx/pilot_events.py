"""The ``pilot`` event package: a call entering, waiting at and leaving an ACD pilot.

These events are beyond the 2.x API text; their fields are those ALE's Node and Java SDKs
parse (``OnPilotCallCreated``, ``OnPilotCallQueued``, ``OnPilotCallRemoved``). Numbers are
phone-number strings. Subscriptions route them by ``pilot``, not by a login.
"""

from __future__ import annotations

from typing import Any

from .calls_state import Call
from .config import Pilot

__all__ = ["abandoned", "created", "distributed", "queued"]


def _caller(call: Call) -> str | None:
    return next((p.number for p in call.history if p.role == "CALLER"), None)


def created(call: Call, pilot: str) -> dict[str, Any]:
    """The call reached ``pilot``."""
    data: dict[str, Any] = {"initialCalled": call.initial_called, "anonymous": call.anonymous}
    if call.associate_data is not None:
        data["associatedData"] = call.associate_data
    return {
        "eventName": "OnPilotCallCreated",
        "pilot": pilot,
        "caller": _caller(call),
        "callRef": call.ref,
        "cause": "ACD_ENTER_DISTRIBUTION",
        "callData": data,
    }


def queued(call: Call, pilot: Pilot, waiting: int, cause: str) -> dict[str, Any]:
    """The call waits in the queue of ``pilot`` (its first processing group) with
    ``waiting`` calls in all."""
    return {
        "eventName": "OnPilotCallQueued",
        "pilot": pilot.number,
        "caller": _caller(call),
        "queue": pilot.groups[0] if pilot.groups else pilot.number,
        "callRef": call.ref,
        "cause": cause,
        "numberOfQueued": waiting,
    }


def distributed(call: Call, pilot: str, device: str) -> dict[str, Any]:
    """The call left the queue of ``pilot`` to ring the agent's ``device``."""
    return {
        "eventName": "OnPilotCallRemoved",
        "pilot": pilot,
        "newDestination": device,
        "callRef": call.ref,
        "cause": "DISTRIBUTED",
    }


def abandoned(call: Call, pilot: str, cause: str) -> dict[str, Any]:
    """The call left the queue of ``pilot`` because the caller hung up (or was taken away)."""
    return {
        "eventName": "OnPilotCallRemoved",
        "pilot": pilot,
        "releasingDevice": _caller(call),
        "callRef": call.ref,
        "cause": cause,
    }

"""A readable console for ``o2g-flows run``: one short line per event, transition and action."""

from __future__ import annotations

import logging
from typing import Any

from .functions import remote_number

__all__ = ["describe_event", "setup_console"]

_QUIET = ("httpx", "httpcore", "aiohttp.access", "apscheduler", "transitions")


def setup_console(verbose: bool = False) -> None:
    """Time-stamped lines without logger names; chatty libraries kept at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        for name in _QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)


def describe_event(event: dict[str, Any]) -> str:
    """``OnCallCreated alice call 5f2a RINGING_INCOMING from +33140000001`` and the like."""
    name = event.get("eventName", "?")
    parts = [f"{name:<20}", str(event.get("loginName", "-"))]
    ref = event.get("callRef")
    if ref is not None:
        parts.append(f"call {ref}")
    legs = event.get("legs") or event.get("modifiedLegs")
    if isinstance(legs, list) and legs and isinstance(legs[0], dict):
        parts.append(f"{legs[0].get('deviceId')}:{legs[0].get('state')}")
    number = remote_number(event) if name == "OnCallCreated" else None
    if number:
        parts.append(f"with {number}")
    if event.get("cause"):
        parts.append(f"cause {event['cause']}")
    state = event.get("state")
    if isinstance(state, dict) and "mainState" in state:
        parts.append(f"{state.get('mainState')}/{state.get('subState')}")
    elif isinstance(state, str):
        parts.append(state)
    if event.get("reconciled"):
        parts.append("(reconciled)")
    return " ".join(parts)

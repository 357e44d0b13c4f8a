"""The console of ``o2g-flows``: log lines with date and level (or JSON lines), secrets masked,
and one short line per event for ``run``."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["describe_event", "setup_console"]

_QUIET = ("httpx", "httpcore", "aiohttp.access", "apscheduler", "transitions")
#: Header values never written to a log, whatever the level.
_SECRET_HEADERS = re.compile(
    # a header's name, its separator as httpx/httpcore print it, then its value to the quote
    r"""((?:cookie|set-cookie|authorization)['"]?\s*[:,]\s*b?['"]?)([^'"\n]+)""",
    re.IGNORECASE,
)
_FIELDS = ("flow", "key", "event")


class _Secrets(logging.Filter):
    """Masks cookies, session ids and credentials in HTTP libraries' debug lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("httpx", "httpcore", "aiohttp")):
            text = record.getMessage()
            masked = _SECRET_HEADERS.sub(r"\1***", text)
            if masked != text:
                record.msg, record.args = masked, None
        return True


class _JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and flow/key/event if known."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def setup_console(verbosity: int = 0, json_lines: bool = False) -> None:
    """Log lines with their date, time and level (or JSON lines), on standard error.

    ``verbosity``: -1 warnings and errors only, 0 what the engine does, 1 debug (the HTTP
    libraries included, their cookies and credentials masked).
    """
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s.%(msecs)03d %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S"
            )
        )
    handler.addFilter(_Secrets())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel({-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG))
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.NOTSET if verbosity > 0 else logging.WARNING)


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
    number = None
    if name == "OnCallCreated":
        from ..engine.functions import remote_number  # not imported by every command

        number = remote_number(event)
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

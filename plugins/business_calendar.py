"""Example plugin: closed days and a chat notification action.

Loaded by ``o2g-flows`` from the ``plugins/`` folder. It shows what a plugin can add:

- ``closed_day(now)``: a JMESPath function, true on weekends and French public holidays,
  built on the engine's business calendar (``when: "!closed_day(now)"``; the built-ins
  ``holiday(now, 'FR')`` and ``open_at(now, hours, 'FR')`` cover most needs alone);
- ``notify: {text: ...}``: an action posting ``{"text": ...}`` to the webhook named by
  ``$O2G_FLOWS_NOTIFY_URL`` (through the engine's gateway, so offline runs record it);

Inbound HTTP is built in: ``POST /hooks/NAME`` is the event ``OnWebhook`` (see
docs/flows.md); a plugin adds other event sources with ``registry.event_source``.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from o2g_flows.engine.functions import is_holiday
from o2g_flows.plugins import ActionContext, Param, Registry


def register(registry: Registry) -> None:
    """Add ``closed_day()`` and the ``notify`` action."""
    registry.function(
        "closed_day", "object|string|null", doc="closed_day(now): a weekend or French holiday"
    )(closed_day)
    registry.action(
        "notify",
        Param("text", type="any", required=True),
        doc="Post a text to the chat webhook $O2G_FLOWS_NOTIFY_URL.",
    )(notify)


def closed_day(when: Any) -> bool:
    """True when ``when`` (``now``, or ISO text) is a Saturday, a Sunday or a French public
    holiday (the built-in ``holiday()`` knows them)."""
    text = when.get("date") if isinstance(when, dict) else when
    try:
        day = date.fromisoformat(text[:10]) if isinstance(text, str) else None
    except ValueError:
        return False
    return day is not None and (day.weekday() >= 5 or is_holiday(day, "FR"))


async def notify(ctx: ActionContext, args: dict[str, Any]) -> Any:
    """Post ``{"text": args["text"]}`` to ``$O2G_FLOWS_NOTIFY_URL``."""
    url = os.environ.get("O2G_FLOWS_NOTIFY_URL")
    if not url:
        raise RuntimeError("notify: set $O2G_FLOWS_NOTIFY_URL to the chat webhook")
    return await ctx.gateway.http("POST", url, json={"text": args["text"]}, action=ctx.action)

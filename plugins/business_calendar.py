"""Example plugin: public holidays, a chat notification action, and a webhook event source.

Loaded by ``o2g-flows`` from the ``plugins/`` folder. It shows the three things a plugin
can add:

- ``holiday(now)``: a JMESPath function, true on French public holidays
  (``when: "!holiday(now) && time_in(now, '08:00-18:00')"``);
- ``notify: {text: ...}``: an action posting ``{"text": ...}`` to the webhook named by
  ``$O2G_FLOWS_NOTIFY_URL`` (through the engine's gateway, so offline runs record it);
- ``WebhookReceived``: an event source, an HTTP listener on ``$O2G_FLOWS_WEBHOOK_PORT``
  (default 8765, loopback) turning each ``POST /anything`` with a JSON body into
  ``{"eventName": "WebhookReceived", "path": "/anything", "body": {...}}``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from aiohttp import web

from o2g_flows.plugins import ActionContext, Param, Registry


def register(registry: Registry) -> None:
    """Add ``holiday()``, the ``notify`` action and the ``webhook`` event source."""
    registry.function("holiday", "object|string|null", doc="holiday(now): a French public holiday")(
        holiday
    )
    registry.action(
        "notify",
        Param("text", type="any", required=True),
        doc="Post a text to the chat webhook $O2G_FLOWS_NOTIFY_URL.",
    )(notify)
    registry.event_source(
        "webhook", "WebhookReceived", doc="HTTP POSTs on $O2G_FLOWS_WEBHOOK_PORT as events"
    )(webhook)


def holiday(when: Any) -> bool:
    """True when ``when`` (``now``, or a ``YYYY-MM-DD`` text) is a French public holiday."""
    text = when.get("date") if isinstance(when, dict) else when
    if not isinstance(text, str):
        return False
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return False
    return day in _holidays(day.year)


@lru_cache(maxsize=16)
def _holidays(year: int) -> frozenset[date]:
    easter = _easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    moving = [easter + timedelta(days=n) for n in (1, 39, 50)]  # Monday, Ascension, Whit
    return frozenset([date(year, m, d) for m, d in fixed] + moving)


def _easter(year: int) -> date:
    """Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month = (h + leap - 7 * m + 114) // 31
    day = (h + leap - 7 * m + 114) % 31 + 1
    return date(year, month, day)


async def notify(ctx: ActionContext, args: dict[str, Any]) -> Any:
    """Post ``{"text": args["text"]}`` to ``$O2G_FLOWS_NOTIFY_URL``."""
    url = os.environ.get("O2G_FLOWS_NOTIFY_URL")
    if not url:
        raise RuntimeError("notify: set $O2G_FLOWS_NOTIFY_URL to the chat webhook")
    return await ctx.gateway.http("POST", url, json={"text": args["text"]}, action=ctx.action)


async def webhook(emit: Callable[[dict[str, Any]], None]) -> None:
    """Listen on 127.0.0.1:$O2G_FLOWS_WEBHOOK_PORT until cancelled."""

    async def receive(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "a JSON body is expected"}, status=400)
        emit({"eventName": "WebhookReceived", "path": request.path, "body": body})
        return web.json_response({"accepted": True}, status=202)

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = int(os.environ.get("O2G_FLOWS_WEBHOOK_PORT", "8765"))
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

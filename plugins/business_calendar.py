"""Example plugin: closed days, a chat notification action, and a webhook event source.

Loaded by ``o2g-flows`` from the ``plugins/`` folder. It shows the three things a plugin
can add:

- ``closed_day(now)``: a JMESPath function, true on weekends and French public holidays,
  built on the engine's business calendar (``when: "!closed_day(now)"``; the built-ins
  ``holiday(now, 'FR')`` and ``open_at(now, hours, 'FR')`` cover most needs alone);
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
from datetime import date
from typing import Any

from aiohttp import web

from o2g_flows.engine.functions import is_holiday
from o2g_flows.plugins import ActionContext, Param, Registry


def register(registry: Registry) -> None:
    """Add ``closed_day()``, the ``notify`` action and the ``webhook`` event source."""
    registry.function(
        "closed_day", "object|string|null", doc="closed_day(now): a weekend or French holiday"
    )(closed_day)
    registry.action(
        "notify",
        Param("text", type="any", required=True),
        doc="Post a text to the chat webhook $O2G_FLOWS_NOTIFY_URL.",
    )(notify)
    registry.event_source(
        "webhook", "WebhookReceived", doc="HTTP POSTs on $O2G_FLOWS_WEBHOOK_PORT as events"
    )(webhook)


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

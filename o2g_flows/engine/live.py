"""Running the engine on a live O2G event stream.

The subscription is derived from the loaded flows (their event names and users); events
go straight from the client's stream into ``Engine.dispatch``. After a gap marker the
engine asks for snapshots so executions catch up with what happened while it was blind.
Plugin event sources whose events some flow uses run alongside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from os import PathLike
from typing import Any

from ..client import GAP_EVENT, PACKAGES, O2GClient
from .console import describe_event
from .gateway import ActionError
from .runtime import Engine

__all__ = ["run", "subscription_for"]

log = logging.getLogger("o2g_flows.engine")

_O2G_EVENTS = frozenset(name for names in PACKAGES.values() for name in names)


def subscription_for(engine: Engine, admin: bool) -> tuple[list[str], str | list[str] | None]:
    """``(names, ids)`` for ``O2GClient.subscribe``: the O2G events flows listen to, for the
    users they name (``"*"`` when a flow listens to everyone; None in a user session)."""
    names = set(engine.event_names()) & _O2G_EVENTS
    if names & {"OnCallCreated", "OnCallModified", "OnCallRemoved"}:
        names.add("OnTelephonyState")  # snapshots answer with it after a gap
    users = engine.users()
    ids: str | list[str] | None
    if not admin:
        ids = None
    elif users is None:
        ids = "*"
    else:
        ids = sorted(users)
    return sorted(names), ids


async def run(
    engine: Engine,
    client: O2GClient,
    *,
    record: str | PathLike[str] | None = None,
    sources: Iterable[Any] = (),
    ready: asyncio.Event | None = None,
    echo: bool = False,
) -> None:
    """Subscribe, then dispatch every event until cancelled or the stream ends.

    ``record`` keeps the raw events as JSON lines (the format ``o2g-flows test --replay``
    reads); ``sources`` are plugin ``EventSource`` objects to run; ``ready`` is set once
    the subscription is active; with ``echo`` each event flows listen to is logged.
    """
    admin = bool(client.session.get("admin"))
    names, ids = subscription_for(engine, admin)
    listened = engine.event_names()
    tasks = [asyncio.create_task(_source(source, engine)) for source in sources]
    await engine.start()
    try:
        if not names:
            log.warning("no loaded flow listens to an O2G event; nothing to subscribe to")
            if ready is not None:
                ready.set()
            await asyncio.Event().wait()
        subscription = await client.subscribe(names=names, ids=ids)
        who = "every user" if ids == "*" else ", ".join(ids) if ids else client.login
        log.info("subscribed to %s for %s", ", ".join(names), who)
        if ready is not None:
            ready.set()
        async for event in client.events(subscription, record=record):
            if event.get("eventName") == GAP_EVENT:
                await _resynchronise(engine, event)
                continue
            if echo and event.get("eventName") in listened:
                log.info("event    %s", describe_event(event))
            engine.dispatch(event)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await engine.stop()


async def _resynchronise(engine: Engine, gap: dict[str, Any]) -> None:
    requests = engine.snapshot_requests()
    log.warning("event gap (%s): asking %d snapshots", gap.get("reason"), len(requests))
    for method, login in requests:
        try:
            await engine.gateway.invoke(method, {"login_name": login}, "snapshot")
        except ActionError as exc:
            log.warning("snapshot %s for %s failed: %s", method, login, exc)


async def _source(source: Any, engine: Engine) -> None:
    try:
        await source.run(engine.emit)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("event source %s stopped", source.name)

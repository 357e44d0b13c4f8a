"""Running the engine on a live O2G event stream.

The subscription is derived from the loaded flows (their event names and users); events
go straight from the client's stream into ``Engine.dispatch``. After a gap marker, and
after a restart that restored executions, the engine asks for snapshots so executions
catch up with what happened while it was blind. Plugin event sources whose events some
flow uses run alongside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from os import PathLike
from typing import Any

import httpx
import orjson

from ..client import GAP_EVENT, PACKAGES, O2GClient, O2GError
from ..client.events import Subscription, build_filter
from .gateway import ActionError
from .runtime import Engine
from .store import Restored

__all__ = ["LiveRun", "flow_versions", "run", "subscription_for"]

log = logging.getLogger("o2g_flows.engine")

_O2G_EVENTS = frozenset(name for names in PACKAGES.values() for name in names)


def flow_versions(engine: Engine) -> str:
    """The running flows and their versions, as the JSON text kept in the store's meta."""
    return orjson.dumps(
        {name: runtime.flow.digest for name, runtime in sorted(engine.flows.items())}
    ).decode()


def subscription_for(engine: Engine, admin: bool) -> tuple[list[str], str | list[str] | None]:
    """``(names, ids)`` for ``O2GClient.subscribe``: the O2G events flows listen to, for the
    users they name (``"*"`` when a flow listens to everyone; None in a user session)."""
    names = set(engine.event_names()) & _O2G_EVENTS
    if names & {"OnCallCreated", "OnCallModified", "OnCallRemoved"}:
        names.add("OnTelephonyState")  # snapshots answer with it after a gap
    users = engine.users(names)  # a flow only on webhooks or plugin events names no user
    ids: str | list[str] | None
    if not admin:
        ids = None
    elif users is None:
        ids = "*"
    else:
        ids = sorted(users)
    return sorted(names), ids


class LiveRun:
    """One engine on one client's event stream: restore, subscribe, dispatch, follow reloads.

    ``run()`` returns when cancelled (or the stream ends): the engine stops with its
    executions left in its store, the subscription is deleted. When another instance
    takes a shared store over, the engine steps down and ``run()`` raises its
    ``FencingError`` once it stopped and unsubscribed. ``follow_flows()``, after an
    ``Engine.update``, changes the subscription's filter in place (``PUT /subscriptions``)
    so that no event is lost while the flows' needs widen or narrow.
    """

    def __init__(
        self,
        engine: Engine,
        client: O2GClient,
        *,
        record: str | PathLike[str] | None = None,
        sources: Iterable[Any] = (),
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.record = record
        self.sources = list(sources)
        self.on_event = on_event
        self.subscription: Subscription | None = None
        self._admin = bool(client.session.get("admin"))
        self._wanted = subscription_for(engine, self._admin)

    async def run(
        self, ready: asyncio.Event | None = None, restored: Restored | None = None
    ) -> None:
        """Restore the engine, subscribe, then dispatch every event until cancelled.

        ``ready`` is set once the subscription is live; ``restored`` is what the engine's
        store held, if the caller opened it already.
        """
        engine, client = self.engine, self.client
        tasks = [asyncio.create_task(_source(source, engine)) for source in self.sources]
        if restored is None:
            restored = await engine.store.open()
        stale = restored.meta.get("subscription")
        await engine.start(restored)
        engine.store.set_meta("flows", flow_versions(engine))  # what standbys compare with
        try:
            if stale:
                await self._delete_stale(stale)
            names, ids = self._wanted
            if not names:
                log.warning("no loaded flow listens to an O2G event; nothing to subscribe to")
                if ready is not None:
                    ready.set()
                await engine.stepped_down.wait()  # until cancelled, or another takes over
                raise engine.lost  # type: ignore[misc]
            self.subscription = await client.subscribe(names=names, ids=ids)
            engine.store.set_meta("subscription", self.subscription.id)
            who = "every user" if ids == "*" else ", ".join(ids) if ids else client.login
            log.info("subscribed to %s for %s", ", ".join(names), who)
            if ready is not None:
                ready.set()
            if engine.store.durable:  # catch up with what happened while stopped
                await _resynchronise(engine, {"reason": "start"}, named_users=True)
            stream = asyncio.create_task(self._dispatch(self.subscription))
            tasks.append(stream)
            lost = asyncio.create_task(engine.stepped_down.wait())
            tasks.append(lost)
            await asyncio.wait((stream, lost), return_when=asyncio.FIRST_COMPLETED)
            if engine.lost is not None:
                raise engine.lost
            stream.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.subscription is not None and engine.lost is None:
                engine.store.set_meta("subscription", None)
            await engine.stop()
            if self.subscription is not None:
                with contextlib.suppress(O2GError, httpx.HTTPError):
                    await client.unsubscribe(self.subscription)

    async def _dispatch(self, subscription: Subscription) -> None:
        engine = self.engine
        async for event in self.client.events(subscription, record=self.record):
            if event.get("eventName") == GAP_EVENT:
                await _resynchronise(engine, event)
                continue
            if self.on_event is not None:
                self.on_event(event)
            engine.dispatch(event)

    async def follow_flows(self) -> None:
        """Change the subscription to what the engine's flows need now."""
        self.engine.store.set_meta("flows", flow_versions(self.engine))
        wanted = subscription_for(self.engine, self._admin)
        if wanted == self._wanted or self.subscription is None or not wanted[0]:
            return
        names, ids = wanted
        selectors = build_filter(names, ids)["selectors"]
        await self.client.subscriptions.update_filter(selectors)
        self.subscription.request["filter"] = {"selectors": selectors}
        self._wanted = wanted
        log.info("subscription now %s", ", ".join(names))

    async def _delete_stale(self, subscription_id: str) -> None:
        """Delete the subscription a killed engine left open (best effort)."""
        try:
            await self.client.subscriptions.delete(subscription_id)
            log.info("deleted subscription %s left by an engine that did not stop", subscription_id)
        except (O2GError, httpx.HTTPError):
            log.info("subscription %s left by an earlier engine is gone already", subscription_id)


async def run(
    engine: Engine,
    client: O2GClient,
    *,
    record: str | PathLike[str] | None = None,
    sources: Iterable[Any] = (),
    ready: asyncio.Event | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """``LiveRun(engine, client, ...).run(ready)``: subscribe and dispatch until cancelled.

    ``record`` keeps the raw events as JSON lines (the format ``o2g-flows test --replay``
    reads); ``sources`` are plugin ``EventSource`` objects to run; ``ready`` is set once
    the subscription is active; ``on_event`` sees each O2G event before it is dispatched.
    """
    await LiveRun(engine, client, record=record, sources=sources, on_event=on_event).run(ready)


async def _resynchronise(engine: Engine, gap: dict[str, Any], named_users: bool = False) -> None:
    requests = engine.snapshot_requests(named_users)
    if not requests:
        return
    level = logging.INFO if named_users else logging.WARNING
    what = "start" if named_users else f"event gap ({gap.get('reason')})"
    log.log(level, "%s: asking %d snapshot(s)", what, len(requests))
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

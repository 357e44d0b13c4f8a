"""Subscriptions and the chunk channel, read as an async iterator of event dicts.

The channel is one endless HTTP answer of newline-delimited JSON. Each line is
parsed once with ``orjson.loads``, when the consumer asks for the next event, and
the dict is yielded as is. Channel notices
(``OnChannelInformation``: "Chunk started", keepalives) are consumed. When the
channel drops, the stream reconnects with capped exponential backoff and jitter;
the gateway keeps the subscription's queued events meanwhile, so nothing queued
is lost. When the subscription itself is gone (session lost, gateway restarted,
failover) the stream subscribes again and yields a ``GAP_EVENT`` marker first:
events of the gap are lost and the consumer should resynchronise (snapshots).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass, field
from os import PathLike
from typing import IO, Any

import httpx
import orjson

from o2g_flows.spec import EVENT_PACKAGES as PACKAGES

from .connection import NOT_SENT, Connection, retryable
from .errors import O2GError, SubscriptionRefusedError, error_from_answer

__all__ = ["GAP_EVENT", "PACKAGES", "EventStream", "Subscription", "build_filter"]

log = logging.getLogger("o2g_flows.client.events")

#: ``eventName`` of the marker yielded after events may have been lost.
GAP_EVENT = "OnEventGap"

_PACKAGE_OF = {name: package for package, names in PACKAGES.items() for name in names}
_CHANNEL_INFORMATION = "OnChannelInformation"
_MAX_LINE = 16 * 1024 * 1024  # a "line" longer than this is garbage, not an event


def build_filter(names: str | Iterable[str], ids: str | Iterable[str] | None) -> dict[str, Any]:
    """A subscription ``Filter``: one selector per package, as the gateway requires.

    ``names`` mixes package names (``"telephony"``) and event names
    (``"OnAgentStateChanged"``); ``ids`` is a login, a list of logins, ``"*"`` (every
    user, administrators only) or None (the session's own user).
    """
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ValueError("subscribe(names=...): give at least one event or package name")
    groups: dict[str, list[str]] = {}
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"subscribe(names=...): {name!r} is not a str")
        package = name if name in PACKAGES else _PACKAGE_OF.get(name)
        if package is None:
            raise ValueError(
                f"subscribe(names=...): {name!r} is neither an event package "
                f"({', '.join(PACKAGES)}) nor one of their events"
            )
        group = groups.setdefault(package, [])
        if package not in group and name not in group:
            group[:] = [package] if name == package else [*group, name]
    id_list = _ids(ids)
    selectors = []
    for group in groups.values():
        selector: dict[str, Any] = {"names": group}
        if id_list is not None:
            selector["ids"] = id_list
        selectors.append(selector)
    return {"selectors": selectors}


def _ids(ids: str | Iterable[str] | None) -> list[str] | None:
    if ids is None:
        return None
    id_list = [ids] if isinstance(ids, str) else list(ids)
    for ident in id_list:
        if not isinstance(ident, str) or not ident:
            raise TypeError(f"subscribe(ids=...): {ident!r} is not a login name")
    return id_list


@dataclass(eq=False)
class Subscription:
    """A subscription the client keeps alive: it is created again after a session loss."""

    #: The SubscriptionRequest body sent each time.
    request: dict[str, Any]
    #: The gateway's last Subscription answer.
    answer: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    polling_url: str = ""
    #: The connection generation (session) and server it belongs to.
    generation: int = 0
    server: str = ""
    active: bool = True
    lost: bool = False

    async def activate(self, connection: Connection) -> None:
        """Create the subscription on the connection's current session."""
        answer = await connection.request(
            "POST", "/subscriptions", json=self.request, expect="object"
        )
        if answer.get("status") != "ACCEPTED":
            raise SubscriptionRefusedError(
                f"subscription {answer.get('status', 'without status')}: "
                f"{answer.get('message', json.dumps(answer))}",
                info=answer,
            )
        polling = "" if self.webhook_url else _polling_url(answer, connection.server)
        self.answer, self.id, self.polling_url = answer, answer.get("subscriptionId", ""), polling
        self.generation, self.server, self.lost = connection.generation, connection.server, False

    @property
    def webhook_url(self) -> str | None:
        """Where the gateway posts the events (None: read them from the event channel)."""
        return self.request.get("webHookUrl")

    def is_current(self, connection: Connection) -> bool:
        """Whether the subscription still exists on the connection's session."""
        return not self.lost and self.generation == connection.generation


def _polling_url(answer: dict[str, Any], server: str) -> str:
    """The polling URL on the host the client talks to, else the public one."""
    candidates = [answer.get("privatePollingUrl"), answer.get("publicPollingUrl")]
    urls = [url for url in candidates if url]
    if not urls:
        raise O2GError(f"the subscription answer has no polling URL: {json.dumps(answer)}")
    host = httpx.URL(server).host
    return next((url for url in urls if httpx.URL(url).host == host), urls[-1])


class EventStream:
    """The events of one subscription: ``async for event in stream``.

    ``record`` names a file (or an open binary file) that receives every yielded
    event as one JSON line ``{"receivedAt": epoch seconds, "event": {...}}``, the format
    the engine's replay reads.
    """

    def __init__(
        self,
        connection: Connection,
        subscription: Subscription,
        *,
        record: str | PathLike[str] | IO[bytes] | None = None,
        read_timeout: float = 90.0,
        registry: set[EventStream] | None = None,
    ) -> None:
        self._connection = connection
        self._registry = registry if registry is not None else set()
        self.subscription = subscription
        self._record = record
        self._read_timeout = read_timeout
        self._iterator: AsyncGenerator[dict[str, Any], None] | None = None
        self._response: httpx.Response | None = None
        self._closing = False
        #: Gap markers yielded so far.
        self.gaps = 0

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading: the channel is closed, the recorder flushed; iteration ends.

        Safe to call from another task than the one iterating.
        """
        self._closing = True
        if self._response is not None:
            await self._response.aclose()
        if self._iterator is not None and not self._iterator.ag_running:
            await self._iterator.aclose()

    def _timeout(self) -> httpx.Timeout:
        minutes = self.subscription.request.get("timeout") or 0
        read = minutes * 60 + 30 if minutes else self._read_timeout
        return httpx.Timeout(10.0, read=read)

    async def _run(self) -> AsyncGenerator[dict[str, Any], None]:
        # One generator, not nested ones: asyncio finalises an abandoned generator
        # with aclose(), and a nested pair would be finalised concurrently.
        # The client holds running streams and closes them before its HTTP client.
        record = self._record
        opened = isinstance(record, str | PathLike)
        sink: IO[bytes] | None = open(record, "ab") if opened else record  # noqa: SIM115
        self._registry.add(self)
        try:
            connection, subscription = self._connection, self.subscription
            http, loads = connection.http, orjson.loads
            attempt = 0
            while subscription.active and not (connection.closed or self._closing):
                if not subscription.is_current(connection):
                    gap = await self._resubscribe(attempt)
                    if gap is None:
                        attempt += 1
                        continue
                    attempt = 0
                    if sink is not None:
                        _record_line(sink, orjson.dumps(gap))
                        sink.flush()
                    self.gaps += 1
                    yield gap
                failed_to_connect = False
                try:
                    async with http.stream(
                        "POST", subscription.polling_url, timeout=self._timeout()
                    ) as response:
                        self._response = response
                        if response.status_code != 200:
                            await response.aread()
                            refusal = error_from_answer(
                                "POST",
                                subscription.polling_url,
                                response.status_code,
                                response.content,
                            )
                            log.warning("event channel refused (%s); subscribing again", refusal)
                            subscription.lost = True
                            attempt = 0  # the gateway answers again: subscribe at once
                            continue
                        # Each line is decoded when the consumer asks for the next event:
                        # an event lives as long as the consumer keeps it, not a chunk's
                        # worth of them, and the garbage collector seldom has work.
                        lines = _Lines()
                        async for chunk in response.aiter_bytes():
                            for line in lines.feed(chunk):
                                try:
                                    event = loads(line)
                                    name = event["eventName"]
                                except (ValueError, TypeError, KeyError):
                                    _malformed(line)
                                    continue
                                if name == _CHANNEL_INFORMATION:
                                    attempt = 0  # the channel works: backoff starts again
                                    continue
                                if sink is not None:
                                    _record_line(sink, line)
                                yield event
                            if sink is not None:
                                sink.flush()
                    log.info("event channel of %s ended; reconnecting", subscription.id)
                except httpx.TransportError as exc:
                    if connection.closed or self._closing:
                        return
                    failed_to_connect = isinstance(exc, NOT_SENT)
                    log.warning(
                        "event channel of %s lost: %s",
                        subscription.id,
                        str(exc) or type(exc).__name__,
                    )
                attempt += 1
                connection.channel_reconnects += 1
                if failed_to_connect and len(connection.servers) > 1:
                    await self._fail_over(f"event channel unreachable on {subscription.server}")
                await asyncio.sleep(connection.backoff.delay(attempt))
        finally:
            self._registry.discard(self)
            if sink is not None:
                sink.flush()
                if opened:
                    sink.close()

    async def _resubscribe(self, attempt: int) -> dict[str, Any] | None:
        """Create the subscription again; the gap marker, or None to retry later."""
        connection, subscription = self._connection, self.subscription
        old_id, old_server = subscription.id, subscription.server
        old_generation = subscription.generation
        await asyncio.sleep(connection.backoff.delay(attempt))
        try:
            await subscription.activate(connection)
        except O2GError as exc:
            if not retryable(exc):
                raise
            log.warning("cannot subscribe again yet: %s", exc)
            return None
        if subscription.server != old_server:
            reason = "failover"
        elif subscription.generation != old_generation:
            reason = "relogin"
        else:
            reason = "resubscribed"
        log.warning(
            "event gap (%s): subscription %s replaced by %s on %s",
            reason,
            old_id,
            subscription.id,
            subscription.server,
        )
        return {
            "eventName": GAP_EVENT,
            "reason": reason,
            "subscriptionId": subscription.id,
            "previousSubscriptionId": old_id,
            "server": subscription.server,
        }

    async def _fail_over(self, reason: str) -> None:
        try:
            await self._connection.fail_over(self.subscription.generation, reason)
        except O2GError as exc:
            if not retryable(exc):
                raise
            log.warning("failover did not succeed yet: %s", exc)


class _Lines:
    """Cuts the channel's bytes into lines; a partial last line waits for the next chunk."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes, without their ``\\n`` (a ``\\r`` stays)."""
        if self._pending:
            chunk = self._pending + chunk
        complete, newline, pending = chunk.rpartition(b"\n")
        if len(pending) > _MAX_LINE:
            log.warning("event line over %d bytes dropped: %r...", _MAX_LINE, pending[:200])
            pending = b""
        self._pending = pending
        return complete.split(b"\n") if newline else []


def _malformed(line: bytes) -> None:
    """Log a line that is not an event (bad JSON, bad UTF-8, no ``eventName``), unless blank."""
    if line.strip():
        log.warning("malformed event line skipped: %r", line[:1000].decode("utf-8", "replace"))


def _record_line(sink: IO[bytes], line: bytes) -> None:
    """Write an event line as ``{"receivedAt": epoch, "event": <line as received>}``."""
    sink.write(b'{"receivedAt":%.3f,"event":%b}\n' % (time.time(), line.rstrip(b"\r")))

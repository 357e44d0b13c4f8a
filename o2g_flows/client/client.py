"""``O2GClient``: the services of one O2G gateway, its session and its events."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from os import PathLike
from typing import IO, Any

import httpx

from .connection import Backoff, Connection, RequestHook, Verify
from .errors import NotFoundError
from .events import EventStream, Subscription, build_filter
from .services import (
    AcdService,
    ComlogService,
    DirectoryService,
    EventSummaryService,
    MaintenanceService,
    MessagingService,
    PbxService,
    PhoneSetService,
    RoutingService,
    SessionsService,
    SubscriptionsService,
    TelephonyService,
    UsersService,
)

__all__ = ["O2GClient"]


class O2GClient:
    """An O2G gateway session, used as ``async with O2GClient(url, login, password) as o2g:``.

    ``secondary_url`` names the other server of a high-availability pair; ``verify``
    is True (system CAs), a CA bundle path, an ``ssl.SSLContext``, or False to skip
    TLS verification; ``supervised`` opens an administrator session that acts for
    that login. ``timeout`` bounds each request; NOT_READY answers (and, with two
    servers, connection failures) are retried for ``retry_for`` seconds with
    ``backoff``. ``event_read_timeout`` is how long a silent event channel is
    trusted before it is reconnected (the gateway sends keepalives meanwhile).
    ``transport`` replaces httpx's network transport (e.g. ``httpx.MockTransport`` to
    test code that uses the client without a gateway); ``verify`` then does not apply.
    """

    def __init__(
        self,
        url: str,
        login: str,
        password: str,
        *,
        secondary_url: str | None = None,
        verify: Verify = True,
        app_name: str = "o2g-flows",
        supervised: str | dict[str, str] | None = None,
        timeout: float = 10.0,
        retry_for: float = 30.0,
        backoff: Backoff | None = None,
        event_read_timeout: float = 90.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._connection = connection = Connection(
            url,
            login,
            password,
            secondary_url=secondary_url,
            verify=verify,
            app_name=app_name,
            supervised=supervised,
            timeout=timeout,
            backoff=backoff or Backoff(),
            retry_for=retry_for,
            transport=transport,
        )
        self._event_read_timeout = event_read_timeout
        self._streams: set[EventStream] = set()
        self.sessions = SessionsService(connection)
        self.users = UsersService(connection)
        self.subscriptions = SubscriptionsService(connection)
        self.telephony = TelephonyService(connection)
        self.directory = DirectoryService(connection)
        self.routing = RoutingService(connection)
        self.comlog = ComlogService(connection)
        self.eventsummary = EventSummaryService(connection)
        self.maintenance = MaintenanceService(connection)
        self.messaging = MessagingService(connection)
        self.phoneset = PhoneSetService(connection)
        self.pbx = PbxService(connection)
        self.acd = AcdService(connection)

    async def __aenter__(self) -> O2GClient:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Discover the gateway, log in and open the session (primary first)."""
        await self._connection.open()

    async def close(self) -> None:
        """End the event streams, close the session and every connection."""
        for stream in list(self._streams):
            await stream.aclose()
        await self._connection.close()

    @property
    def session(self) -> dict[str, Any]:
        """The SessionInfo of the open session (``admin``, ``timeToLive``, ``services``...)."""
        return self._connection.session

    @property
    def server(self) -> str:
        """The server in use, ``scheme://host:port`` (changes on failover)."""
        return self._connection.server

    @property
    def reconnections(self) -> dict[str, int]:
        """How often the client recovered: ``sessions`` opened again after the first (lost
        session or failover), ``failovers`` to the other server, ``channels`` (event
        channels connected again)."""
        connection = self._connection
        return {
            "sessions": max(0, connection.generation - 1),
            "failovers": connection.failovers,
            "channels": connection.channel_reconnects,
        }

    def observe_requests(self, hook: RequestHook | None) -> None:
        """Call ``hook(method, service, status, seconds)`` after each request on the session
        (``status`` None when no answer came); None stops it. Metrics use it."""
        self._connection.on_request = hook

    @property
    def login(self) -> str:
        """The login name the session was opened with."""
        return self._connection.login

    async def subscribe(
        self,
        names: str | Iterable[str] | None = None,
        ids: str | Iterable[str] | None = None,
        timeout: int = 0,
        *,
        selectors: list[dict[str, Any]] | None = None,
        webhook_url: str | None = None,
    ) -> Subscription:
        """Subscribe to event packages and/or events, for ``ids`` (logins, ``"*"``) or oneself.

        ``timeout`` is the gateway's subscription timeout in minutes (0: as long as the
        session, with keepalives). ``selectors`` gives the Filter's selectors verbatim
        instead of ``names``/``ids``. Read the events with ``events(subscription)``.

        With ``webhook_url`` (http or https) the gateway POSTs each event, one JSON object,
        to that URL instead (the Node SDK's webhook mode; ``timeout`` is not sent): there is
        no event channel, and after a session loss the application subscribes again.
        """
        if selectors is not None:
            if names is not None or ids is not None:
                raise TypeError("subscribe(): give selectors, or names and ids, not both")
            filter_: dict[str, Any] = {"selectors": selectors}
        elif names is None:
            raise TypeError("subscribe(): names (event or package names) is required")
        else:
            filter_ = build_filter(names, ids)
        if isinstance(timeout, bool) or not isinstance(timeout, int):
            raise TypeError(f"subscribe(timeout=...) must be an int (minutes), not {timeout!r}")
        if not (timeout == 0 or 2 <= timeout <= 60):
            raise ValueError(f"subscribe(timeout=...) must be 0 or 2..60 minutes, not {timeout}")
        request: dict[str, Any] = {"filter": filter_, "version": "1.0"}
        if webhook_url is None:
            request["timeout"] = timeout
        elif timeout:
            raise ValueError("subscribe(): a webhook subscription has no timeout; leave it 0")
        else:
            request["webHookUrl"] = _webhook_url(webhook_url)
        subscription = Subscription(request)
        await subscription.activate(self._connection)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Delete the subscription; its event stream ends."""
        subscription.active = False
        if subscription.is_current(self._connection):
            with contextlib.suppress(NotFoundError):  # already gone with its session
                await self.subscriptions.delete(subscription.id)

    def events(
        self,
        subscription: Subscription,
        *,
        record: str | PathLike[str] | IO[bytes] | None = None,
    ) -> EventStream:
        """The subscription's events: ``async for event in o2g.events(subscription)``.

        ``record`` writes every yielded event (gap markers included) as a JSON line.
        """
        if not isinstance(subscription, Subscription):
            raise TypeError(f"events() takes a Subscription from subscribe(), not {subscription!r}")
        if subscription.webhook_url:
            raise ValueError(
                f"events(): the gateway posts this subscription's events to "
                f"{subscription.webhook_url}; there is no event channel to read"
            )
        return EventStream(
            self._connection,
            subscription,
            record=record,
            read_timeout=self._event_read_timeout,
            registry=self._streams,
        )


def _webhook_url(url: str) -> str:
    if not isinstance(url, str):
        raise TypeError(f"subscribe(webhook_url=...) must be a str, not {url!r}")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"subscribe(webhook_url=...) must be an http(s) URL, not {url!r}")
    return url

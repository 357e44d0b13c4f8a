"""Subscriptions, selectors and event delivery: the chunk channel and webhooks."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from o2g_flows.spec import EVENT_PACKAGES as PACKAGES
from o2g_flows.spec import event_names

from .errors import RestError
from .pbx import Pbx, Timing
from .sessions import Session

__all__ = ["EventHub", "Subscription"]

log = logging.getLogger(__name__)

_PACKAGE_OF = {name: package for package, names in PACKAGES.items() for name in names}
#: Packages whose events concern no user: administrators only, ``ids`` not checked.
_ADMIN_PACKAGES = frozenset({"userManagement", "system", "pbxManagement"})
#: Packages that take a telephony licence per supervised user.
_LICENSED_PACKAGES = frozenset({"telephony", "routingManagement", "unifiedComLog", "eventSummary"})
#: The package routed by pilot number (its events have ``pilot``, no ``loginName``): for
#: administrators and ACD supervisors.
_PILOT = "pilot"
_ALL = None  # a route value meaning "every user" (every pilot)

CHUNK_STARTED = b'{"eventName":"OnChannelInformation","text":"Chunk started"}\n'
KEEPALIVE = b'{"eventName":"OnChannelInformation","text":"keepalive"}\n'


def _default_filter(session: Session, supervisor: bool) -> dict[str, Any]:
    """No filter given: every package the session may select, one selector each."""
    if session.admin:
        return {"selectors": [{"names": [package], "ids": ["*"]} for package in PACKAGES]}
    return {
        "selectors": [
            {"names": [package]}
            for package in PACKAGES
            if package not in _ADMIN_PACKAGES and (package != _PILOT or supervisor)
        ]
    }


def encode_event(event: dict[str, Any]) -> bytes:
    """One event as a compact JSON line."""
    return orjson.dumps(event) + b"\n"


@dataclass(eq=False)
class Subscription:
    """One accepted subscription: its filter, its queue and its delivery."""

    id: str
    session: Session
    timeout: int  # minutes, 0 = session lifetime with keepalives
    routes: dict[str, frozenset[str] | None]  # event name -> logins, or None for all
    filter: dict[str, Any]
    webhook_url: str | None = None
    queue: deque[bytes] = field(default_factory=deque)
    max_queue: int = 10_000
    dropped: int = 0
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _channel: web.StreamResponse | None = None
    _request: web.Request | None = None
    _closed: bool = False
    _task: asyncio.Task[None] | None = None

    def matches(self, name: str, login: str | None) -> bool:
        if name not in self.routes:
            return False
        logins = self.routes[name]
        return logins is _ALL or login is None or login in logins

    def push(self, line: bytes) -> None:
        """Queue one encoded event for the channel or webhook."""
        if len(self.queue) >= self.max_queue:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(line)
        self._wakeup.set()

    def close(self) -> None:
        """Stop delivery: the open channel ends, queued events are discarded."""
        self._closed = True
        self.queue.clear()
        self._wakeup.set()
        if self._task is not None:
            self._task.cancel()

    @property
    def connected(self) -> bool:
        """Whether an event channel is open for this subscription."""
        return self._channel is not None

    def drop_channel(self) -> bool:
        """Cut the open event channel abruptly (as a network failure would)."""
        request = self._request
        if request is None or request.transport is None:
            return False
        request.transport.abort()
        return True


class EventHub:
    """All subscriptions, indexed by event name; the PBX publishes into it."""

    def __init__(self, pbx: Pbx, timing: Timing) -> None:
        self._pbx = pbx
        self._timing = timing
        self._subscriptions: dict[str, Subscription] = {}
        self._by_name: dict[str, list[Subscription]] = {}
        self._http: aiohttp.ClientSession | None = None
        pbx.add_sink(self.publish)

    # -- subscribe ------------------------------------------------------------------------------

    def subscribe(self, session: Session, request: dict[str, Any], base_url: str) -> dict[str, Any]:
        """Handle a SubscriptionRequest; answer a Subscription (ACCEPTED or REFUSED)."""
        webhook = request.get("webHookUrl")
        timeout = request.get("timeout", 10)
        if webhook is None and not (timeout == 0 or 2 <= timeout <= 60):
            raise RestError.bad_parameter(f"timeout {timeout} must be 0 or between 2 and 60")
        if request.get("version") != "1.0":
            raise RestError.bad_parameter(f"unsupported event version {request.get('version')!r}")
        filter_ = request.get("filter") or _default_filter(session, self._is_supervisor(session))
        routes = self._routes(session, filter_)
        refusal = self._license_refusal(session, routes)
        if refusal:
            return {"status": "REFUSED", "message": refusal}
        subscription = Subscription(
            id=self._new_id(session),
            session=session,
            timeout=timeout,
            routes=routes,
            filter=filter_,
            webhook_url=webhook,
        )
        self._subscriptions[subscription.id] = subscription
        session.subscriptions.add(subscription.id)
        self._reindex()
        if webhook:
            subscription._task = asyncio.get_running_loop().create_task(
                self._deliver_webhook(subscription)
            )
            return {"subscriptionId": subscription.id, "status": "ACCEPTED"}
        url = f"{base_url}/OTEvents?subscriptionId={subscription.id}"
        return {
            "subscriptionId": subscription.id,
            "publicPollingUrl": url,
            "privatePollingUrl": url,
            "status": "ACCEPTED",
            "mode": "CHUNK",
            "format": "JSON",
        }

    def update(self, session: Session, filter_: dict[str, Any]) -> None:
        """PUT /subscriptions: replace the filter of the session's subscription."""
        if not session.subscriptions:
            raise RestError.not_found("The session has no subscription")
        routes = self._routes(session, filter_)
        refusal = self._license_refusal(session, routes)
        if refusal:
            raise RestError.not_allowed(refusal)
        for subscription_id in session.subscriptions:
            subscription = self._subscriptions[subscription_id]
            subscription.routes, subscription.filter = routes, filter_
        self._reindex()

    def unsubscribe(self, session: Session, subscription_id: str) -> None:
        """DELETE /subscriptions/{id}: the session's subscription ends (404 if not its own)."""
        subscription = self._subscriptions.get(subscription_id)
        if subscription is None or subscription.session is not session:
            raise RestError.not_found(f"Unknown subscription {subscription_id}")
        self._remove(subscription)

    def session_closed(self, session: Session) -> None:
        """The session ended: its subscriptions end too."""
        for subscription_id in list(session.subscriptions):
            self._remove(self._subscriptions[subscription_id])

    def get(self, subscription_id: str) -> Subscription | None:
        """The subscription with this id, if it is still open."""
        return self._subscriptions.get(subscription_id)

    def _remove(self, subscription: Subscription) -> None:
        self._subscriptions.pop(subscription.id, None)
        subscription.session.subscriptions.discard(subscription.id)
        subscription.close()
        self._reindex()

    def _new_id(self, session: Session) -> str:
        return f"{session.login}-{secrets.token_hex(8)}"

    def _routes(self, session: Session, filter_: Any) -> dict[str, frozenset[str] | None]:
        """Turn the selectors into ``event name -> logins`` (None: every user)."""
        selectors = filter_.get("selectors") if isinstance(filter_, dict) else None
        if not isinstance(selectors, list) or not selectors:
            raise RestError.bad_parameter("filter.selectors must hold at least one selector")
        routes: dict[str, set[str] | None] = {}
        for index, selector in enumerate(selectors):
            names = self._selector_names(selector, index)
            logins = self._selector_logins(session, selector, names, index)
            for name in names:
                if logins is _ALL or (name in routes and routes[name] is _ALL):
                    routes[name] = _ALL
                else:
                    routes.setdefault(name, set()).update(logins)
        return {
            name: (_ALL if logins is _ALL else frozenset(logins)) for name, logins in routes.items()
        }

    def _selector_names(self, selector: dict[str, Any], index: int) -> set[str]:
        names = selector.get("names")
        if not isinstance(names, list) or not names:
            raise RestError.bad_parameter(f"selectors[{index}].names must not be empty")
        packages = {name for name in names if name in PACKAGES}
        if len(packages) > 1:
            raise RestError.bad_parameter(
                f"selectors[{index}] mixes packages {', '.join(sorted(packages))}: one per selector"
            )
        expanded: set[str] = set()
        for name in names:
            if name in PACKAGES:
                expanded |= PACKAGES[name]
            elif name in _PACKAGE_OF or name in event_names():
                expanded.add(name)
            else:
                raise RestError.bad_parameter(
                    f"selectors[{index}]: unknown event or package {name!r}"
                )
        owners = {_PACKAGE_OF.get(name) for name in expanded}
        if len(owners) > 1:
            raise RestError.bad_parameter(f"selectors[{index}] mixes events of several packages")
        return expanded

    def _is_supervisor(self, session: Session) -> bool:
        user = self._pbx.users.get(session.login)
        return bool(user and user.acd and user.acd.type == "SUPERVISOR")

    def _selector_pilots(self, session: Session, ids: list[str], index: int) -> set[str] | None:
        """Pilot numbers a ``pilot`` selector routes: any (or ``ids``) for an administrator,
        the pilots serving its processing groups for a supervisor."""
        pilots = {pilot.number: pilot for pilot in self._pbx.config.pilots}
        unknown = [ident for ident in ids if ident != "*" and ident not in pilots]
        if unknown:
            raise RestError.not_found(f"selectors[{index}]: unknown pilot(s) {', '.join(unknown)}")
        if session.admin:
            return _ALL if not ids or "*" in ids else set(ids)
        if not self._is_supervisor(session):
            raise RestError.not_allowed(
                f"selectors[{index}]: pilot events are for administrators and ACD supervisors"
            )
        groups = set(self._pbx.users[session.login].acd.groups)
        allowed = {number for number, pilot in pilots.items() if groups & set(pilot.groups)}
        wanted = allowed if not ids or "*" in ids else set(ids)
        if not wanted <= allowed:
            outside = ", ".join(sorted(wanted - allowed))
            raise RestError.not_allowed(
                f"selectors[{index}]: {session.login} does not supervise pilot(s) {outside}"
            )
        return wanted

    def _selector_logins(
        self, session: Session, selector: dict[str, Any], names: set[str], index: int
    ) -> set[str] | None:
        ids = selector.get("ids") or []
        if names and all(_PACKAGE_OF.get(n) == _PILOT for n in names):
            return self._selector_pilots(session, ids, index)
        admin_package = bool(names) and all(_PACKAGE_OF.get(n) in _ADMIN_PACKAGES for n in names)
        if admin_package:
            if not session.admin:
                raise RestError.not_allowed(f"selectors[{index}]: events for administrators only")
            return _ALL
        if not session.admin:
            if any(ident not in (session.login, "*") for ident in ids) or "*" in ids:
                raise RestError.not_allowed(
                    f"selectors[{index}]: a user session may only subscribe for itself"
                )
            return {session.login}
        if not ids:
            raise RestError.bad_parameter(
                f"selectors[{index}].ids is mandatory in an administrator session"
            )
        if "*" in ids:
            return _ALL
        unknown = [ident for ident in ids if ident not in self._pbx.users]
        if unknown:
            raise RestError.not_found(f"selectors[{index}]: unknown login(s) {', '.join(unknown)}")
        return set(ids)

    def _license_refusal(self, session: Session, routes: dict[str, Any]) -> str | None:
        """Why the licences forbid this filter, or None."""
        supervised: set[str] = set()
        for name, logins in routes.items():
            if _PACKAGE_OF.get(name) in _LICENSED_PACKAGES:
                supervised |= set(self._pbx.users) if logins is _ALL else set(logins)
        if not supervised:
            return None
        if not session.admin:
            user = self._pbx.users.get(session.login)
            if user and not self._pbx.has_license(user, ["TELEPHONY_BASIC", "TELEPHONY_ADVANCED"]):
                return f"User {session.login} has no telephony license"
            return None
        available = self._pbx.config.licenses.get("TELEPHONY_ADVANCED", 0)
        if len(supervised) > available:
            return (
                f"License check failed: {len(supervised)} supervised users exceed the "
                f"{available} TELEPHONY_ADVANCED licenses"
            )
        return None

    def _reindex(self) -> None:
        index: dict[str, list[Subscription]] = {}
        for subscription in self._subscriptions.values():
            for name in subscription.routes:
                index.setdefault(name, []).append(subscription)
        self._by_name = index

    # -- publish --------------------------------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> None:
        """Queue ``event`` on every subscription that selects it (encoded once)."""
        subscriptions = self._by_name.get(event["eventName"])
        if not subscriptions:
            return
        name = event["eventName"]
        login = event.get("pilot") if _PACKAGE_OF.get(name) == _PILOT else event.get("loginName")
        line = None
        for subscription in subscriptions:
            if subscription.matches(name, login):
                if line is None:
                    line = encode_event(event)
                subscription.push(line)

    # -- chunk channel --------------------------------------------------------------------------

    async def serve_channel(
        self, request: web.Request, subscription: Subscription
    ) -> web.StreamResponse:
        """Stream the subscription's events as NDJSON until timeout, DELETE or disconnect."""
        subscription.drop_channel()  # a newer channel replaces the old one, if any
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Cache-Control": "no-cache"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        subscription._channel, subscription._request = response, request
        idle_limit = (
            subscription.timeout * self._timing.channel_minute
            if subscription.timeout
            else self._timing.keepalive_interval
        )
        try:
            await response.write(CHUNK_STARTED)
            while not subscription._closed:
                if subscription.queue:
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        break  # the client went away: keep the queue for its return
                    batch = list(subscription.queue)
                    subscription.queue.clear()
                    try:
                        await response.write(b"".join(batch))
                    except ConnectionError:
                        subscription.queue.extendleft(reversed(batch))
                        raise
                    continue
                subscription._wakeup.clear()
                try:
                    await asyncio.wait_for(subscription._wakeup.wait(), idle_limit)
                except TimeoutError:
                    if subscription.timeout:
                        break  # no activity for `timeout` minutes: the server closes
                    await response.write(KEEPALIVE)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if subscription._channel is response:
                subscription._channel = subscription._request = None
        return response

    # -- webhooks -------------------------------------------------------------------------------

    async def _deliver_webhook(self, subscription: Subscription) -> None:
        """POST each queued event to the webhook; a failed POST is retried, in order."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        while not subscription._closed:
            if not subscription.queue:
                subscription._wakeup.clear()
                await subscription._wakeup.wait()
                continue
            line = subscription.queue[0]
            try:
                async with self._http.post(
                    subscription.webhook_url,
                    data=line,
                    headers={"Content-Type": "application/json"},
                ) as answer:
                    delivered = answer.status < 300
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("webhook %s: %s", subscription.webhook_url, exc)
                delivered = False
            if delivered:
                if subscription.queue and subscription.queue[0] is line:
                    subscription.queue.popleft()
            else:
                await asyncio.sleep(self._timing.webhook_retry)

    async def close(self) -> None:
        """End every subscription and the webhook client (the simulator is stopping)."""
        for subscription in list(self._subscriptions.values()):
            self._remove(subscription)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "subscriptionId": s.id,
                "login": s.session.login,
                "filter": s.filter,
                "timeout": s.timeout,
                "queued": len(s.queue),
                "dropped": s.dropped,
                "connected": s.connected,
                "webHookUrl": s.webhook_url,
            }
            for s in self._subscriptions.values()
        ]

"""One gateway connection: discovery, login, the session's upkeep, retries and failover.

``Connection.request`` is what every service method calls. It sends one request
on the active server's session and turns the answer into a value or an error. A
403 INVALID_SESSION logs in again once and repeats the request; NOT_READY and
503 answers are retried with backoff while ``canRetry`` allows, for at most
``retry_for`` seconds; with a secondary server, connection failures and
NOT_READY switch servers instead. A single server that cannot be reached fails
at once with ``O2GConnectionError`` (event streams keep reconnecting).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from typing import Any

import httpx

from .errors import (
    AuthenticationError,
    InvalidSessionError,
    NotReadyError,
    O2GConnectionError,
    O2GError,
    O2GProtocolError,
    error_from_answer,
)

__all__ = ["Backoff", "Connection", "RequestHook", "Verify"]

log = logging.getLogger("o2g_flows.client")

Verify = bool | str | PathLike[str] | ssl.SSLContext
#: Transport failures that happen before the request reached the server: safe to send again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
#: Told of every request sent on the session: method, service (the first segment of the
#: path: ``telephony``, ``routing``...), HTTP status (None when no answer came) and seconds.
RequestHook = Callable[[str, str, int | None, float], None]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: attempt 0 waits nothing, then ``initial``..."""

    initial: float = 0.2
    maximum: float = 15.0
    factor: float = 2.0
    jitter: float = 0.5  # up to this fraction of each delay is removed at random

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first try)."""
        if attempt <= 0:
            return 0.0
        base = min(self.maximum, self.initial * self.factor ** (attempt - 1))
        return base * (1.0 - self.jitter * random.random())


def retryable(error: Exception) -> bool:
    """A failure that may pass if tried again later or on the other server."""
    if isinstance(error, O2GConnectionError):
        return True
    if isinstance(error, NotReadyError) or (
        isinstance(error, O2GError) and error.status_code == 503
    ):
        return error.can_retry is not False
    return False


class Connection:
    """The HTTP client, the session and the servers it may use."""

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
        backoff: Backoff,
        retry_for: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.servers = [_origin(url)] + ([_origin(secondary_url)] if secondary_url else [])
        self.login = login
        self._auth = httpx.BasicAuth(login, password)
        self._app_name = app_name
        self._supervised = _supervised_account(supervised)
        self.backoff = backoff
        self._retry_for = retry_for
        self.http = httpx.AsyncClient(
            verify=_ssl_context(verify), timeout=timeout, transport=transport
        )
        self.active = 0
        self.base_url = ""
        self._sessions_url = ""
        #: The SessionInfo of the open session.
        self.session: dict[str, Any] = {}
        #: Incremented by every login: a change means sessions and subscriptions were lost.
        self.generation = 0
        self.closed = False
        self._lock = asyncio.Lock()
        self._keepalive_task: asyncio.Task[None] | None = None
        self.on_request: RequestHook | None = None
        #: Times the connection moved to the other server, and event channels reconnected.
        self.failovers = 0
        self.channel_reconnects = 0

    @property
    def server(self) -> str:
        """The origin of the server in use (``https://host:port``)."""
        return self.servers[self.active]

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Log in (on the first server that answers) and start the keepalive."""
        try:
            await self._establish(list(range(len(self.servers))))
        except BaseException:
            await self.http.aclose()
            raise
        self._keepalive_task = asyncio.get_running_loop().create_task(
            self._keepalive(), name="o2g-keepalive"
        )

    async def close(self) -> None:
        """Close the session (best effort) and the HTTP client."""
        if self.closed:
            return
        self.closed = True
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            await asyncio.gather(self._keepalive_task, return_exceptions=True)
        if self._sessions_url:
            try:
                await self.http.delete(self._sessions_url, timeout=2.0)
            except httpx.HTTPError as exc:
                log.debug("closing the O2G session on %s failed: %r", self.server, exc)
        await self.http.aclose()
        log.info("O2G session of %s on %s closed", self.login, self.server)

    # -- requests -----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        expect: str | None = None,
    ) -> Any:
        """Send ``method base_url+path`` on the session; the decoded answer or an O2GError.

        ``expect`` is what a 2xx answer must hold: ``"object"``, ``"string"`` (a ``?``
        suffix allows an empty answer, returned as None), ``"bytes"``, or None (ignored).
        """
        if self.closed:
            raise O2GConnectionError(f"{method} {path}: the client is closed")
        relogged = False
        attempt = 0
        deadline = 0.0
        while True:
            generation = self.generation
            url = self.base_url + path
            hook = self.on_request
            sent = time.perf_counter() if hook is not None else 0.0
            try:
                response = await self.http.request(method, url, params=params, json=json)
            except httpx.TransportError as exc:
                if hook is not None:
                    hook(method, _service(path), None, time.perf_counter() - sent)
                error: O2GError = _transport_error(method, url, exc)
                if len(self.servers) == 1 or not isinstance(exc, NOT_SENT):
                    raise error from exc
            else:
                if hook is not None:
                    hook(method, _service(path), response.status_code, time.perf_counter() - sent)
                if response.status_code < 300:
                    return decode(response, expect, method, url)
                error = error_from_answer(method, url, response.status_code, response.content)
                if type(error) is InvalidSessionError and not relogged:
                    relogged = True
                    await self.reopen(generation, f"{method} {path} met INVALID_SESSION")
                    continue
                if not retryable(error):
                    raise error
            now = asyncio.get_running_loop().time()
            deadline = deadline or now + self._retry_for
            if now >= deadline:
                raise error
            attempt += 1
            if len(self.servers) > 1:
                await asyncio.sleep(self.backoff.delay(attempt - 1))  # the first switch is at once
                try:
                    await self.fail_over(generation, str(error))
                except O2GError as failed:
                    if not retryable(failed):
                        raise
            else:
                log.info("%s; retrying", error)
                await asyncio.sleep(self.backoff.delay(attempt))

    # -- sessions -----------------------------------------------------------------------------

    async def reopen(self, generation: int, reason: str) -> None:
        """Log in again after the session of ``generation`` was lost (once, however many ask)."""
        async with self._lock:
            if self.generation != generation or self.closed:
                return
            log.warning(
                "O2G session of %s on %s lost (%s); logging in again",
                self.login,
                self.server,
                reason,
            )
            others = [i for i in range(len(self.servers)) if i != self.active]
            await self._establish([self.active, *others], relogin=True)

    async def fail_over(self, generation: int, reason: str) -> None:
        """Move to the other server after the one of ``generation`` failed (once for all)."""
        async with self._lock:
            if self.generation != generation or self.closed:
                return
            others = [i for i in range(len(self.servers)) if i != self.active]
            log.warning(
                "O2G server %s failed (%s); switching to %s",
                self.server,
                reason,
                ", ".join(self.servers[i] for i in others),
            )
            await self._establish([*others, self.active])

    async def _establish(self, order: list[int], relogin: bool = False) -> None:
        """Log in on the first server of ``order`` that accepts, retrying for ``retry_for``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        previous = self.active if self.generation else None
        attempt = 0
        while True:
            for index in order:
                try:
                    await self._login(index)
                except O2GError as exc:
                    alone = len(self.servers) == 1 and isinstance(exc, O2GConnectionError)
                    if alone or not retryable(exc):
                        raise  # a single unreachable server fails at once; NOT_READY waits
                    log.warning("cannot open an O2G session on %s: %s", self.servers[index], exc)
                    last = exc
                    continue
                if previous is not None and index != previous:
                    self.failovers += 1
                    log.warning(
                        "O2G failover: now on %s (was %s)", self.server, self.servers[previous]
                    )
                elif relogin:
                    log.warning("O2G session of %s reopened on %s", self.login, self.server)
                return
            attempt += 1
            if loop.time() >= deadline:
                raise last
            await asyncio.sleep(self.backoff.delay(attempt))

    async def _login(self, index: int) -> None:
        """Discovery, Basic authentication and a new session on server ``index``."""
        origin = self.servers[index]
        self.http.cookies.clear()
        descriptor = await self._send("GET", f"{origin}/api/rest", "object")
        version = _choose_version(descriptor, origin)
        auth_url = _rebase(origin, version.get("internalUrl"), version.get("publicUrl"))
        credential = await self._send("GET", auth_url, "object", auth=self._auth)
        sessions_url = _rebase(origin, credential.get("internalUrl"), credential.get("publicUrl"))
        body: dict[str, Any] = {"applicationName": self._app_name}
        if self._supervised:
            body["supervisedAccount"] = self._supervised
        session = await self._send("POST", sessions_url, "object", json=body)
        base_url = session.get("privateBaseUrl") or session.get("publicBaseUrl")
        self.base_url = (
            _rebase(origin, base_url) if base_url else sessions_url.rsplit("/sessions", 1)[0]
        )
        self._sessions_url = sessions_url
        self.session = session
        self.active = index
        self.generation += 1
        log.info(
            "O2G session opened on %s for %s (admin=%s, timeToLive=%ss)",
            origin,
            self.login,
            session.get("admin"),
            session.get("timeToLive"),
        )

    async def _send(self, method: str, url: str, expect: str, **kwargs: Any) -> Any:
        """One request outside the session logic (discovery and login)."""
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise _transport_error(method, url, exc) from exc
        if response.status_code >= 300:
            refused = response.status_code in (401, 403) and "auth" in kwargs
            raise error_from_answer(
                method,
                url,
                response.status_code,
                response.content,
                AuthenticationError if refused else None,
            )
        return decode(response, expect, method, url)

    async def _keepalive(self) -> None:
        """Restart the session timer at half its time to live, for as long as the client is open."""
        while True:
            ttl = self.session.get("timeToLive") or 1800
            await asyncio.sleep(max(float(ttl) / 2, 0.05))
            try:
                await self.request("POST", "/sessions/keepalive")
            except O2GError as exc:
                log.warning("O2G keepalive failed: %s", exc)


def decode(response: httpx.Response, expect: str | None, method: str, url: str) -> Any:
    """The value of a 2xx answer, checked against ``expect``."""
    if expect is None:
        return None
    content = response.content
    if expect == "bytes":
        return content
    kind = expect.rstrip("?")
    if not content.strip():
        if expect.endswith("?"):
            return None
        raise O2GProtocolError(
            f"{method} {url} answered {response.status_code} with no body; expected a JSON {kind}",
            method=method,
            url=url,
            status_code=response.status_code,
        )
    try:
        value = json.loads(content)
    except ValueError:
        if kind == "string":
            return content.decode("utf-8", "replace").strip()  # a bare id, as text
        value = _NOT_JSON
    if (kind == "object" and type(value) is dict) or (kind == "string" and type(value) is str):
        return value
    what = "is not JSON" if value is _NOT_JSON else f"is not a JSON {kind}"
    raise O2GProtocolError(
        f"{method} {url} answered {response.status_code} with a body that {what}",
        text=content.decode("utf-8", "replace"),
        method=method,
        url=url,
        status_code=response.status_code,
    )


_NOT_JSON = object()


def _transport_error(method: str, url: str, exc: httpx.TransportError) -> O2GConnectionError:
    detail = str(exc) or type(exc).__name__
    return O2GConnectionError(f"{method} {url} failed: {detail}", method=method, url=url)


def _origin(url: str) -> str:
    """``https://host:port`` from what the user gave (a trailing ``/api/rest`` is allowed)."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"O2G server URL must be http(s)://host[:port], got {url!r}")
    path = parsed.path.rstrip("/").removesuffix("/api/rest")
    return str(parsed.copy_with(path=path or "", query=None, fragment=None)).rstrip("/")


def _rebase(origin: str, *candidates: str | None) -> str:
    """The first advertised URL, moved onto the origin the client was configured with.

    Gateways advertise URLs under their own idea of their address (an internal
    ``http://host:80``...); the configured origin is the one known to work.
    """
    url = next((c for c in candidates if c), None)
    if url is None:
        raise O2GProtocolError("the gateway advertised no URL", text=repr(candidates))
    tail = httpx.URL(url).raw_path.decode("ascii")
    prefix = httpx.URL(origin).path.rstrip("/")
    if prefix and tail.startswith(prefix + "/"):
        tail = tail[len(prefix) :]
    return origin + tail


def _choose_version(descriptor: dict[str, Any], origin: str) -> dict[str, Any]:
    """Version ``1.0`` of the descriptor, else the CURRENT one."""
    versions = descriptor.get("versions")
    if not isinstance(versions, list) or not versions:
        raise O2GProtocolError(
            f"GET {origin}/api/rest lists no API version", text=json.dumps(descriptor)
        )
    chosen = next((v for v in versions if isinstance(v, dict) and v.get("id") == "1.0"), None)
    chosen = chosen or next(
        (v for v in versions if isinstance(v, dict) and v.get("status") == "CURRENT"), None
    )
    if chosen is None:
        raise O2GProtocolError(
            f"GET {origin}/api/rest offers no usable API version", text=json.dumps(descriptor)
        )
    return chosen


def _supervised_account(supervised: str | dict[str, str] | None) -> dict[str, str] | None:
    if supervised is None or isinstance(supervised, dict):
        return supervised
    if isinstance(supervised, str) and supervised:
        return {"id": supervised, "type": "LOGIN_NAME"}
    raise TypeError(
        f"supervised must be a login name or a SupervisedAccount dict, not {supervised!r}"
    )


def _ssl_context(verify: Verify) -> ssl.SSLContext | bool:
    """``verify`` as httpx takes it: True (system CAs), False, or a context for a CA bundle."""
    if isinstance(verify, bool | ssl.SSLContext):
        return verify
    try:
        return ssl.create_default_context(cafile=str(verify))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"verify={verify!r}: cannot load the CA bundle: {exc}") from exc


def _service(path: str) -> str:
    """The service a session path belongs to: ``/telephony/calls/1/answer`` -> telephony."""
    return path.lstrip("/").split("/", 1)[0].split("?", 1)[0] or "-"

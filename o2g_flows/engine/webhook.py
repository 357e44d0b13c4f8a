"""The built-in webhook event source: ``POST /hooks/NAME`` with a JSON object becomes the
event ``OnWebhook`` (the body's fields, ``hook: NAME``).

The socket is bound before the engine starts (``bind``), so a port already taken is one
clear error and a non-zero exit, never an engine running deaf. Loopback by default; bound
elsewhere it requires ``Authorization: Bearer TOKEN``. The answer says what happened:
``202`` once the event is handed to the flows, or with ``?wait=SECONDS`` the executions it
started and how they ended (``200``; ``422`` when an action failed; ``202`` for those still
running when the wait is over), with the flows that dropped it and why.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import ipaddress
import json
import logging
import socket
from typing import TYPE_CHECKING, Any

from .observer import Observer

if TYPE_CHECKING:  # aiohttp (and the registry) are imported where the server runs, not by --help
    from aiohttp import web

    from .registry import Emit, EventSource
    from .state import Execution

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "WEBHOOK_EVENT", "WebhookServer", "webhook_source"]

log = logging.getLogger("o2g_flows.engine")

WEBHOOK_EVENT = "OnWebhook"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_WAIT = 60.0
MAX_BODY = 1024 * 1024
_JSON = functools.partial(json.dumps, default=str)


class WebhookServer:
    """The HTTP endpoint of the webhook source, bound once, served while the engine runs."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, token: str = "") -> None:
        if not token and not _loopback(host):
            raise ValueError(f"the webhook on {host} needs a bearer token (set one)")
        self.host = host
        self.port = port
        self.token = token
        self.sock: socket.socket | None = None

    def bind(self) -> WebhookServer:
        """Take the port now; raises ``OSError`` (a port in use) with a one-line message."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            reason = exc.strerror or str(exc)
            raise OSError(f"webhook: cannot listen on {self.host}:{self.port}: {reason}") from None
        sock.listen(128)
        sock.setblocking(False)
        self.sock = sock
        self.port = sock.getsockname()[1]
        return self

    @property
    def url(self) -> str:
        """Where hooks are posted, ``http://HOST:PORT/hooks/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/hooks/"

    async def run(self, emit: Emit) -> None:
        """Serve until cancelled (binding first if ``bind`` was not called)."""
        if self.sock is None:
            self.bind()
        assert self.sock is not None
        import asyncio

        from aiohttp import web

        app = web.Application(client_max_size=MAX_BODY)

        async def receive(request: web.Request) -> web.Response:
            return await self._receive(request, emit)

        app.router.add_post("/hooks/{name}", receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, self.sock).start()
        log.info("webhook  listening on %s", self.url)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            self.sock = None

    async def _receive(self, request: web.Request, emit: Emit) -> web.Response:
        import asyncio

        from aiohttp import web

        if self.token and not hmac.compare_digest(
            request.headers.get("Authorization", ""), f"Bearer {self.token}"
        ):
            return web.json_response({"error": "a bearer token is required"}, status=401)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        name = request.match_info["name"]
        event = {**body, "eventName": WEBHOOK_EVENT, "hook": name}
        wait = _seconds(request.query.get("wait"))
        engine = getattr(emit, "__self__", None)  # Engine.emit: the outcome can be watched
        if wait is None or engine is None:
            emit(event)
            return web.json_response({"accepted": True, "hook": name}, status=202)
        watch = _Watch(event)
        engine.observe.add(watch)
        try:
            emit(event)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(engine.idle(), wait)
        finally:
            engine.observe.remove(watch)
        return watch.answer(name)


def webhook_source(server: WebhookServer | None = None) -> EventSource:
    """The ``webhook`` event source serving on ``server`` (loopback, the default port)."""
    from .registry import EventSource

    target = server or WebhookServer()
    return EventSource(
        "webhook",
        target.run,
        (WEBHOOK_EVENT,),
        "POST /hooks/NAME with a JSON object: the event OnWebhook (the body, hook: NAME)",
    )


class _Watch(Observer):
    """What became of one event: the executions it started and the flows that dropped it."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.runs: dict[int, dict[str, Any]] = {}
        self.drops: list[dict[str, str]] = []

    def started(self, at: float, execution: Execution, condition: Any) -> None:
        if execution.event is self.event:
            self.runs[execution.id] = {
                "flow": execution.flow,
                "key": execution.key,
                "outcome": None,
                "errors": [],
            }

    def action(
        self,
        at: float,
        execution: Execution,
        name: str,
        args: dict[str, Any],
        ok: bool,
        result: Any,
        ms: float,
    ) -> None:
        run = self.runs.get(execution.id)
        if run is not None and not ok:
            run["errors"].append({"action": name, **(result if isinstance(result, dict) else {})})

    def ended(self, at: float, execution: Execution, outcome: str) -> None:
        run = self.runs.get(execution.id)
        if run is not None:
            run["outcome"] = outcome

    def dropped(self, at: float, flow: str, event: dict[str, Any], reason: str) -> None:
        if event is self.event:
            self.drops.append({"flow": flow, "reason": reason})

    def answer(self, hook: str) -> web.Response:
        from aiohttp import web

        runs = list(self.runs.values())
        for run in runs:
            if run["outcome"] is None:
                run["outcome"] = "running"
        status = 200
        if any(run["errors"] for run in runs):
            status = 422
        elif any(run["outcome"] == "running" for run in runs):
            status = 202
        body = {"hook": hook, "executions": runs, "dropped": self.drops}
        return web.json_response(body, status=status, dumps=_JSON)


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return min(max(float(text or MAX_WAIT), 0.0), MAX_WAIT)
    except ValueError:
        return MAX_WAIT


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

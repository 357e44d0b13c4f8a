"""Fixtures for client tests: a fast simulator, logged-in clients, the control API.

Every test talks to a real HTTP server: the simulator, or, for faults the
simulator never produces (garbage answers), the small ``fake_gateway`` below. The
``transport`` fixture is httpx's real network transport with a log of the answers and
a way to refuse chosen requests, given to the client with ``transport=``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

from o2g_flows.client import Backoff, O2GClient
from o2g_flows.sim import Simulator

FAST = {
    "ring_timeout": 0.3,
    "wrapup": 0.3,
    "voicemail_message": 0.05,
    "keepalive_interval": 0.2,
    "channel_minute": 0.5,
    "webhook_retry": 0.05,
}
#: Quick retries, so failure scenarios take milliseconds.
QUICK = {"backoff": Backoff(initial=0.02, maximum=0.2), "retry_for": 5.0, "timeout": 5.0}
#: Upper bound for waits in tests: a hang guard, never a measured duration.
GUARD = 10.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timing(**fields): simulator timings for this test")


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """The default PBX with timings shortened for tests (``@pytest.mark.timing`` adds more)."""
    marker = request.node.get_closest_marker("timing")
    timing = {**FAST, **(marker.kwargs if marker else {})}
    async with Simulator(timing=timing) as simulator:
        yield simulator


@pytest.fixture
async def control(sim: Simulator) -> AsyncIterator[Control]:
    """The simulator's control API (the outside world: callers, phones, agents)."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=GUARD) as http:
        yield Control(http)


class Control:
    """Calls to ``/sim/...``."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.http.post(path, json=body)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    async def emit(self, event: dict[str, Any]) -> None:
        await self.post("/sim/events", event)

    async def call(self, caller: str, callee: str) -> str:
        return (await self.post("/sim/calls", {"from": caller, "to": callee}))["callRef"]

    async def state(self) -> dict[str, Any]:
        answer = await self.http.get("/sim/state")
        answer.raise_for_status()
        return answer.json()

    async def channel_closed(self, subscription_id: str) -> None:
        """Wait until the simulator no longer has a channel open for the subscription."""
        for _ in range(int(GUARD / 0.02)):
            subscriptions = (await self.state())["subscriptions"]
            mine = [s for s in subscriptions if s["subscriptionId"] == subscription_id]
            if mine and not mine[0]["connected"]:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the channel of {subscription_id} stayed open")


Connect = Callable[..., Awaitable[O2GClient]]


@pytest.fixture
async def connect(sim: Simulator) -> AsyncIterator[Connect]:
    """``await connect("alice")``: an open client for a default-PBX account."""
    clients: list[O2GClient] = []

    async def open_(login: str, password: str | None = None, **options: Any) -> O2GClient:
        if password is None:
            account = sim.pbx.users.get(login) or sim.pbx.administrators[login]
            password = account.password
        client = O2GClient(options.pop("url", sim.url), login, password, **{**QUICK, **options})
        await client.open()
        clients.append(client)
        return client

    yield open_
    for client in clients:
        await client.close()


class Reader:
    """Reads an event stream step by step: ``await reader.next("OnCallCreated")``."""

    def __init__(self, events: AsyncIterable[dict[str, Any]]) -> None:
        self._events = aiter(events)

    async def next(self, name: str = "") -> dict[str, Any]:
        """The next event (named ``name`` if given), skipping others."""
        while True:
            event = await asyncio.wait_for(anext(self._events), GUARD)
            if not name or event["eventName"] == name:
                return event


@pytest.fixture
def reader() -> type[Reader]:
    """``reader(o2g.events(subscription))``."""
    return Reader


class RecordingTransport(httpx.AsyncHTTPTransport):
    """The network transport, noting every answer; ``refuse(request)`` true fails a request
    as an unreachable server would."""

    def __init__(self) -> None:
        super().__init__()
        #: (monotonic time, method, path, status) of every answer, in order.
        self.answers: list[tuple[float, str, str, int]] = []
        self.refuse: Callable[[httpx.Request], bool] = lambda request: False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse(request):
            raise httpx.ConnectError("refused by the test", request=request)
        response = await super().handle_async_request(request)
        self.answers.append(
            (time.monotonic(), request.method, request.url.path, response.status_code)
        )
        return response

    def count(self, method: str, path: str) -> int:
        """How many answers ``method path`` got."""
        return sum(1 for _, m, p, _ in self.answers if (m, p) == (method, path))


@pytest.fixture
def transport() -> RecordingTransport:
    """``await connect("alice", transport=transport)``: see ``RecordingTransport``."""
    return RecordingTransport()


# -- a gateway that misbehaves on purpose -----------------------------------------------------


class FakeGateway:
    """Logs in like O2G; everything else answers what the test put in ``answers``."""

    def __init__(self) -> None:
        self.url = ""
        #: (method, path under /api/rest/1.0) -> (status, body bytes, content type)
        self.answers: dict[tuple[str, str], tuple[int, bytes, str]] = {}
        #: Chunks the event channel sends, then it stays open.
        self.channel: list[bytes] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/rest", self._descriptor)
        app.router.add_get("/api/rest/authenticate", self._authenticate)
        app.router.add_post("/api/rest/1.0/sessions", self._session)
        app.router.add_route("*", "/api/rest/1.0/{tail:.*}", self._answer)
        app.router.add_route("*", "/events", self._events)
        return app

    async def _descriptor(self, request: web.Request) -> web.Response:
        url = f"{self.url}/api/rest/authenticate?version=1.0"
        version = {"id": "1.0", "status": "CURRENT", "publicUrl": url, "internalUrl": url}
        return web.json_response({"versions": [version]})

    async def _authenticate(self, request: web.Request) -> web.Response:
        sessions = f"{self.url}/api/rest/1.0/sessions"
        answer = web.json_response({"credential": "c", "publicUrl": sessions})
        answer.set_cookie("AlcUserId", "c", path="/")
        return answer

    async def _session(self, request: web.Request) -> web.Response:
        base = f"{self.url}/api/rest/1.0"
        return web.json_response({"admin": False, "timeToLive": 60, "privateBaseUrl": base})

    async def _answer(self, request: web.Request) -> web.Response:
        if request.path.endswith("/subscriptions") and request.method == "POST":
            url = f"{self.url}/events?subscriptionId=s1"
            return web.json_response(
                {"subscriptionId": "s1", "privatePollingUrl": url, "status": "ACCEPTED"}
            )
        key = (request.method, request.path.removeprefix("/api/rest/1.0"))
        status, body, content_type = self.answers.get(key, (204, b"", "application/json"))
        return web.Response(status=status, body=body, content_type=content_type)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for chunk in self.channel:
            await response.write(chunk)
        await asyncio.sleep(GUARD)
        return response


@pytest.fixture
async def fake_gateway() -> AsyncIterator[FakeGateway]:
    gateway = FakeGateway()
    runner = web.AppRunner(gateway.app(), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    gateway.url = f"http://127.0.0.1:{port}"
    yield gateway
    await runner.cleanup()

"""Fixtures for simulator tests: a fast simulator, logged-in clients, event readers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from o2g_flows.sim import Simulator

FAST = {
    "ring_timeout": 0.3,
    "wrapup": 0.3,
    "voicemail_message": 0.05,
    "keepalive_interval": 0.2,
    "channel_minute": 0.5,
    "webhook_retry": 0.05,
}
API = "/api/rest/1.0"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The default PBX with timings shortened for tests."""
    async with Simulator(timing=FAST) as simulator:
        yield simulator


def assert_error(
    answer: httpx.Response,
    status: int,
    error_type: str,
    text: str = "",
    *,
    telephony: str | None = None,
) -> dict[str, Any]:
    """Assert a RestErrorInfo answer: status, ``type``, ``text`` within ``innerMessage`` and,
    if given, the ``telephony`` detail's errorType; return the body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    body = answer.json()
    assert body["type"] == error_type, body
    assert text in body["innerMessage"], body
    if telephony is not None:
        assert body["telephony"]["errorType"] == telephony, body
    return body


async def login(sim: Simulator, user: str, password: str, **session: Any) -> httpx.AsyncClient:
    """An httpx client with an open session for ``user`` (close it with ``aclose``)."""
    client = httpx.AsyncClient(base_url=sim.url + API, timeout=5)
    answer = await client.get(sim.url + "/api/rest/authenticate?version=1.0", auth=(user, password))
    answer.raise_for_status()
    answer = await client.post("/sessions", json={"applicationName": "tests", **session})
    answer.raise_for_status()
    return client


@pytest.fixture
async def session_of(sim: Simulator):
    """``await session_of("alice")`` logs in with the default PBX's password."""
    clients: list[httpx.AsyncClient] = []

    async def open_(user: str, password: str | None = None, **session: Any) -> httpx.AsyncClient:
        pbx = sim.pbx
        if password is None:
            account = pbx.users.get(user) or pbx.administrators[user]
            password = account.password
        client = await login(sim, user, password, **session)
        clients.append(client)
        return client

    yield open_
    for client in clients:
        await client.aclose()


class EventReader:
    """Reads a subscription's chunk channel in the background and collects its events."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._client = client
        self._url = url
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._read())
        self.started = asyncio.Event()

    async def _read(self) -> None:
        async with self._client.stream("POST", self._url) as stream:
            async for line in stream.aiter_lines():
                event = json.loads(line)
                if event["eventName"] == "OnChannelInformation":
                    self.started.set()
                    continue
                self.events.append(event)
                self._arrived.set()

    def names(self) -> list[str]:
        return [event["eventName"] for event in self.events]

    async def wait_for(
        self, name: str, count: int = 1, timeout: float = 3.0, **fields: Any
    ) -> dict[str, Any]:
        """Wait until ``count`` events named ``name`` (with these top-level fields) arrived."""

        def found() -> list[dict[str, Any]]:
            return [
                e
                for e in self.events
                if e["eventName"] == name and all(e.get(k) == v for k, v in fields.items())
            ]

        async with asyncio.timeout(timeout):
            while len(found()) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return found()[count - 1]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task


@pytest.fixture
async def subscribe():
    """``reader = await subscribe(client, names=[...], ids=[...], timeout=0)``."""
    readers: list[EventReader] = []

    async def open_(
        client: httpx.AsyncClient, names: list[str], ids: list[str] | None = None, timeout: int = 0
    ) -> EventReader:
        selector: dict[str, Any] = {"names": names}
        if ids is not None:
            selector["ids"] = ids
        answer = await client.post(
            "/subscriptions",
            json={"filter": {"selectors": [selector]}, "version": "1.0", "timeout": timeout},
        )
        answer.raise_for_status()
        body = answer.json()
        assert body["status"] == "ACCEPTED", body
        reader = EventReader(client, body["privatePollingUrl"])
        readers.append(reader)
        await asyncio.wait_for(reader.started.wait(), 3)
        reader.subscription_id = body["subscriptionId"]
        return reader

    yield open_
    for reader in readers:
        await reader.close()

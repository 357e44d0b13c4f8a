"""Fixtures of the plugin tests: a real mosquitto broker, the simulator, the MQTT bridge
running as the engine runs it, and a hub (an MQTT client) watching the broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from broker import Mosquitto

from o2g_flows.client import O2GClient
from o2g_flows.plugins import PluginSettings, Registry, ServiceContext, discover
from o2g_flows.sim import Simulator

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    """A broker: ``$O2G_TEST_MQTT`` (``.ci/run`` starts one), else a mosquitto of our own."""
    given = os.environ.get("O2G_TEST_MQTT")
    if given:
        yield given
        return
    broker = Mosquitto().start()
    try:
        yield broker.url
    finally:
        broker.close()


@pytest.fixture(autouse=True)
async def clean_broker(mqtt_url: str) -> None:
    """Clear the retained messages earlier tests left on the shared broker."""
    host, port = _address(mqtt_url)
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe("#")
        retained = set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                async for message in client.messages:
                    if message.retain:
                        retained.add(message.topic.value)
        for topic in retained:
            await client.publish(topic, b"", retain=True)


@pytest.fixture
def own_broker() -> Iterator[Mosquitto]:
    """A mosquitto of this test's own (to stop and restart)."""
    broker = Mosquitto().start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The shipped plugins, the MQTT bridge among them."""
    registry, errors = discover([ROOT / "plugins"], entry_points=False)
    assert errors == []
    return registry


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(timing={"ring_timeout": 30, "wrapup": 30}) as simulator:
        yield simulator


class Hub:
    """What a home-automation hub sees on the broker: every message, by topic."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self.changed = asyncio.Event()

    def payloads(self, topic: str) -> list[bytes]:
        """Every payload seen on ``topic``, oldest first."""
        return [m.payload for m in self.messages if m.topic.value == topic]  # type: ignore[misc]

    def last(self, topic: str) -> bytes | None:
        seen = self.payloads(topic)
        return seen[-1] if seen else None

    async def until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate()`` holds (re-checked on each message); its value."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; seen: {[m.topic.value for m in self.messages]}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))
        return value

    async def publish(self, topic: str, payload: bytes | str) -> None:
        await self.client.publish(topic, payload, qos=1)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 1883


async def _read(hub: Hub) -> None:
    async for message in hub.client.messages:
        hub.messages.append(message)
        hub.changed.set()


@pytest.fixture
def hub_at() -> Callable[..., Any]:
    """``async with hub_at(url, "#") as hub``: a hub subscribed to filters."""

    @contextlib.asynccontextmanager
    async def open_hub(url: str, *filters: str) -> AsyncIterator[Hub]:
        host, port = _address(url)
        async with aiomqtt.Client(host, port) as client:
            for topic_filter in filters or ("#",):
                await client.subscribe(topic_filter, qos=1)
            hub = Hub(client)
            reader = asyncio.create_task(_read(hub))
            try:
                yield hub
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    return open_hub


@pytest.fixture
async def bridge(
    registry: Registry, o2g: O2GClient
) -> AsyncIterator[Callable[..., Awaitable[ServiceContext]]]:
    """``ctx = await bridge(url=..., users=[...], ...)``: the ``mqtt`` service running on the
    simulator as ``o2g-flows run`` runs it (flows' events collected in ``ctx.emitted``)."""
    tasks: list[asyncio.Task[None]] = []

    async def start(**values: Any) -> ServiceContext:
        settings = PluginSettings("mqtt", values)
        assert registry.services["mqtt"].check(settings) == []  # type: ignore[misc]
        emitted: list[dict[str, Any]] = []
        context = ServiceContext("mqtt", o2g, settings, emitted.append)
        context.emitted = emitted  # type: ignore[attr-defined]
        task = asyncio.create_task(registry.services["mqtt"].run(context))
        context.task = task  # type: ignore[attr-defined]
        tasks.append(task)
        return context

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

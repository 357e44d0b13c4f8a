"""Recovery after an outage, and webhook-mode subscriptions, over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from o2g_flows.client import GAP_EVENT, Backoff
from o2g_flows.sim import Simulator

from .conftest import GUARD


async def test_the_event_stream_recovers_at_once_when_the_gateway_answers_again(
    sim: Simulator, connect, control, reader, transport
) -> None:
    o2g = await connect(
        "alice", transport=transport, backoff=Backoff(initial=0.1, maximum=5.0, jitter=0.0)
    )
    subscription = await o2g.subscribe(["telephony"])
    events = reader(o2g.events(subscription))
    gap = asyncio.create_task(events.next())
    await control.emit({"eventName": "OnUserStateModified", "loginName": "bob", "state": "BUSY"})
    async with asyncio.timeout(GUARD):
        while not sim.gateway.hub.get(subscription.id).connected:
            await asyncio.sleep(0.01)
    await sim.stop()
    await asyncio.sleep(1.6)  # the channel's reconnections back off: 0.1, 0.2, 0.4, 0.8, 1.6 s
    restarted = time.monotonic()
    await sim.start()
    assert (await asyncio.wait_for(gap, GUARD))["eventName"] == GAP_EVENT
    recovered = time.monotonic()
    first_answer = min(t for t, *_ in transport.answers if t >= restarted)
    assert recovered - first_answer < 1.0, (
        f"subscribed again {recovered - first_answer:.2f} s after the gateway answered"
    )


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, asyncio.Queue]]:
    """An application's webhook endpoint on 127.0.0.1: (its URL, the events it received)."""
    received: asyncio.Queue = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await received.put(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/o2g", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/o2g", received
    await runner.cleanup()


async def test_webhook_subscription_delivers_events_to_the_application(
    connect, control, webhook
) -> None:
    url, received = webhook
    o2g = await connect("alice")
    subscription = await o2g.subscribe(["telephony"], webhook_url=url)
    assert subscription.webhook_url == url and subscription.id
    assert subscription.request == {
        "filter": {"selectors": [{"names": ["telephony"]}]},
        "version": "1.0",
        "webHookUrl": url,
    }
    busy = {"eventName": "OnUserStateModified", "loginName": "alice", "state": "BUSY"}
    await control.emit({**busy, "loginName": "bob"})  # not selected
    await control.emit(busy)
    assert await asyncio.wait_for(received.get(), GUARD) == busy
    with pytest.raises(ValueError, match="no event channel"):
        o2g.events(subscription)
    await o2g.unsubscribe(subscription)
    assert (await control.state())["subscriptions"] == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "/relative", ""])
async def test_webhook_url_must_be_http(connect, url: str) -> None:
    o2g = await connect("alice")
    with pytest.raises(ValueError, match="webhook_url"):
        await o2g.subscribe(["telephony"], webhook_url=url)


async def test_a_webhook_subscription_has_no_timeout(connect, webhook) -> None:
    o2g = await connect("alice")
    with pytest.raises(ValueError, match="no timeout"):
        await o2g.subscribe(["telephony"], timeout=10, webhook_url=webhook[0])

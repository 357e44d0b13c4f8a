"""Subscriptions: selectors, licences, the chunk channel, keepalives, timeouts, webhooks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from aiohttp import web

from o2g_flows.sim import Simulator


def busy(login: str) -> dict:
    return {"eventName": "OnUserStateModified", "loginName": login, "state": "BUSY"}


def routing(login: str) -> dict:
    return {"eventName": "OnRoutingStateChanged", "loginName": login, "routingState": {}}


async def post_subscription(
    client: httpx.AsyncClient, selector: dict | None = None, **extra: Any
) -> httpx.Response:
    """POST /subscriptions with one selector (the session's telephony events by default)."""
    selectors = [selector or {"names": ["telephony"]}]
    return await client.post(
        "/subscriptions", json={"filter": {"selectors": selectors}, "version": "1.0", **extra}
    )


async def test_user_subscription_gets_only_its_own_events(
    sim: Simulator, session_of, subscribe
) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    sim.pbx.emit(busy("bob"))
    sim.pbx.emit(busy("alice"))
    event = await reader.wait_for("OnUserStateModified")
    assert event == busy("alice")
    assert reader.events == [busy("alice")]


async def test_filter_by_event_name(sim: Simulator, session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["OnRoutingStateChanged"])
    sim.pbx.emit(busy("alice"))
    sim.pbx.emit(routing("alice"))
    await reader.wait_for("OnRoutingStateChanged")
    assert reader.names() == ["OnRoutingStateChanged"]


async def test_filter_by_package_and_ids_for_an_administrator(
    sim: Simulator, session_of, subscribe
) -> None:
    admin = await session_of("admin")
    reader = await subscribe(admin, names=["routingManagement"], ids=["bob", "carol"])
    for login in ("alice", "bob", "carol"):
        sim.pbx.emit(routing(login))
        sim.pbx.emit(busy(login))
    await reader.wait_for("OnRoutingStateChanged", loginName="carol")
    assert [e["loginName"] for e in reader.events] == ["bob", "carol"]


async def test_wildcard_administrator_subscription_sees_everyone(
    sim: Simulator, session_of, subscribe
) -> None:
    admin = await session_of("admin")
    reader = await subscribe(admin, names=["telephony"], ids=["*"])
    sim.pbx.emit(busy("alice"))
    sim.pbx.emit(busy("judy"))
    await reader.wait_for("OnUserStateModified", loginName="judy")
    assert len(reader.events) == 2


async def test_selector_rules(session_of) -> None:
    alice = await session_of("alice")
    admin = await session_of("admin")

    mixed = await post_subscription(alice, {"names": ["telephony", "eventSummary"]})
    assert mixed.status_code == 400 and "one per selector" in mixed.json()["innerMessage"]
    unknown = await post_subscription(alice, {"names": ["OnNothing"]})
    assert unknown.status_code == 400 and "OnNothing" in unknown.json()["innerMessage"]
    other_user = await post_subscription(alice, {"names": ["telephony"], "ids": ["bob"]})
    assert other_user.status_code == 403
    admin_without_ids = await post_subscription(admin, {"names": ["telephony"]})
    assert admin_without_ids.status_code == 400
    assert "ids is mandatory" in admin_without_ids.json()["innerMessage"]
    system_for_user = await post_subscription(alice, {"names": ["system"]})
    assert system_for_user.status_code == 403
    bad_timeout = await post_subscription(alice, {"names": ["telephony"]}, timeout=1)
    assert bad_timeout.status_code == 400


async def test_licence_count_refuses_a_too_large_admin_subscription(session_of) -> None:
    admin = await session_of("admin")
    answer = await post_subscription(admin, {"names": ["telephony"], "ids": ["*"]})
    assert answer.json()["status"] == "ACCEPTED"  # 17 users, 100 licences


async def test_licence_refusal_names_the_reason() -> None:
    async with Simulator(timing={"keepalive_interval": 1}) as sim:
        sim.pbx.config.licenses["TELEPHONY_ADVANCED"] = 2
        async with httpx.AsyncClient(base_url=sim.url + "/api/rest/1.0") as admin:
            await admin.get(sim.url + "/api/rest/authenticate", auth=("admin", "admin"))
            await admin.post("/sessions", json={"applicationName": "t"})
            selector = {"names": ["telephony"], "ids": ["alice", "bob", "carol"]}
            answer = await post_subscription(admin, selector)
    body = answer.json()
    assert body["status"] == "REFUSED"
    assert "3 supervised users exceed the 2" in body["message"]


async def test_put_changes_the_filter(sim: Simulator, session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    answer = await alice.put(
        "/subscriptions", json={"selectors": [{"names": ["routingManagement"]}]}
    )
    assert answer.status_code == 204
    sim.pbx.emit(busy("alice"))
    sim.pbx.emit(routing("alice"))
    await reader.wait_for("OnRoutingStateChanged")
    assert reader.names() == ["OnRoutingStateChanged"]


async def test_delete_closes_the_channel(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    body = (await post_subscription(alice, timeout=0)).json()
    lines = []
    started = asyncio.Event()

    async def read() -> None:
        async with alice.stream("GET", body["publicPollingUrl"]) as stream:
            async for line in stream.aiter_lines():
                lines.append(json.loads(line))
                started.set()

    reading = asyncio.create_task(read())
    await asyncio.wait_for(started.wait(), 2)
    assert (await alice.delete(f"/subscriptions/{body['subscriptionId']}")).status_code == 204
    await asyncio.wait_for(reading, 2)  # the response ended
    assert lines[0] == {"eventName": "OnChannelInformation", "text": "Chunk started"}
    assert (await alice.delete(f"/subscriptions/{body['subscriptionId']}")).status_code == 404


async def test_keepalives_on_a_timeout_zero_channel(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    body = (await post_subscription(alice, timeout=0)).json()
    texts = []
    async with alice.stream("POST", body["privatePollingUrl"]) as stream:
        async for line in stream.aiter_lines():
            texts.append(json.loads(line)["text"])
            if len(texts) == 3:
                break
    assert texts == ["Chunk started", "keepalive", "keepalive"]


async def test_channel_closes_after_timeout_without_activity(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")  # FAST: one subscription minute lasts 0.5 s
    body = (await post_subscription(alice, timeout=2)).json()
    lines = []
    async with asyncio.timeout(3), alice.stream("POST", body["privatePollingUrl"]) as stream:
        async for line in stream.aiter_lines():
            lines.append(line)
    assert len(lines) == 1  # "Chunk started", then closed by the server


async def test_events_are_queued_while_the_channel_is_down(
    sim: Simulator, session_of, subscribe
) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    await reader.close()
    async with httpx.AsyncClient(base_url=sim.url) as control, asyncio.timeout(3):
        while (await control.get("/sim/state")).json()["subscriptions"][0]["connected"]:
            await asyncio.sleep(0.01)  # until the gateway notices the channel is gone
    sim.pbx.emit(busy("alice"))  # nobody reading: queued
    lines = []
    url = f"{sim.url}/OTEvents?subscriptionId={reader.subscription_id}"
    async with alice.stream("POST", url) as stream:
        async for line in stream.aiter_lines():
            lines.append(json.loads(line))
            if len(lines) == 2:
                break
    assert lines[1] == busy("alice")


async def test_control_api_drops_the_channel(sim: Simulator, session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    async with httpx.AsyncClient(base_url=sim.url) as control:
        answer = await control.post(f"/sim/subscriptions/{reader.subscription_id}/drop")
        assert answer.status_code == 204
        with pytest.raises(httpx.RemoteProtocolError):  # the reader saw the cut
            await asyncio.wait_for(asyncio.shield(reader._task), 2)
        assert (
            await control.post(f"/sim/subscriptions/{reader.subscription_id}/drop")
        ).status_code == 404


async def test_unknown_subscription_channel(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.post("/OTEvents?subscriptionId=nope")
    assert answer.status_code == 404


async def test_closing_the_session_closes_its_subscriptions(
    sim: Simulator, session_of, subscribe
) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    await alice.delete("/sessions")
    await asyncio.wait_for(asyncio.shield(reader._task), 2)
    assert sim.gateway.hub.get(reader.subscription_id) is None


async def test_webhook_delivery_posts_each_event(sim: Simulator, session_of) -> None:
    received: list[dict] = []
    failures = [1]  # the first POST fails: the event must be retried, not lost

    async def hook(request: web.Request) -> web.Response:
        if failures:
            failures.pop()
            return web.Response(status=503)
        received.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        alice = await session_of("alice")
        answer = await post_subscription(alice, webHookUrl=f"http://127.0.0.1:{port}/hook")
        assert answer.json()["status"] == "ACCEPTED"
        assert "privatePollingUrl" not in answer.json()
        sim.pbx.emit(busy("alice"))
        sim.pbx.emit(routing("alice"))  # not selected
        sim.pbx.emit({**busy("alice"), "state": "FREE"})
        async with asyncio.timeout(3):
            while len(received) < 2:
                await asyncio.sleep(0.02)
        assert [e["state"] for e in received] == ["BUSY", "FREE"]
    finally:
        await runner.cleanup()


async def test_control_api_injects_events_and_dumps_state(
    sim: Simulator, session_of, subscribe
) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["telephony"])
    async with httpx.AsyncClient(base_url=sim.url) as control:
        assert (await control.post("/sim/events", json=busy("alice"))).status_code == 204
        bad = await control.post("/sim/events", json={"no": "name"})
        assert bad.status_code == 400
        state = (await control.get("/sim/state")).json()
    await reader.wait_for("OnUserStateModified")
    assert state["users"]["alice"]["companyPhone"] == "2001"
    assert state["subscriptions"][0]["login"] == "alice"


async def test_without_a_filter_a_user_gets_all_its_packages(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    answer = await alice.post("/subscriptions", json={"version": "1.0", "timeout": 0})
    assert answer.json()["status"] == "ACCEPTED"
    subscription = sim.gateway.hub.get(answer.json()["subscriptionId"])
    assert subscription.matches("OnCallCreated", "alice")
    assert subscription.matches("OnRoutingStateChanged", "alice")
    assert not subscription.matches("OnCallCreated", "bob")
    assert not subscription.matches("OnPbxLoaded", None)  # system events: administrators only


async def test_without_a_filter_an_administrator_gets_everything(
    sim: Simulator, session_of
) -> None:
    admin = await session_of("admin")
    answer = await admin.post("/subscriptions", json={"version": "1.0", "timeout": 0})
    assert answer.json()["status"] == "ACCEPTED"
    subscription = sim.gateway.hub.get(answer.json()["subscriptionId"])
    assert subscription.matches("OnCallCreated", "bob")
    assert subscription.matches("OnPbxLoaded", None)

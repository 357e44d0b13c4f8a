"""The status server: what an operator sees of a running engine, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from o2g_flows.app import Metrics, serve, status_app
from o2g_flows.engine import Engine, RecordingGateway, load_text

RING = """\
flow: ring
key: event.callRef
users: [alice]
start:
  on: OnCallCreated
  goto: ringing
states:
  ringing:
    after: {seconds: 600, goto: voicemail}
    on:
      OnCallRemoved: {goto: end}
  voicemail:
    enter: [{redirect: {to: VOICEMAIL}}]
    goto: end
"""

ANSWER = """\
flow: answer
users: [reception]
on: OnCallCreated
do: [answer]
"""


class Served:
    def __init__(self, engine: Engine, http: httpx.AsyncClient) -> None:
        self.engine = engine
        self.http = http

    async def send(self, name: str, **fields: Any) -> None:
        self.engine.dispatch({"eventName": name, **fields})
        await self.engine.idle()


async def start_served(token: str | None = None) -> tuple[Served, Any]:
    flows = [*load_text(RING, "ring.yaml").flows, *load_text(ANSWER, "answer.yaml").flows]
    engine = Engine(flows, RecordingGateway())
    await engine.start()
    metrics = Metrics(engine)
    runner = await serve(status_app(engine, metrics=metrics, token=token), "127.0.0.1", 0)
    port = runner.addresses[0][1]
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5)
    return Served(engine, http), runner


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    node, runner = await start_served()
    yield node
    await node.http.aclose()
    await runner.cleanup()
    await node.engine.stop()


async def test_status_lists_flows_and_counts(served):
    await served.send("OnCallCreated", callRef="c1", loginName="alice")
    status = (await served.http.get("/api/status")).json()
    assert [(f["name"], f["kind"], f["live"]) for f in status["flows"]] == [
        ("answer", "rule", 0),
        ("ring", "machine", 1),
    ]
    assert status["executions"] == 1 and status["timers"] == 1 and status["broken"] == []


async def test_a_live_execution_shows_its_state_timers_and_trace(served):
    await served.send("OnCallCreated", callRef="c1", loginName="alice")
    (execution,) = (await served.http.get("/api/executions")).json()
    assert (execution["flow"], execution["key"], execution["state"]) == ("ring", "c1", "ringing")
    assert len(execution["timers"]) == 1
    detail = (await served.http.get(f"/api/executions/{execution['id']}")).json()
    kinds = [entry["kind"] for entry in detail["trace"]["entries"]]
    assert kinds == ["event", "transition"]

    await served.send("OnCallRemoved", callRef="c1", loginName="alice")
    gone = await served.http.get(f"/api/executions/{execution['id']}")
    assert gone.status_code == 404
    assert gone.json() == {
        "error": f"execution {execution['id']} has ended",
        "trace": f"/api/traces/{execution['id']}",
    }
    (finished,) = (await served.http.get("/api/traces?flow=ring")).json()
    assert finished["states"] == ["ringing", "end"] and finished["outcome"] == "ended"
    trace = (await served.http.get(f"/api/traces/{execution['id']}")).json()
    assert trace["outcome"] == "ended"
    assert (await served.http.get("/api/traces/999")).status_code == 404
    assert (await served.http.get("/api/executions?flow=nope")).status_code == 404


async def test_metrics_parse_as_prometheus_text(served):
    await served.send("OnCallCreated", callRef="c1", loginName="alice")
    await served.send("OnCallCreated", callRef="c2", loginName="reception")
    text = (await served.http.get("/metrics")).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("o2g_flows_executions_started_total", (("flow", "ring"),))] == 1
    assert samples[("o2g_flows_executions_live", (("flow", "ring"),))] == 1
    assert (
        samples[("o2g_flows_executions_ended_total", (("flow", "answer"), ("outcome", "ended")))]
        == 1
    )
    assert samples[("o2g_flows_actions_total", (("action", "answer"), ("result", "ok")))] == 1
    assert samples[("o2g_flows_action_seconds_count", (("action", "answer"),))] == 1
    assert samples[("o2g_flows_timers_pending", ())] == 1


async def test_the_graph_of_a_flow_highlights_live_states(served):
    await served.send("OnCallCreated", callRef="c1", loginName="alice")
    graph = (await served.http.get("/api/flows/ring/graph")).text
    assert graph.splitlines()[:3] == [
        "stateDiagram-v2",
        "    [*] --> ringing: OnCallCreated",
        "    ringing --> [*]: OnCallRemoved",
    ]
    assert "    ringing --> voicemail: after 600s" in graph
    assert graph.rstrip().endswith("class ringing active")


async def test_the_page_is_one_self_contained_file(served):
    page = await served.http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text.replace('"http://www.w3.org/2000/svg"', "")  # a name, never fetched
    assert "<script>" in text and "http://" not in text and "https://" not in text


async def test_a_token_is_required_when_given():
    node, runner = await start_served(token="s3cret")
    try:
        refused = await node.http.get("/api/status")
        assert refused.status_code == 401
        assert refused.json() == {"error": "a valid token is required"}
        assert (await node.http.get("/metrics?token=wrong")).status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        assert (await node.http.get("/api/status", headers=headers)).status_code == 200
        assert (await node.http.get("/?token=s3cret")).status_code == 200
    finally:
        await node.http.aclose()
        await runner.cleanup()
        await node.engine.stop()


async def test_a_busy_port_is_an_os_error_and_leaves_nothing_open(served):
    port = int(str(served.http.base_url).rsplit(":", 1)[1])
    app = status_app(served.engine)
    with pytest.raises(OSError):
        await serve(app, "127.0.0.1", port)
    await asyncio.sleep(0)


async def test_a_shared_store_shows_the_lease_in_status_and_metrics(pg_url):
    from o2g_flows.engine.store import PostgresStore

    store = PostgresStore(pg_url, lease=2.0, name="status-test")
    engine = Engine(load_text(RING, "ring.yaml").flows, RecordingGateway(), store=store)
    await store.connect()
    await engine.start()
    metrics = Metrics(engine)
    runner = await serve(status_app(engine, metrics=metrics), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.addresses[0][1]}") as http:
            shown = (await http.get("/api/status")).json()["store"]
            assert shown == {
                "kind": "PostgresStore",
                "durable": True,
                "role": "active",
                "token": 1,
                "takeovers": 1,
                "refused": 0,
            }
            text = (await http.get("/metrics")).text
        samples = {
            sample.name: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        assert samples["o2g_flows_takeovers_total"] == 1
        assert samples["o2g_flows_stale_writes_refused_total"] == 0
        assert samples["o2g_flows_lease_token"] == 1
    finally:
        await runner.cleanup()
        await engine.stop()


async def test_a_standby_says_which_instance_is_active(pg_url):
    from o2g_flows.app import StatusBoard
    from o2g_flows.engine.store import PostgresStore

    active = PostgresStore(pg_url, lease=2.0, name="one")
    await active.connect()
    await active.open()
    standby = PostgresStore(pg_url, lease=2.0, name="two")
    await standby.connect()
    waiting = asyncio.create_task(standby.open())
    async with asyncio.timeout(10):
        while standby.holder is None:
            await asyncio.sleep(0.02)
    runner = await serve(status_app(StatusBoard(store=standby)), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.addresses[0][1]}") as http:
            status = (await http.get("/api/status")).json()
            token = active.token
            assert status["role"] == "standby"
            assert status["active"] == f"this instance is standby: one is active (token {token})"
            assert status["store"]["holder"] == {"name": "one", "token": token}
            refused = await http.get("/api/executions")
            assert refused.status_code == 503 and refused.json()["error"] == status["active"]
            assert (await http.get("/metrics")).status_code == 503
    finally:
        await runner.cleanup()
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        await standby.close()
        await active.close()


async def test_dropped_events_are_listed_and_counted(served):
    await served.send("OnCallCreated", callRef="c9")  # no loginName: users: filters it out
    assert (await served.http.get("/api/status")).json()["dropped"] == 2  # both flows
    drops = (await served.http.get("/api/drops")).json()
    assert sorted(drop["flow"] for drop in drops) == ["answer", "ring"]
    assert all(
        drop["event"] == "OnCallCreated" and "names no user" in drop["reason"] for drop in drops
    )
    text = (await served.http.get("/metrics")).text
    counts = {
        sample.labels["flow"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "o2g_flows_events_dropped_total"
    }
    assert counts == {"answer": 1, "ring": 1}


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def test_o2g_requests_reconnections_and_gaps_are_measured():
    from o2g_flows.client import Backoff, NotFoundError, O2GClient
    from o2g_flows.sim import Simulator

    engine = Engine(load_text(ANSWER, "answer.yaml").flows, RecordingGateway())
    await engine.start()
    metrics = Metrics(engine)
    timing = {"keepalive_interval": 0.2, "channel_minute": 0.5}
    quick = Backoff(initial=0.02, maximum=0.1)
    async with (
        Simulator(timing=timing) as sim,
        O2GClient(sim.url, "admin", "admin", backoff=quick) as o2g,
        httpx.AsyncClient(base_url=sim.url, timeout=5) as control,
    ):
        metrics.watch_client(o2g)
        await o2g.users.get_user("alice")
        with pytest.raises(NotFoundError):
            await o2g.telephony.answer("nosuchcall", "2000")
        subscription = await o2g.subscribe(["telephony"], ["alice"])
        async with o2g.events(subscription) as stream:
            reader = aiter(stream)
            first = asyncio.create_task(anext(reader))
            await asyncio.sleep(0.2)  # the channel is open
            (await control.post(f"/sim/subscriptions/{subscription.id}/drop")).raise_for_status()
            await control.post("/sim/calls", json={"from": "+33140000001", "to": "2001"})
            event = await asyncio.wait_for(first, 10)
            metrics.received(event)
            metrics.received({"eventName": "OnEventGap", "reason": "relogin"})
        text = metrics.exposition().decode()
    await engine.stop()

    timed = _samples(text, "o2g_flows_o2g_request_seconds_count")
    assert timed[(("method", "GET"), ("service", "users"))] == 1
    assert timed[(("method", "POST"), ("service", "telephony"))] == 1
    errors = _samples(text, "o2g_flows_o2g_request_errors_total")
    assert errors == {(("service", "telephony"), ("status", "404")): 1}
    reconnects = _samples(text, "o2g_flows_o2g_reconnects_total")
    assert reconnects[(("kind", "channels"),)] >= 1
    assert reconnects[(("kind", "sessions"),)] == 0
    assert _samples(text, "o2g_flows_event_gaps_total") == {(("reason", "relogin"),): 1}

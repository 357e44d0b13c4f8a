"""Events: selectors, the chunk channel, drops, gaps, keepalives, malformed lines, recording."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o2g_flows.client import GAP_EVENT, NotAllowedError
from o2g_flows.client.events import _Lines, build_filter
from o2g_flows.sim import Simulator


def busy(login: str, n: int = 0) -> dict:
    return {"eventName": "OnUserStateModified", "loginName": login, "state": "BUSY", "n": n}


def test_selectors_one_package_each() -> None:
    names = ["telephony", "OnAgentStateChanged", "OnRoutingStateChanged", "OnCallCreated"]
    assert build_filter(names, ["alice", "bob"]) == {
        "selectors": [
            {"names": ["telephony"], "ids": ["alice", "bob"]},
            {"names": ["OnAgentStateChanged"], "ids": ["alice", "bob"]},
            {"names": ["OnRoutingStateChanged"], "ids": ["alice", "bob"]},
        ]
    }
    assert build_filter("OnCallCreated", "*") == {
        "selectors": [{"names": ["OnCallCreated"], "ids": ["*"]}]
    }
    assert build_filter(["OnCallCreated", "OnCallRemoved"], None) == {
        "selectors": [{"names": ["OnCallCreated", "OnCallRemoved"]}]
    }


async def test_user_receives_its_events(sim: Simulator, connect, control, reader) -> None:
    o2g = await connect("alice")
    subscription = await o2g.subscribe(["telephony"])
    events = reader(o2g.events(subscription))
    await control.emit(busy("bob"))
    await control.emit(busy("alice"))
    assert await events.next() == busy("alice")


async def test_administrator_subscribes_for_everyone(connect, control, reader) -> None:
    admin = await connect("admin")
    subscription = await admin.subscribe(["telephony", "OnAgentStateChanged"], ids="*")
    events = reader(admin.events(subscription))
    await control.emit(busy("bob"))
    agent = {"eventName": "OnAgentStateChanged", "loginName": "agent1", "state": {}}
    await control.emit(agent)
    assert await events.next() == busy("bob")
    assert await events.next() == agent


async def test_refused_selector_is_an_error(connect) -> None:
    o2g = await connect("alice")
    with pytest.raises(NotAllowedError):
        await o2g.subscribe(["telephony"], ids=["bob"])


@pytest.mark.timing(keepalive_interval=0.05)
async def test_keepalives_are_not_yielded(connect, control, reader) -> None:
    o2g = await connect("alice")
    events = reader(o2g.events(await o2g.subscribe(["telephony"])))
    await control.emit(busy("alice", 1))
    assert await events.next() == busy("alice", 1)
    await asyncio.sleep(0.3)  # several keepalives go by
    await control.emit(busy("alice", 2))
    assert await events.next() == busy("alice", 2)


async def test_dropped_channel_loses_nothing_queued(connect, control, reader) -> None:
    o2g = await connect("alice")
    subscription = await o2g.subscribe(["telephony"])
    stream = o2g.events(subscription)
    events = reader(stream)
    await control.emit(busy("alice", 1))
    assert await events.next() == busy("alice", 1)
    await control.post(f"/sim/subscriptions/{subscription.id}/drop")
    await control.channel_closed(subscription.id)
    for n in (2, 3, 4):
        await control.emit(busy("alice", n))  # queued while no channel is open
    assert [await events.next() for _ in range(3)] == [busy("alice", n) for n in (2, 3, 4)]
    assert stream.gaps == 0


async def test_gateway_restart_gives_a_gap_marker_then_events(
    sim: Simulator, connect, control, reader, caplog: pytest.LogCaptureFixture
) -> None:
    o2g = await connect("alice")
    subscription = await o2g.subscribe(["telephony"])
    first_id = subscription.id
    events = reader(o2g.events(subscription))
    await control.emit(busy("alice", 1))
    assert await events.next() == busy("alice", 1)
    with caplog.at_level(logging.WARNING, "o2g_flows.client"):
        await sim.restart()
        gap = await events.next()
    assert gap["eventName"] == GAP_EVENT
    assert gap["reason"] == "relogin"
    assert gap["previousSubscriptionId"] == first_id != gap["subscriptionId"] == subscription.id
    assert "event gap (relogin)" in caplog.text
    await control.emit(busy("alice", 2))
    assert await events.next() == busy("alice", 2)


async def test_subscription_deleted_behind_the_client(connect, control, reader) -> None:
    o2g = await connect("alice")
    subscription = await o2g.subscribe(["telephony"])
    events = reader(o2g.events(subscription))
    await control.emit(busy("alice", 1))
    assert await events.next() == busy("alice", 1)
    await o2g.subscriptions.delete(subscription.id)  # the gateway closes the channel
    gap = await events.next()
    assert (gap["eventName"], gap["reason"]) == (GAP_EVENT, "resubscribed")
    await control.emit(busy("alice", 2))
    assert await events.next() == busy("alice", 2)


async def test_unsubscribe_ends_the_stream(connect, control) -> None:
    o2g = await connect("alice")
    subscription = await o2g.subscribe(["telephony"])
    received = []

    async def consume() -> None:
        async for event in o2g.events(subscription):
            received.append(event)
            await o2g.unsubscribe(subscription)

    task = asyncio.create_task(consume())
    await control.emit(busy("alice", 1))
    await asyncio.wait_for(task, 10)
    assert received == [busy("alice", 1)]
    assert (await control.state())["subscriptions"] == []


async def test_closing_the_client_ends_a_stream_read_by_another_task(connect, control) -> None:
    o2g = await connect("alice")
    subscription = await o2g.subscribe(["telephony"])
    received = []

    async def consume() -> None:
        async for event in o2g.events(subscription):
            received.append(event)

    task = asyncio.create_task(consume())
    await control.emit(busy("alice", 1))
    while not received:
        await asyncio.sleep(0.01)
    await o2g.close()
    await asyncio.wait_for(task, 10)
    assert received == [busy("alice", 1)]


async def test_recorder_writes_json_lines(connect, control, reader, tmp_path) -> None:
    o2g = await connect("alice")
    path = tmp_path / "events.jsonl"
    async with o2g.events(await o2g.subscribe(["telephony"]), record=path) as stream:
        events = reader(stream)
        await control.emit(busy("alice", 1))
        await control.emit(busy("alice", 2))
        assert (await events.next())["n"] == 1
        assert (await events.next())["n"] == 2
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [record["event"] for record in records] == [busy("alice", 1), busy("alice", 2)]
    assert records[0]["receivedAt"] <= records[1]["receivedAt"] <= round(time.time(), 3) + 0.001


async def test_malformed_lines_are_logged_and_skipped(
    connect, fake_gateway, reader, caplog: pytest.LogCaptureFixture
) -> None:
    fake_gateway.channel = [
        b'{"eventName":"OnChannelInformation","text":"Chunk started"}\n',
        b'{"eventName":"OnUserStateModified","n":1}\n{"eventName":"On',  # split line
        b'UserStateModified","n":2}\nnot json at all\n[1, 2]\n{"no":"name"}\n\r\n',
        b'{"eventName":"OnUserStateModified","n":3}\r\n',
    ]
    o2g = await connect("alice", "x", url=fake_gateway.url)
    sink = io.BytesIO()
    with caplog.at_level(logging.WARNING, "o2g_flows.client.events"):
        events = reader(o2g.events(await o2g.subscribe(["telephony"]), record=sink))
        assert [(await events.next())["n"] for _ in range(3)] == [1, 2, 3]
    skipped = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert skipped == [
        "malformed event line skipped: 'not json at all'",
        "malformed event line skipped: '[1, 2]'",
        'malformed event line skipped: \'{"no":"name"}\'',
    ]
    assert sink.getvalue().count(b"\n") == 3


async def test_a_supervisor_follows_calls_waiting_at_its_pilot(connect, control, reader) -> None:
    supervisor = await connect("supervisor")
    subscription = await supervisor.subscribe(["OnPilotCallQueued", "OnPilotCallRemoved"])
    events = reader(supervisor.events(subscription))
    call_ref = await control.call("+33140000099", "5000")
    queued = await events.next()
    assert (queued["eventName"], queued["callRef"], queued["pilot"]) == (
        "OnPilotCallQueued",
        call_ref,
        "5000",
    )
    await control.post("/sim/externals/+33140000099/hangup", {"callRef": call_ref})
    removed = await events.next()
    assert (removed["eventName"], removed["cause"]) == ("OnPilotCallRemoved", "ABANDONED")


# -- lazy decoding: one line at a time, whatever the chunk boundaries ---------------------------

NOTICE_NAME = "OnChannelInformation"
NOTICE = b'{"eventName":"OnChannelInformation","text":"Chunk started"}'
#: Lines a channel may carry: events, notices, keepalive blanks, CRLF ends, garbage.
channel_line = st.one_of(
    st.builds(
        lambda n, text: orjson.dumps({"eventName": "OnUserStateModified", "n": n, "t": text}),
        st.integers(0, 10**6),
        st.text(max_size=30),
    ),
    st.just(NOTICE),
    st.sampled_from([b"", b"\r", b"[1, 2]", b'{"no":"name"}', b"not json", b"\xff\xfe", b"7"]),
    st.binary(max_size=40).filter(lambda line: b"\n" not in line),
)
#: The same, some ending in CRLF.
channel_line = st.builds(lambda line, crlf: line + b"\r" * crlf, channel_line, st.booleans())


def cut(data: bytes, positions: list[int]) -> list[bytes]:
    """``data`` in chunks cut at ``positions`` (any order, repeats allowed)."""
    points = sorted({0, len(data), *(p % (len(data) + 1) for p in positions)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def expected_events(lines: list[bytes]) -> list[dict]:
    """What the stream yields for these lines: each decoded alone, notices and junk dropped."""
    events = []
    for line in lines:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("eventName", NOTICE_NAME) != NOTICE_NAME:
            events.append(event)
    return events


@given(st.lists(channel_line, max_size=30), st.lists(st.integers(0, 10**4), max_size=12))
def test_lines_come_out_whole_at_any_chunk_boundary(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\n" for line in lines) + b'{"eventName":"partial'
    splitter = _Lines()
    out = [line for chunk in cut(data, cuts) for line in splitter.feed(chunk)]
    assert out == lines


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(channel_line, min_size=1, max_size=25), st.lists(st.integers(0, 10**4)))
async def test_stream_yields_the_same_events_whatever_the_chunks(
    connect, fake_gateway, lines: list[bytes], cuts: list[int]
) -> None:
    data = NOTICE + b"\n" + b"".join(line + b"\n" for line in lines)
    fake_gateway.channel = cut(data, cuts)
    wanted = expected_events(lines)
    o2g = await connect("alice", "x", url=fake_gateway.url)
    sink = io.BytesIO()
    stream = o2g.events(await o2g.subscribe(["telephony"]), record=sink)
    events = aiter(stream)
    got = [await asyncio.wait_for(anext(events), 10) for _ in wanted]
    await stream.aclose()
    await o2g.close()
    assert got == wanted
    recorded = [orjson.loads(line)["event"] for line in sink.getvalue().splitlines()]
    assert recorded == wanted


async def test_events_are_decoded_one_at_a_time_as_asked(connect, fake_gateway) -> None:
    """Three events in one chunk: a consumer that stops after the first decoded only it."""
    fake_gateway.channel = [
        NOTICE + b"\n" + b"".join(json.dumps(busy("alice", n)).encode() + b"\n" for n in range(3))
    ]
    o2g = await connect("alice", "x", url=fake_gateway.url)
    sink = io.BytesIO()
    async with o2g.events(await o2g.subscribe(["telephony"]), record=sink) as stream:
        first = await asyncio.wait_for(anext(aiter(stream)), 10)
        assert first == busy("alice", 0)
        assert sink.getvalue().count(b"\n") == 1  # the others are still undecoded lines
    assert sink.getvalue().count(b"\n") == 1

"""Restart without loss, on SQLite and on PostgreSQL: executions and timers read back from
the store, overdue timers within the grace fired once, later ones following ``on_missed``;
actions never repeated except the one in flight; flows changed while stopped following
``on_reload``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from o2g_flows.engine import SqliteStore, Store, StoreError, load_text
from o2g_flows.engine.registry import Registry
from o2g_flows.engine.testing import OfflineEngine
from o2g_flows.engine.timers import VirtualClock

START = 1_736_154_000.0

RING = """\
flow: no-answer
key: event.callRef
on_reload: {policy}
start:
  on: OnCallCreated
  goto: ringing
states:
  ringing:
    after: {{seconds: 20, goto: voicemail{missed}}}
    on:
      OnCallRemoved: {{goto: end}}
  voicemail:
    enter:
      - redirect: {{to: VOICEMAIL}}
      - log: "sent ${{key}} to voicemail"
    goto: end
"""

MISSED = """\
  missed:
    enter:
      - log: "too late for ${key}"
    goto: end
"""


class Node(OfflineEngine):
    """One engine process on a store, its virtual clock shared across restarts."""

    def __init__(
        self, store: Store, clock: VirtualClock, text: str, registry: Registry | None = None
    ) -> None:
        result = load_text(text, "flow.yaml", registry)
        assert not result.errors, result.report()
        super().__init__(result.flows, registry, clock=clock, store=store, timezone="UTC")

    async def crash(self) -> None:
        """Die as SIGKILL would once the last commit is on disk: no stop, nothing ended."""
        await self.engine.store.flush()
        await self.engine.store.close()

    def done(self) -> list[tuple[str, Any]]:
        """``(action, message or call)`` of the actions run."""
        return [(name, args.get("message", args.get("call"))) for name, args in self.actions]


def ring(policy: str = "keep", missed: str = "") -> str:
    return RING.format(policy=policy, missed=missed) + (MISSED if "goto" in missed else "")


async def start(store: Store, clock: VirtualClock, text: str, **kwargs: Any) -> Node:
    node = Node(store, clock, text, **kwargs)
    await node.engine.start()
    return node


async def test_a_waiting_timer_fires_after_a_restart_at_its_time(tmp_path, stores):
    clock = VirtualClock(START)
    first = await start(stores(tmp_path), clock, ring())
    await first.send("OnCallCreated", callRef="c1", loginName="alice")
    await first.advance(5)
    await first.crash()

    second = await start(stores(tmp_path), clock, ring())
    (execution,) = second.engine.executions()
    assert (execution.key, execution.state) == ("c1", "ringing")
    assert second.timers.next_due() == START + 20
    await second.advance(14.9)
    assert second.done() == []
    await second.advance(0.1)
    assert second.done() == [("redirect", "c1"), ("log", "sent c1 to voicemail")]
    assert second.engine.executions() == []
    await second.engine.stop()


async def test_a_timer_due_while_stopped_fires_once_at_start_within_the_grace(tmp_path, stores):
    clock = VirtualClock(START)
    first = await start(stores(tmp_path), clock, ring())
    for ref in ("c1", "c2"):
        await first.send("OnCallCreated", callRef=ref, loginName="alice")
    await first.send("OnCallRemoved", callRef="c2", loginName="alice")
    await first.crash()

    clock.now = START + 200  # down for 200 s: the timer came due 180 s ago
    second = await start(stores(tmp_path), clock, ring())
    await second.advance(0)
    assert second.done() == [("redirect", "c1"), ("log", "sent c1 to voicemail")]
    await second.crash()

    third = await start(stores(tmp_path), clock, ring())  # nothing left to do: nothing repeats
    await third.advance(100)
    assert third.engine.executions() == [] and third.done() == []
    await third.engine.stop()


async def test_a_timer_due_beyond_the_grace_ends_the_execution_by_default(tmp_path, stores):
    clock = VirtualClock(START)
    first = await start(stores(tmp_path), clock, ring())
    await first.send("OnCallCreated", callRef="c1", loginName="alice")
    await first.crash()

    clock.now = START + 3600
    second = await start(stores(tmp_path), clock, ring())
    await second.advance(0)
    assert second.done() == []
    (trace,) = second.engine.traces.query(key="c1")
    assert trace.outcome == "timer missed"
    notes = [entry[2] for entry in trace.entries if entry[1] == "note"]
    assert "timer 0 came due 3580s ago, beyond the grace" in notes
    await second.engine.stop()


async def test_on_missed_fire_and_goto(tmp_path, stores):
    clock = VirtualClock(START)
    for choice, expected in (
        ("fire", [("redirect", "c1"), ("log", "sent c1 to voicemail")]),
        ("{goto: missed}", [("log", "too late for c1")]),
    ):
        text = ring(missed=f", on_missed: {choice}")
        first = await start(stores(tmp_path), clock, text)
        await first.send("OnCallCreated", callRef="c1", loginName="alice")
        await first.crash()
        clock.now += 3600
        second = await start(stores(tmp_path), clock, text)
        await second.advance(0)
        assert second.done() == expected, choice
        assert second.engine.executions() == []
        await second.engine.stop()


async def test_a_stored_transition_is_never_replayed_only_the_action_in_flight(tmp_path, stores):
    registry = Registry.builtin()
    gate = asyncio.Event()
    sent: list[str] = []

    @registry.action("page")
    async def page(ctx, args):
        sent.append(f"page {ctx.execution.key}")
        await gate.wait()

    text = """\
flow: pager
key: event.callRef
start:
  on: OnCallCreated
  do:
    - log: first
    - page
    - log: last
  goto: waiting
states:
  waiting:
    on:
      OnCallRemoved: {goto: end}
"""
    clock = VirtualClock(START)
    first = await start(stores(tmp_path), clock, text, registry=registry)
    first.engine.dispatch({"eventName": "OnCallCreated", "callRef": "c1"})
    async with asyncio.timeout(5):
        while not sent:
            await asyncio.sleep(0.001)
    assert sent == ["page c1"]  # "log first" is done and stored; "page" is in flight
    await first.crash()

    gate.set()
    second = await start(stores(tmp_path), clock, text, registry=registry)
    await second.engine.idle()
    # the action in flight at the kill runs again, the one done before does not
    assert sent == ["page c1", "page c1"]
    assert second.done() == [("page", None), ("log", "last")]
    (execution,) = second.engine.executions()
    assert execution.state == "waiting" and execution.plan == ()
    await second.send("OnCallRemoved", callRef="c1")
    assert second.engine.executions() == []
    await second.engine.stop()


async def test_a_clean_stop_keeps_executions_and_timers_for_the_next_start(tmp_path, stores):
    clock = VirtualClock(START)
    first = await start(stores(tmp_path), clock, ring())
    await first.send("OnCallCreated", callRef="c1", loginName="alice")
    await first.engine.stop()
    assert [t.outcome for t in first.engine.traces] == ["suspended"]

    second = await start(stores(tmp_path), clock, ring())
    await second.advance(20)
    assert second.done()[0] == ("redirect", "c1")
    await second.engine.stop()


async def test_a_flow_changed_while_stopped_follows_on_reload(tmp_path, stores):
    clock = VirtualClock(START)
    for policy, states, outcome in (
        ("keep", ["ringing"], None),
        ("cancel", [], "reloaded"),
        ("restart", ["ringing"], "reloaded"),
    ):
        path = tmp_path / policy
        path.mkdir()
        first = await start(stores(path), clock, ring(policy))
        await first.send("OnCallCreated", callRef="c1", loginName="alice")
        await first.crash()
        changed = ring(policy).replace("seconds: 20", "seconds: 30")
        second = await start(stores(path), clock, changed)
        assert [e.state for e in second.engine.executions()] == states, policy
        if outcome:
            assert second.engine.traces.query(key="c1")[0].outcome == outcome
        await second.engine.stop()


async def test_an_execution_of_a_flow_removed_while_stopped_ends_with_a_trace(tmp_path, stores):
    clock = VirtualClock(START)
    first = await start(stores(tmp_path), clock, ring())
    await first.send("OnCallCreated", callRef="c1", loginName="alice")
    await first.crash()
    other = ring().replace("flow: no-answer", "flow: another")
    second = await start(stores(tmp_path), clock, other)
    (trace,) = second.engine.traces.query(key="c1")
    assert trace.outcome == "flow removed"
    await second.engine.stop()
    third = await start(stores(tmp_path), clock, ring())
    assert third.engine.executions() == []  # it left the store
    await third.engine.stop()


async def test_a_store_write_failing_ends_that_execution_loudly_and_others_go_on(tmp_path, caplog):
    clock = VirtualClock(START)
    node = await start(SqliteStore(tmp_path / "state.sqlite"), clock, ring())
    await node.send("OnCallCreated", callRef="c1", loginName="alice")
    await node.engine.store.flush()
    db = node.engine.store._db  # type: ignore[attr-defined]
    db.execute("PRAGMA max_page_count = 1")  # the disk is full
    await node.send("OnCallCreated", callRef="c2", loginName="alice", filler="x" * 50_000)
    with pytest.raises(StoreError):
        await node.engine.store.flush()
    assert "cannot write" in caplog.text
    assert [e.key for e in node.engine.executions()] == ["c1"]
    (trace,) = node.engine.traces.query(key="c2")
    assert trace.outcome == "store failed" and trace.failed
    db.execute("PRAGMA max_page_count = 1073741823")
    await node.advance(20)
    assert node.done()[0] == ("redirect", "c1")
    await node.engine.stop()

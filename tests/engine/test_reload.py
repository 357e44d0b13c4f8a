"""Hot reload: edits take effect between two events; broken files change nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from o2g_flows.client import O2GClient
from o2g_flows.engine import Engine, LiveGateway, RecordingGateway, load_flows
from o2g_flows.engine.live import LiveRun
from o2g_flows.engine.registry import Registry
from o2g_flows.engine.reload import FlowWatcher
from o2g_flows.engine.testing import Recorder

RULE = """\
flow: {name}
on: OnCallCreated
do:
  - log: "{text} ${{event.callRef}}"
"""


class Watched:
    """An engine running the flows of a folder, with its watcher."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.recorder = Recorder()
        result = load_flows([folder])
        self.engine = Engine(result.flows, RecordingGateway(), observers=[self.recorder])
        self.watcher = FlowWatcher(self.engine, [folder], registry=Registry.builtin())
        self.task: asyncio.Task[None] | None = None
        self.calls = 0

    async def start(self) -> None:
        await self.engine.start()
        ready = asyncio.Event()
        self.task = asyncio.create_task(self.watcher.run(ready))
        async with asyncio.timeout(5):
            await ready.wait()

    async def call(self) -> str:
        """Offer a call; returns what the flows logged for it."""
        self.calls += 1
        ref = f"c{self.calls}"
        before = len(self.recorder.actions)
        self.engine.dispatch({"eventName": "OnCallCreated", "callRef": ref})
        await self.engine.idle()
        return " | ".join(args["message"] for *_, args, _ in self.recorder.actions[before:])

    async def until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)

    def digest(self, name: str) -> str | None:
        runtime = self.engine.flows.get(name)
        return runtime.flow.digest if runtime else None

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.engine.stop()


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[Watched]:
    (tmp_path / "greet.yaml").write_text(RULE.format(name="greet", text="v1"))
    node = Watched(tmp_path)
    await node.start()
    yield node
    await node.close()


async def test_a_valid_edit_runs_from_the_next_event(watched):
    assert await watched.call() == "v1 c1"
    old = watched.digest("greet")
    (watched.folder / "greet.yaml").write_text(RULE.format(name="greet", text="v2"))
    await watched.until(lambda: watched.digest("greet") != old)
    assert await watched.call() == "v2 c2"


async def test_a_broken_edit_keeps_the_running_version_and_says_where(watched, caplog):
    old = watched.digest("greet")
    broken = "flow: greet\non: OnCallCreated\ndo:\n  - nosuch: {}\n"
    (watched.folder / "greet.yaml").write_text(broken)
    await watched.until(lambda: watched.watcher.errors)
    (error,) = watched.watcher.errors
    assert str(error).startswith(f"{watched.folder / 'greet.yaml'}:4:5: ")
    assert "previous version keeps running" in caplog.text
    assert watched.digest("greet") == old
    assert await watched.call() == "v1 c1"
    (watched.folder / "greet.yaml").write_text(RULE.format(name="greet", text="fixed"))
    await watched.until(lambda: not watched.watcher.errors and watched.digest("greet") != old)
    assert await watched.call() == "fixed c2"


async def test_an_editor_writing_a_temporary_file_then_renaming_it(watched):
    old = watched.digest("greet")
    temporary = watched.folder / ".greet.yaml.swp"
    temporary.write_text(RULE.format(name="greet", text="renamed"))
    os.replace(temporary, watched.folder / "greet.yaml")
    await watched.until(lambda: watched.digest("greet") != old)
    assert await watched.call() == "renamed c1"


async def test_new_files_load_and_deleted_files_unload(watched):
    (watched.folder / "second.yaml").write_text(RULE.format(name="second", text="two"))
    await watched.until(lambda: "second" in watched.engine.flows)
    assert sorted((await watched.call()).split(" | ")) == ["two c1", "v1 c1"]
    (watched.folder / "greet.yaml").unlink()
    await watched.until(lambda: "greet" not in watched.engine.flows)
    assert await watched.call() == "two c2"


async def test_a_reload_storm_keeps_the_engine_responsive_and_ends_on_the_last_valid_version(
    watched,
):
    path = watched.folder / "greet.yaml"
    handled = 0

    async def traffic() -> None:
        nonlocal handled
        while True:
            if await watched.call():
                handled += 1
            await asyncio.sleep(0.005)

    caller = asyncio.create_task(traffic())
    for n in range(100):  # 100 rewrites in about a second, every third one broken
        text = "flow: greet\non: [" if n % 3 == 2 else RULE.format(name="greet", text=f"v{n}")
        path.write_text(text)
        await asyncio.sleep(0.01)
    path.write_text(RULE.format(name="greet", text="last"))
    final = load_flows([path]).flows[0].digest
    await watched.until(lambda: watched.digest("greet") == final, timeout=10)
    assert not watched.watcher.errors
    caller.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await caller
    assert handled > 20  # calls kept being handled during the storm
    assert (await watched.call()).startswith("last ")


async def test_the_subscription_follows_the_flows_without_losing_events(
    tmp_path: Path, o2g: O2GClient, call: Callable[..., Any]
):
    answer = """\
flow: {name}
users: [{user}]
on: OnCallCreated
when: "event.legs[0].state == 'RINGING_INCOMING'"
do:
  - answer: {{}}
"""
    (tmp_path / "alice.yaml").write_text(answer.format(name="alice", user="alice"))
    engine = Engine(load_flows([tmp_path]).flows, LiveGateway(o2g))
    live_run = LiveRun(engine, o2g)
    watcher = FlowWatcher(
        engine, [tmp_path], registry=Registry.builtin(), on_update=lambda _: live_run.follow_flows()
    )
    ready, watching = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(live_run.run(ready)), asyncio.create_task(watcher.run(watching))]
    async with asyncio.timeout(10):
        await ready.wait()
        await watching.wait()
    assert live_run.subscription.request["filter"]["selectors"][0]["ids"] == ["alice"]

    (tmp_path / "bob.yaml").write_text(answer.format(name="bob", user="bob"))
    async with asyncio.timeout(10):
        while live_run.subscription.request["filter"]["selectors"][0]["ids"] != ["alice", "bob"]:
            await asyncio.sleep(0.01)
    await call("+33140000001", "2002")  # bob's events now reach the engine
    async with asyncio.timeout(10):
        while not engine.traces.query(flow="bob"):
            await asyncio.sleep(0.01)
    (trace,) = engine.traces.query(flow="bob")
    assert [entry[4] for entry in trace.actions()] == [True]  # answered
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await engine.gateway.aclose()


MACHINE = """\
flow: calls
key: event.callRef
on_reload: {policy}
start:
  on: OnCallCreated
  goto: ringing
states:
  ringing:
    after: {{seconds: 20, goto: voicemail}}
    on:
      OnCallModified: {{goto: {answered}}}
  {answered}:
    on:
      OnCallRemoved: {{goto: end}}
  voicemail:
    enter: [{{redirect: {{to: VOICEMAIL}}}}]
    goto: end
"""


@pytest.mark.parametrize(
    ("policy", "renamed", "states", "outcomes"),
    [
        ("keep", False, {"c1": "ringing", "c2": "talking"}, []),
        ("keep", True, {"c1": "ringing"}, ["reloaded"]),  # c2's state is gone
        ("cancel", False, {}, ["reloaded", "reloaded"]),
        ("restart", False, {"c1": "ringing", "c2": "ringing"}, ["reloaded", "reloaded"]),
    ],
)
async def test_running_executions_follow_on_reload(
    offline, flows, policy, renamed, states, outcomes
):
    run = offline(MACHINE.format(policy=policy, answered="talking"))
    await run.send("OnCallCreated", callRef="c1")
    await run.send("OnCallCreated", callRef="c2")
    await run.send("OnCallModified", callRef="c2")
    await run.advance(10)
    new = flows(
        MACHINE.format(policy=policy, answered="answered" if renamed else "talking").replace(
            "seconds: 20", "seconds: 15"
        )
    )
    assert run.engine.update(new).changed == ["calls"]
    assert {e.key: e.state for e in run.engine.executions()} == states
    assert [t.outcome for t in run.engine.traces] == outcomes
    await run.advance(9)  # a kept execution keeps its timer (due at 20 s)...
    assert [name for name, _ in run.actions] == []
    await run.advance(16)  # ...a restarted one has the new version's (due at 10 + 15 s)
    redirected = [args["call"] for name, args in run.actions if name == "redirect"]
    assert sorted(redirected) == {"keep": ["c1"], "cancel": [], "restart": ["c1", "c2"]}[policy]


async def test_a_plan_under_way_finishes_on_the_old_version_then_the_new_one_runs(offline, flows):
    registry = Registry.builtin()
    gate = asyncio.Event()

    @registry.action("slow")
    async def slow(ctx, args):
        await gate.wait()

    text = """\
flow: plan
key: event.callRef
start:
  on: OnCallCreated
  do: [slow, {log: "%s first"}]
  goto: waiting
states:
  waiting:
    on:
      OnCallRemoved:
        do: [{log: "%s removed"}]
        goto: end
"""
    run = offline(text % ("v1", "v1"), registry)
    run.engine.dispatch({"eventName": "OnCallCreated", "callRef": "c1"})
    await asyncio.sleep(0)
    run.engine.update(flows(text % ("v2", "v2"), registry))
    gate.set()
    await run.engine.idle()
    await run.send("OnCallRemoved", callRef="c1")
    assert [args.get("message") for name, args in run.actions] == [None, "v1 first", "v2 removed"]


async def test_edits_while_calls_are_in_flight(tmp_path: Path):
    """A broken edit leaves calls in flight untouched; a valid one takes them over (keep)."""
    flow = tmp_path / "calls.yaml"
    flow.write_text(
        MACHINE.format(policy="keep", answered="talking").replace("seconds: 20", "seconds: 0.5")
    )
    node = Watched(tmp_path)
    await node.start()
    try:
        node.engine.dispatch({"eventName": "OnCallCreated", "callRef": "a"})
        node.engine.dispatch({"eventName": "OnCallCreated", "callRef": "b"})
        node.engine.dispatch({"eventName": "OnCallModified", "callRef": "b"})
        flow.write_text(flow.read_text().replace("goto: voicemail", "goto: nowhere"))
        await node.until(lambda: node.watcher.errors)
        assert "goto: unknown state 'nowhere'" in str(node.watcher.errors[0])
        await node.until(lambda: "a" not in {e.key for e in node.engine.executions()})
        redirected = [args["call"] for *_, name, args, _ in node.recorder.actions]
        assert redirected == ["a"]  # the running version's timer fired as it would have
        assert {e.key: e.state for e in node.engine.executions()} == {"b": "talking"}

        old = node.digest("calls")
        flow.write_text(
            MACHINE.format(policy="keep", answered="talking").replace(
                "OnCallRemoved: {goto: end}", "OnCallRemoved: {do: [{log: bye}], goto: end}"
            )
        )
        await node.until(lambda: node.digest("calls") != old and not node.watcher.errors)
        node.engine.dispatch({"eventName": "OnCallRemoved", "callRef": "b"})
        await node.engine.idle()
        assert node.recorder.actions[-1][3] == {"message": "bye", "level": "info"}
        assert node.engine.executions() == []
    finally:
        await node.close()

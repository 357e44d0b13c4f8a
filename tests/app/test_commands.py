"""``o2g-flows status | trace | graph`` against a running engine's status server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from o2g_flows.app import serve, status_app
from o2g_flows.cli import main
from o2g_flows.engine import Engine, RecordingGateway, load_text

FLOWS = str(Path(__file__).parents[2] / "flows")

RING = """\
flow: ring
key: event.callRef
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


@pytest.fixture
async def engine() -> AsyncIterator[tuple[Engine, str]]:
    running = Engine(load_text(RING, "ring.yaml").flows, RecordingGateway())
    await running.start()
    runner = await serve(status_app(running, token="t0ken"), "127.0.0.1", 0)
    yield running, f"127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()
    await running.stop()


async def command(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_status_says_what_runs(engine, capsys):
    running, address = engine
    running.dispatch({"eventName": "OnCallCreated", "callRef": "c1"})
    assert await command("status", "--status", address, "--token", "t0ken") == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0] == "1 flow(s), 1 live execution(s), 1 timer(s) pending, 0 finished (0 with errors)"
    )
    assert out[1] == "flow     ring: machine, 1 live (ring.yaml)"
    assert out[2].startswith("#1      ring[c1] in ringing for 0s, timers ")


async def test_trace_lists_executions_and_shows_one_step_by_step(engine, capsys):
    running, address = engine
    running.dispatch({"eventName": "OnCallCreated", "callRef": "c1"})
    running.dispatch({"eventName": "OnCallRemoved", "callRef": "c1"})
    running.dispatch({"eventName": "OnCallCreated", "callRef": "c2"})
    assert await command("trace", "--status", address, "--token", "t0ken") == 0
    assert capsys.readouterr().out.splitlines() == ["#1      ring[c1] ended: ringing -> end"]
    assert await command("trace", "1", "--status", address, "--token", "t0ken") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ring[c1] #1 ended started ")
    assert [line.split()[1] for line in lines[1:]] == ["event", "transition", "event", "transition"]
    assert await command("trace", "2", "--status", address, "--token", "t0ken") == 0  # live
    assert capsys.readouterr().out.startswith("ring[c2] #2 running")


async def test_graph_from_files_and_live(engine, capsys):
    running, address = engine
    assert await command("graph", "no-answer-to-voicemail", FLOWS) == 0
    assert "ringing --> voicemail: after vars.ring_seconds" in capsys.readouterr().out
    running.dispatch({"eventName": "OnCallCreated", "callRef": "c1"})
    assert await command("graph", "ring", "--live", "--status", address, "--token", "t0ken") == 0
    assert capsys.readouterr().out.rstrip().endswith("class ringing active")
    assert await command("graph", "nope", FLOWS) == 1
    assert "no valid flow named 'nope'" in capsys.readouterr().err


async def test_a_wrong_token_or_no_server_is_one_clear_line(engine, capsys):
    _, address = engine
    assert await command("status", "--status", address, "--token", "wrong") == 1
    assert capsys.readouterr().err == "error: /api/status: a valid token is required\n"
    assert await command("status", "--status", "127.0.0.1:9") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no engine status server at http://127.0.0.1:9 (")
    assert err.count("\n") == 1

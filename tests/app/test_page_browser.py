"""The status page in a real browser (headless Chromium) while the simulator plays a call."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from o2g_flows.app import serve, status_app
from o2g_flows.client import O2GClient
from o2g_flows.engine import Engine, LiveGateway, load_flows
from o2g_flows.engine.live import LiveRun
from o2g_flows.engine.registry import Registry
from o2g_flows.engine.reload import FlowWatcher
from o2g_flows.sim import Simulator

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

RING = """\
flow: ring
key: event.callRef
users: [alice]
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  goto: ringing
states:
  ringing:
    on:
      OnCallModified: {when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}
      OnCallRemoved: {goto: end}
  answered:
    on:
      OnCallRemoved: {goto: end}
"""


def dom(url: str) -> str:
    """The page's DOM once its scripts have run (Chromium, headless)."""
    assert CHROMIUM, "headless Chromium is needed (Debian's chromium package; .ci/run installs it)"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=3000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rows(page: str, table: str) -> list[list[str]]:
    """The cells of a table's body rows, as text."""
    body = re.search(rf'<table id="{table}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, page[:2000]
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    (tmp_path / "ring.yaml").write_text(RING)
    (tmp_path / "broken.yaml").write_text("flow: broken\non: OnCallCreated\ndo: [anwser]\n")
    async with Simulator(timing={"ring_timeout": 30}) as sim:
        async with O2GClient(sim.url, "admin", "admin") as o2g:
            engine = Engine(load_flows([tmp_path]).flows, LiveGateway(o2g))
            live = LiveRun(engine, o2g)
            watcher = FlowWatcher(engine, [tmp_path], registry=Registry.builtin())
            await watcher.reload()  # reports the broken file as a running engine would
            ready = asyncio.Event()
            task = asyncio.create_task(live.run(ready))
            await ready.wait()
            runner = await serve(status_app(engine, watcher=watcher), "127.0.0.1", 0)
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            async with httpx.AsyncClient(base_url=sim.url, timeout=5) as control:
                yield {"engine": engine, "url": url, "control": control}
            await runner.cleanup()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await engine.gateway.aclose()


async def wait_for(predicate: Any) -> None:
    async with asyncio.timeout(10):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_the_page_follows_a_call_from_state_to_state_and_shows_broken_flows(page):
    engine, url, control = page["engine"], page["url"], page["control"]
    answer = await control.post("/sim/calls", json={"from": "+33612345678", "to": "2001"})
    ref = answer.json()["callRef"]
    await wait_for(lambda: [e.state for e in engine.executions()] == ["ringing"])

    shown = await asyncio.to_thread(dom, url)
    assert [cells[1:4] for cells in rows(shown, "executions")] == [["ring", ref, "ringing"]]
    assert "broken.yaml:3:6: unknown action 'anwser' (did you mean answer?)" in shown

    await control.post("/sim/devices/2001/answer", json={"callRef": ref})
    await wait_for(lambda: [e.state for e in engine.executions()] == ["answered"])
    shown = await asyncio.to_thread(dom, url)
    assert [cells[1:4] for cells in rows(shown, "executions")] == [["ring", ref, "answered"]]

    await control.post("/sim/devices/2001/hangup", json={"callRef": ref})
    await wait_for(lambda: not engine.executions())
    shown = await asyncio.to_thread(dom, url)
    assert rows(shown, "executions") == []
    (finished,) = rows(shown, "traces")
    assert finished[1:5] == ["ring", ref, "ended", "ringing → answered → end"]


async def test_a_flow_opened_on_the_page_is_drawn_with_its_live_state_highlighted(page):
    engine, url, control = page["engine"], page["url"], page["control"]
    await control.post("/sim/calls", json={"from": "+33612345678", "to": "2001"})
    await wait_for(lambda: [e.state for e in engine.executions()] == ["ringing"])

    shown = await asyncio.to_thread(dom, url + "?flow=ring")
    svg = re.search(r"<svg[^>]*>.*?</svg>", shown, re.S)
    assert svg, shown[-3000:]
    drawn = re.findall(r'<g class="(node(?: active)?)" data-state="(\w+)"', svg.group(0))
    assert {name: kind for kind, name in drawn} == {
        "ringing": "node active",
        "answered": "node",
    }
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg.group(0))
    assert "OnCallModified [if]" in labels and "OnCallCreated [if]" in labels


async def test_a_plugin_service_that_lost_its_server_shows_on_the_page():
    from o2g_flows.app import StatusBoard
    from o2g_flows.engine import RecordingGateway, load_text

    engine = Engine(load_text(RING, "ring.yaml").flows, RecordingGateway())
    await engine.start()
    board = StatusBoard(engine, store=engine.store)
    board.services = {"mqtt": {"connected": False, "error": "connection refused", "retry_in": 2}}
    runner = await serve(status_app(board), "127.0.0.1", 0)
    try:
        shown = await asyncio.to_thread(dom, f"http://127.0.0.1:{runner.addresses[0][1]}/")
    finally:
        await runner.cleanup()
        await engine.stop()
    line = re.search(r'<div class="failed">(service mqtt:[^<]*)</div>', shown)
    assert line, shown[:3000]
    assert line.group(1) == "service mqtt: not connected, error connection refused, retry in 2"

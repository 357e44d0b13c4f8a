"""Fixtures for engine tests: flows from text, offline engines, a simulator with a live engine,
a throwaway PostgreSQL server (``initdb`` in a temporary folder, ``pg_ctl start`` on a Unix
socket in it, no TCP; as root it runs as the ``postgres`` user) unless
``$O2G_TEST_POSTGRES`` names one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from o2g_flows.client import O2GClient
from o2g_flows.engine import Engine, LiveGateway, live, load_text
from o2g_flows.engine.model import Flow
from o2g_flows.engine.registry import Registry
from o2g_flows.engine.store import PostgresStore, SqliteStore, Store
from o2g_flows.engine.testing import OfflineEngine
from o2g_flows.sim import Simulator

#: Simulator timings short enough for tests.
FAST = {
    "ring_timeout": 5,
    "wrapup": 0.3,
    "voicemail_message": 0.05,
    "keepalive_interval": 0.2,
    "channel_minute": 0.5,
}
START = 1_736_154_000.0  # 2025-01-06 09:00 UTC, a Monday


@pytest.fixture(autouse=True)
def restore_logging():
    """The CLI sets log levels and handlers: put them back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    engine = logging.getLogger("o2g_flows.engine")
    engine_level = engine.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    engine.setLevel(engine_level)


@pytest.fixture
def flows() -> Callable[..., list[Flow]]:
    """``flows(text, registry=None)``: the flows of a YAML text, failing on any load error."""

    def load(text: str, registry: Registry | None = None) -> list[Flow]:
        result = load_text(text, "test.yaml", registry)
        assert not result.errors, result.report()
        return result.flows

    return load


@pytest.fixture
def offline(flows: Callable[..., list[Flow]]) -> Callable[..., OfflineEngine]:
    """``offline(text, registry=None, **options)``: the public ``OfflineEngine`` on the flows."""

    def make(text: str, registry: Registry | None = None, **options: Any) -> OfflineEngine:
        return OfflineEngine(
            flows(text, registry), registry, start=START, timezone="UTC", **options
        )

    return make


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The default PBX, with short timings."""
    async with Simulator(timing=FAST) as simulator:
        yield simulator


class Live:
    """An engine running on the simulator's event stream."""

    def __init__(self, engine: Engine, task: asyncio.Task[None]) -> None:
        self.engine = engine
        self.task = task

    async def until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait for ``predicate()`` to hold (the bound only stops a hung test)."""
        async with asyncio.timeout(timeout):
            while not (value := predicate()):
                await asyncio.sleep(0.01)
        return value

    def traces(self, flow: str) -> list[Any]:
        return self.engine.traces.query(flow=flow)

    def actions(self, flow: str | None = None) -> list[tuple[str, dict[str, Any], bool]]:
        """``(action, args, ok)`` of every action run so far (finished executions first)."""
        found = []
        traces = [*self.engine.traces, *self.engine.traces.running()]
        for trace in traces:
            if flow is None or trace.flow == flow:
                found.extend((entry[2], entry[3], entry[4]) for entry in trace.actions())
        return found


@pytest.fixture
async def running(o2g: O2GClient) -> AsyncIterator[Callable[..., Any]]:
    """``await running(text_or_flows, registry=None)``: an engine live on the simulator."""
    started: list[Live] = []

    async def start(source: str | list[Flow], registry: Registry | None = None) -> Live:
        flows = (
            source if isinstance(source, list) else load_text(source, "test.yaml", registry).flows
        )
        assert flows, "no flow loaded"
        engine = Engine(flows, LiveGateway(o2g), registry=registry)
        ready = asyncio.Event()
        task = asyncio.create_task(live.run(engine, o2g, ready=ready))
        async with asyncio.timeout(5):
            await ready.wait()
        runner = Live(engine, task)
        started.append(runner)
        return runner

    yield start
    for runner in started:
        runner.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner.task
        await runner.engine.gateway.aclose()


async def place_call(control: httpx.AsyncClient, caller: str, callee: str) -> str:
    answer = await control.post("/sim/calls", json={"from": caller, "to": callee})
    assert answer.status_code == 201, answer.text
    return answer.json()["callRef"]


@pytest.fixture
def call(control: httpx.AsyncClient) -> Callable[[str, str], Any]:
    """``ref = await call("+33140000001", "2000")``: someone outside dials a number."""
    return lambda caller, callee: place_call(control, caller, callee)


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest) -> Callable[[Path], Store]:
    """``stores(place)``: a new store object on the state kept at ``place`` (a folder):
    a SQLite file in it, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return lambda place: SqliteStore(place / "state.sqlite")
    schema = request.getfixturevalue("pg_schema")
    urls: dict[Path, str] = {}

    def make(place: Path) -> Store:
        if place not in urls:
            urls[place] = schema()
        return PostgresStore(urls[place], lease=2.0)

    return make


# -- processes ----------------------------------------------------------------------------


@pytest.fixture
def gateway(sim_process: Callable[..., str]) -> str:
    """A simulator process whose calls ring until someone acts."""
    return sim_process(ring_timeout=600)


@pytest.fixture
def voicemail_audit(gateway: str) -> Callable[[str, str, list[str], int], None]:
    """``voicemail_audit(log_text, flow, placed, kills)``: after engines were killed,
    restarted or replaced while calls rang at alice's desk, check that no timer was lost
    (every call placed reached her voicemail, once) and that no stored transition's action
    was sent twice: the only repeat allowed is the redirect in flight at a kill (one per
    kill at most), whose second try finds the call gone (its guard skips it)."""

    def audit(text: str, flow: str, placed: list[str], kills: int) -> None:
        assert "Traceback" not in text, text[-3000:]
        pbx = httpx.get(f"{gateway}/sim/state", timeout=5).json()
        assert not pbx["calls"]["calls"]
        assert len(pbx["messaging"]["alice"]["voicemails"]) == len(placed)
        ok = Counter(re.findall(rf"{flow}\[(\w+)\] redirect \(call=\w+, to=VOICEMAIL\) ok", text))
        tried = Counter(re.findall(rf"{flow}\[(\w+)\] redirect(?: \(| skipped| failed)", text))
        assert set(ok) <= set(placed) and set(ok.values()) <= {1}, ok
        assert all(tried[ref] >= 1 for ref in placed), tried
        assert sum(tried.values()) - len(placed) <= kills, tried

    return audit

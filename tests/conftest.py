"""Fixtures shared by the test packages: a simulator in a process of its own, PostgreSQL,
and, on the in-process simulator a package's ``sim`` fixture gives, its control API and an
administrator session."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from support import free_port

import o2g_flows.sim
from o2g_flows.client import O2GClient
from o2g_flows.engine.store.throwaway import throwaway_postgres


@pytest.fixture
def sim_process(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``url = sim_process(*sim_args, ring_timeout=None)``: ``o2g-flows sim`` in a process of
    its own, as a gateway would be; stopped at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*extra: str, ring_timeout: int | None = None) -> str:
        command = [sys.executable, "-m", "o2g_flows", "sim", "--port", str(free_port()), *extra]
        if ring_timeout is not None:
            shipped = Path(o2g_flows.sim.__file__).with_name("default_pbx.yaml").read_text()
            pbx = tmp_path / f"pbx-{len(started)}.yaml"
            pbx.write_text(re.sub(r"ring_timeout: \d+", f"ring_timeout: {ring_timeout}", shipped))
            command += ["--pbx", str(pbx)]
        log = tmp_path / f"sim-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        started.append(process)
        deadline = time.monotonic() + 30
        while not (match := re.search(r"listening on (\S+)", log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        url = match.group(1)
        verify = not url.startswith("https")
        while True:  # the first answer, not just the line
            try:
                httpx.get(f"{url}/api/rest", timeout=1, verify=verify)
                return url
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL server's URL: ``$O2G_TEST_POSTGRES``, else a throwaway server."""
    given = os.environ.get("O2G_TEST_POSTGRES")
    if given:
        yield given
        return
    with throwaway_postgres() as url:
        yield url


_schemas = itertools.count(1)


def new_schema(server: str) -> str:
    """The URL of a new empty schema on ``server`` (as the connection's search_path)."""
    schema = f"t{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in server else "?"
    return f"{server}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url(postgres: str) -> str:
    """A schema of its own on the test server: an empty PostgreSQL store."""
    return new_schema(postgres)


@pytest.fixture
def pg_schema(postgres: str) -> Callable[[], str]:
    """``url = pg_schema()``: a new empty schema on the test server, each call."""
    return lambda: new_schema(postgres)


@pytest.fixture
async def control(sim: o2g_flows.sim.Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control API (``/sim/...``): the outside world."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as client:
        yield client


@pytest.fixture
async def o2g(sim: o2g_flows.sim.Simulator) -> AsyncIterator[O2GClient]:
    """An administrator session on the simulator."""
    async with O2GClient(sim.url, "admin", "admin") as client:
        yield client

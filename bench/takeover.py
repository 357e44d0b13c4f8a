"""Active/standby benchmark: takeover time, and the PostgreSQL store's dispatch rate.

Prints, in one run:

1. takeover: an active and a standby ``o2g-flows run`` on one PostgreSQL store against a
   simulator process; the active is killed (SIGKILL) and a call placed at once; the time
   from the kill to the new active's first action (redirecting that call, found with its
   start-up snapshot) is measured, p50/p99 over ``--kills`` kills;
2. store: the dispatch rate of calls through a machine with the PostgreSQL store, next to
   the SQLite store and ``:memory:`` in the same run (see ``timers_reload.py``).

The PostgreSQL server is ``$O2G_TEST_POSTGRES`` or a throwaway one (``initdb``, Unix socket).

    python bench/takeover.py [--kills 20] [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

import o2g_flows.sim
from o2g_flows.engine.store import MemoryStore, PostgresStore, SqliteStore
from o2g_flows.engine.store.throwaway import throwaway_postgres

sys.path.insert(0, str(Path(__file__).parent))
from timers_reload import call_events, dispatch_rate

FLOW = """\
flow: at-once
users: [alice]
key: event.callRef
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  goto: voicemail
states:
  voicemail:
    enter:
      - redirect: {to: VOICEMAIL}
        guard: "call.legs[0].state == 'RINGING_INCOMING'"
    goto: end
"""


def wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.002)
    raise SystemExit(f"timed out waiting for {what}")


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a new schema on ``$O2G_TEST_POSTGRES`` or on a throwaway server."""
    with contextlib.ExitStack() as stack:
        server = os.environ.get("O2G_TEST_POSTGRES") or stack.enter_context(throwaway_postgres())
        schema = f"bench{os.getpid()}_{int(time.time())}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        joiner = "&" if "?" in server else "?"
        yield f"{server}{joiner}options=-csearch_path%3D{schema}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextlib.contextmanager
def simulator(folder: Path) -> Iterator[str]:
    shipped = Path(o2g_flows.sim.__file__).with_name("default_pbx.yaml").read_text()
    pbx = folder / "pbx.yaml"
    pbx.write_text(re.sub(r"ring_timeout: \d+", "ring_timeout: 600", shipped))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "o2g_flows", "sim", "--port", str(port), "--pbx", str(pbx)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/api/rest", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 20, "the simulator")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def takeovers(kills: int) -> list[float]:
    """Seconds from each SIGKILL of the active to the new active's first action."""
    with tempfile.TemporaryDirectory() as name, postgres_schema() as state:
        folder = Path(name)
        (folder / "flows").mkdir()
        (folder / "flows" / "at-once.yaml").write_text(FLOW)
        logs: list[Path] = []
        processes: list[subprocess.Popen[bytes]] = []

        def start(marker: str) -> tuple[subprocess.Popen[bytes], Path]:
            log = folder / f"engine-{len(logs)}.log"
            logs.append(log)
            command = [
                sys.executable, "-m", "o2g_flows", "run", str(folder / "flows"),
                "--server", url, "--state", state, "--no-reload",
                "--plugins", str(folder / "none"),
            ]  # fmt: skip
            env = {**os.environ, "O2G_LOGIN": "admin", "O2G_PASSWORD": "admin"}
            with log.open("wb") as out:
                process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
            processes.append(process)
            wait_for(lambda: marker in log.read_text(), 30, marker)
            return process, log

        times: list[float] = []
        with simulator(folder) as url, httpx.Client(base_url=url, timeout=5) as control:
            try:
                active, _ = start("subscribed to")
                standby, standby_log = start("standby ")
                for _ in range(kills):
                    killed = time.monotonic()
                    active.send_signal(signal.SIGKILL)
                    answer = control.post("/sim/calls", json={"from": "+3361", "to": "2001"})
                    ref = answer.json()["callRef"]
                    done = f"redirect (call={ref}, to=VOICEMAIL) ok"
                    wait_for(lambda log=standby_log, done=done: done in log.read_text(), 30, done)
                    times.append(time.monotonic() - killed)
                    active.wait(10)
                    active = standby
                    standby, standby_log = start("standby ")
            finally:
                for process in processes:
                    if process.poll() is None:
                        process.terminate()
                        process.wait(20)
        return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def store_rates(calls: int) -> tuple[float, float, float]:
    events = call_events(calls)
    with postgres_schema() as url:
        postgres = await dispatch_rate(PostgresStore(url), events)
    with tempfile.TemporaryDirectory() as folder:
        sqlite = await dispatch_rate(SqliteStore(Path(folder) / "state.sqlite"), events)
    memory = await dispatch_rate(MemoryStore(), events)
    return postgres, sqlite, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--calls", type=int, default=20_000)
    options = parser.parse_args()

    times = takeovers(options.kills)
    print(
        f"takeover, SIGKILL of the active to the new active's first action: p50 "
        f"{statistics.median(times) * 1000:.0f} ms, p99 {percentile(times, 0.99) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms over {len(times)} kills (target <= 5 s)"
    )
    postgres, sqlite, memory = asyncio.run(store_rates(options.calls))
    print(
        f"store, {options.calls * 3:,} call events with an action per call: PostgreSQL "
        f"{postgres:,.0f} events/s, SQLite {sqlite:,.0f} events/s, :memory: {memory:,.0f} "
        f"events/s (PostgreSQL/SQLite {postgres / sqlite:.2f})"
    )


if __name__ == "__main__":
    main()

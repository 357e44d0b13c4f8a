"""The PostgreSQL store's own behaviour: schema versions, one clear line when unreachable,
one active instance under a lease, stale writes refused, a lost connection waited out."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from o2g_flows.engine.state import Execution
from o2g_flows.engine.store import FencingError, PostgresStore, StoreError, open_store


def execution(ident: int, state: str = "ringing") -> Execution:
    event = {"eventName": "OnCallCreated", "callRef": f"c{ident}", "loginName": "alice"}
    item = Execution(ident, "no-answer", "v1", f"c{ident}", event, 1000.0)
    item.state = state
    return item


def lease_row(url: str) -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT token, holder FROM o2g_lease").fetchone()  # type: ignore[return-value]


def stored_states(url: str) -> dict[int, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, data->>'state' FROM o2g_executions").fetchall()
    return dict(rows)


def end_session_of(url: str, name: str) -> None:
    """End the database session of the lease holder ``name`` (as a server restart would)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(backend) FROM o2g_lease WHERE holder = %s", (name,)
        )


def test_a_postgresql_url_selects_the_postgres_store():
    store = open_store("postgresql://o2g@db.example/flows", lease=3)
    assert isinstance(store, PostgresStore) and store.shared and store.lease == 3


async def test_an_unreachable_server_is_one_clear_line():
    store = PostgresStore("postgresql://o2g:secret@/flows?host=/nonexistent", lease=2)
    with pytest.raises(StoreError, match=r"^PostgreSQL .*cannot connect \(") as raised:
        await store.connect()
    assert "\n" not in str(raised.value) and "secret" not in str(raised.value)


async def test_a_newer_schema_is_refused_and_an_older_one_is_kept(pg_url):
    store = PostgresStore(pg_url, name="a")
    await store.open()
    await store.close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE o2g_schema SET version = 99")
    with pytest.raises(StoreError, match=r"newer o2g-flows \(schema 99, this one knows 1\)"):
        await PostgresStore(pg_url, name="b").connect()
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE o2g_schema SET version = 1")
    await PostgresStore(pg_url, name="c").connect()  # the same version: nothing to migrate


async def test_one_active_the_other_waits_and_takes_over_with_a_greater_token(pg_url):
    first = PostgresStore(pg_url, lease=1.0, name="first")
    await first.open()
    assert lease_row(pg_url) == (1, "first")
    first.put(execution(1))
    await first.flush()

    second = PostgresStore(pg_url, lease=1.0, name="second")
    waiting = asyncio.create_task(second.open())
    await asyncio.sleep(1.5)  # longer than the lease: the first renews it, the second waits
    assert not waiting.done()
    await first.close()  # its lock goes with its connection: the second takes over
    async with asyncio.timeout(5):
        restored = await waiting
    assert [e.id for e in restored.executions] == [1]
    assert lease_row(pg_url) == (2, "second") and second.token == 2
    assert second.takeovers == 1
    await second.close()


async def test_a_write_with_an_old_token_is_refused_and_the_engine_told(pg_url):
    store = PostgresStore(pg_url, name="old")
    await store.open()
    store.put(execution(1))
    await store.flush()
    failures: list[tuple[list[int], StoreError]] = []
    store.on_failure = lambda ids, error: failures.append((ids, error))
    with psycopg.connect(pg_url) as conn:  # another instance took over meanwhile
        conn.execute("UPDATE o2g_lease SET token = token + 1, holder = 'new'")
    store.put(execution(1, state="voicemail"))
    store.put(execution(2))
    with pytest.raises(FencingError, match=r"lost the lease .*\(token 1\): new \(token 2\)"):
        await store.flush()
    assert stored_states(pg_url) == {1: "ringing"}  # nothing of the refused commit
    assert store.refused == 1
    assert len(failures) == 1 and failures[0][0] == [] and not store.may_act()
    store.put(execution(3))
    with pytest.raises(FencingError):
        await store.flush()  # every later write too
    assert store.refused == 2
    await store.close()


async def test_a_stalled_active_loses_the_lease_and_cannot_write(pg_url):
    """The active's loop blocked (as by SIGSTOP) beyond the lease: a standby ends its
    database session and takes over; the former active's next write is refused."""
    stalled = PostgresStore(pg_url, lease=0.6, name="stalled")
    await stalled.open()
    stalled.put(execution(1))
    await stalled.flush()
    assert stalled.may_act()

    def standby() -> None:
        async def take_over() -> None:
            other = PostgresStore(pg_url, lease=0.6, name="standby")
            async with asyncio.timeout(10):
                await other.open()
            other.put(execution(1, state="voicemail"))
            await other.flush()
            await other.close()

        asyncio.run(take_over())

    thread = threading.Thread(target=standby)
    thread.start()
    thread.join(20)  # this loop is stalled meanwhile: no renewal
    assert not thread.is_alive()
    assert lease_row(pg_url) == (2, "standby")
    assert not stalled.may_act()  # its lease ran out while it stalled
    with pytest.raises(FencingError, match="standby \\(token 2\\) took over"):
        await stalled.confirm()
    stalled.put(execution(1, state="ringing-again"))
    with pytest.raises(FencingError):
        await stalled.flush()
    assert stored_states(pg_url) == {1: "voicemail"}
    await stalled.close()


async def test_a_lost_connection_is_waited_out_while_the_lease_is_still_ours(pg_url, caplog):
    store = PostgresStore(pg_url, lease=1.0, name="active")
    await store.open()
    end_session_of(pg_url, "active")  # as a database restart would
    store.put(execution(1))
    async with asyncio.timeout(10):
        await store.flush()  # reconnected, still the holder: the write goes through
    assert stored_states(pg_url) == {1: "ringing"}
    assert "lost (" in caplog.text and "still the lease holder (token 1)" in caplog.text
    assert store.may_act() and store.refused == 0
    await store.close()


async def test_renewal_keeps_a_busy_active_able_to_act(pg_url):
    store = PostgresStore(pg_url, lease=0.4, name="active")
    await store.open()
    deadline = time.monotonic() + 1.2  # three leases
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if not store.may_act():
            await store.confirm()  # what the engine does before an action
        assert store.may_act()
    assert lease_row(pg_url) == (1, "active")
    await store.close()


def test_run_on_an_unreachable_server_exits_with_one_line(tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "f.yaml").write_text(
        "flow: f\nkey: event.callRef\nstart: {on: OnCallCreated, goto: waiting}\n"
        "states:\n  waiting:\n    on:\n      OnCallRemoved: {goto: end}\n"
    )
    command = [
        sys.executable, "-m", "o2g_flows", "run", str(flows), "--no-reload",
        "--server", "http://127.0.0.1:9", "--login", "a", "--password", "b",
        "--state", "postgresql://o2g:secret@/flows?host=/nonexistent",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    lines = (done.stderr + done.stdout).splitlines()
    errors = [line for line in lines if "PostgreSQL" in line]
    assert len(errors) == 1 and "cannot connect" in errors[0] and "secret" not in errors[0]


async def test_while_postgresql_is_gone_nothing_is_acted_on_and_a_stop_still_ends(pg_url, caplog):
    store = PostgresStore(pg_url, lease=0.4, name="active")
    await store.open()
    store.url = "postgresql://postgres@/postgres?host=/nonexistent"  # every reconnect fails
    end_session_of(pg_url, "active")
    store.put(execution(1))
    flushing = asyncio.ensure_future(store.flush())
    await asyncio.sleep(0.6)  # beyond the lease: the write still waits for the database
    assert not flushing.done() and not store.may_act()
    assert "no action is sent until it is back" in caplog.text
    async with asyncio.timeout(10):
        await store.close()  # SIGTERM meanwhile: the stop is not held up
    flushing.cancel()
    assert stored_states(pg_url) == {}

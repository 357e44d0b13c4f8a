"""The durable stores: what they keep (SQLite and PostgreSQL alike), and a clear refusal
for every SQLite file that cannot be used (PostgreSQL's refusals: test_postgres.py)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from o2g_flows.engine.state import Execution
from o2g_flows.engine.store import MemoryStore, SqliteStore, StoreError, open_store


def execution(ident: int, state: str = "ringing") -> Execution:
    event = {"eventName": "OnCallCreated", "callRef": f"c{ident}", "loginName": "alice"}
    item = Execution(ident, "no-answer", "v1", f"c{ident}", event, 1000.0)
    item.state = state
    item.deadlines = (1020.0,)
    item.plan = (0, 2)
    item.vars = {"n": ident}
    return item


async def test_executions_and_schedule_firings_survive_a_reopen(tmp_path, stores):
    store = stores(tmp_path)
    assert (await store.open()).executions == []
    for n in (1, 2, 3):
        store.put(execution(n))
    store.remove(2)
    store.fired("after-hours", "evening", 1234.5)
    store.set_meta("subscription", "sub-1")
    await store.flush()
    await store.close()

    again = stores(tmp_path)
    restored = await again.open()
    assert [e.id for e in restored.executions] == [1, 3]
    first = restored.executions[0]
    assert first.to_record() == execution(1).to_record()
    assert first.first is first.event  # the starting event is stored once
    assert again.last_fired("after-hours", "evening") == 1234.5
    assert restored.meta == {"subscription": "sub-1"}
    assert restored.next_id == 4
    await again.close()


async def test_an_execution_at_rest_is_stored_and_read_back_with_both_its_events(tmp_path, stores):
    waiting = execution(1)
    waiting.event = {"eventName": "OnCallModified", "callRef": "c1", "legs": [{"state": "HELD"}]}
    waiting.rest()  # its events are JSON bytes now, decoded when read
    assert waiting.first["eventName"] == "OnCallCreated"
    assert waiting.event["legs"] == [{"state": "HELD"}]
    store = stores(tmp_path)
    await store.open()
    store.put(waiting)
    await store.flush()
    await store.close()

    again = stores(tmp_path)
    (restored,) = (await again.open()).executions
    assert (restored.first, restored.event) == (waiting.first, waiting.event)
    await again.close()


def test_events_that_are_not_plain_json_are_kept_as_they_are():
    from datetime import UTC, datetime

    event = {"eventName": "OnSchedule", "at": datetime(2026, 12, 2, tzinfo=UTC)}
    resting = Execution(1, "f", "v1", "k", event, 0.0)
    resting.rest()
    assert resting.event is event  # a datetime would come back as text: not made bytes
    plain = Execution(2, "f", "v1", "k", {"eventName": "OnCallCreated", "n": 1.5}, 0.0)
    plain.rest()
    assert plain.event == {"eventName": "OnCallCreated", "n": 1.5}


async def test_writes_of_one_loop_turn_share_one_commit(tmp_path, stores):
    store = stores(tmp_path)
    await store.open()
    commits = 0
    write = store._write

    async def counting(*args):
        nonlocal commits
        commits += 1
        await write(*args)

    store._write = counting  # type: ignore[method-assign]
    for n in range(1, 501):
        store.put(execution(n))
    await store.flush()
    assert commits == 1
    for n in range(1, 251):
        store.remove(n)
    await store.flush()
    assert commits == 2
    await store.close()
    restored = await stores(tmp_path).open()
    assert [e.id for e in restored.executions] == list(range(251, 501))


async def test_a_second_engine_on_the_same_file_is_refused(tmp_path):
    first = SqliteStore(tmp_path / "state.sqlite")
    await first.open()
    with pytest.raises(StoreError, match=rf"in use by another o2g-flows \(pid {os.getpid()}\)"):
        await SqliteStore(tmp_path / "state.sqlite").open()
    await first.close()
    second = SqliteStore(tmp_path / "state.sqlite")
    await second.open()  # free again once the first is closed
    await second.close()


async def test_a_damaged_file_is_refused_not_started_empty(tmp_path):
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"is damaged .*move it away"):
        await SqliteStore(path).open()
    assert path.read_bytes().startswith(b"this is not a database")  # left as it was


async def test_a_damaged_record_is_refused(tmp_path):
    path = tmp_path / "state.sqlite"
    store = SqliteStore(path)
    await store.open()
    store.put(execution(1))
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE executions SET data = ?", (b"{not json",))
    with pytest.raises(StoreError, match="is damaged"):
        await SqliteStore(path).open()


async def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "state.sqlite"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    with pytest.raises(StoreError, match=r"newer o2g-flows .schema 99"):
        await SqliteStore(path).open()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` made unwritable, even for root (the immutable attribute) where we are root."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)


async def test_a_read_only_file_or_folder_is_refused(tmp_path):
    path = tmp_path / "state" / "state.sqlite"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with read_only(path), pytest.raises(StoreError, match=r"state.sqlite is read-only"):
        await SqliteStore(path).open()
    with read_only(path.parent), pytest.raises(StoreError, match=r"state is read-only"):
        await SqliteStore(path).open()


async def test_a_failed_commit_is_reported_with_the_executions_it_held(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite")
    await store.open()
    failed: list[tuple[list[int], str]] = []
    store.on_failure = lambda ids, error: failed.append((ids, str(error)))
    store.put(execution(1))
    await store.flush()
    store._db.execute("PRAGMA max_page_count = 1")  # type: ignore[union-attr] - a full disk
    big = execution(2)
    big.vars = {"blob": "x" * 100_000}
    store.put(big)
    with pytest.raises(StoreError, match=r"cannot write .*full"):
        await store.flush()
    assert failed and failed[0][0] == [2]
    store._db.execute("PRAGMA max_page_count = 1073741823")  # type: ignore[union-attr]
    store.put(execution(3))
    await store.flush()  # later writes go on once there is room again
    await store.close()
    restored = await SqliteStore(tmp_path / "state.sqlite").open()
    assert [e.id for e in restored.executions] == [1, 3]


def test_memory_or_nothing_keeps_nothing():
    assert isinstance(open_store(":memory:"), MemoryStore)
    assert isinstance(open_store(None), MemoryStore)
    assert not MemoryStore.durable

"""Where executions, their timers and the schedules' last firings are kept across restarts.

``Store`` is the interface the engine writes through; ``MemoryStore`` keeps nothing
(``--state :memory:``) and ``SqliteStore`` keeps everything in one SQLite file (WAL).
Writes are grouped: ``put`` and ``remove`` only note what changed, a commit task writes
every change noted during one turn of the event loop in one transaction (one statement),
and ``flush`` waits until what was noted so far is stored. The engine sends a
transition's actions only once the transition is stored (``settled``, ``when_settled``).
The commit runs on the event loop's thread: a writer thread was measured slower, as it
and the loop keep taking the interpreter's lock from each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .state import Execution

__all__ = [
    "MemoryStore",
    "Restored",
    "SqliteStore",
    "Store",
    "StoreError",
    "default_state_path",
    "open_store",
]

log = logging.getLogger("o2g_flows.engine")

#: The schema this code writes; a file with a newer one is refused.
SCHEMA_VERSION = 1


class StoreError(Exception):
    """The store cannot be opened or written; the message says what to do."""


@dataclass
class Restored:
    """What an opened store holds: executions, schedule firings and the next free id."""

    executions: list[Execution] = field(default_factory=list)
    next_id: int = 1
    meta: dict[str, str] = field(default_factory=dict)


#: Called with the ids of executions whose writes failed, and the error.
FailureHandler = Callable[[list[int], StoreError], None]


class Store(ABC):
    """The engine's durable state. ``durable`` is False when nothing survives a restart."""

    durable = True

    def __init__(self) -> None:
        self._marks: dict[tuple[str, str], float] = {}
        self.on_failure: FailureHandler | None = None

    @abstractmethod
    async def open(self) -> Restored:
        """Read what was kept; raises ``StoreError`` if the store cannot be used."""

    @abstractmethod
    def put(self, execution: Execution) -> None:
        """Note that ``execution`` changed (written at the next commit)."""

    @abstractmethod
    def remove(self, execution_id: int) -> None:
        """Note that an execution ended (deleted at the next commit)."""

    @abstractmethod
    def set_meta(self, name: str, value: str | None) -> None:
        """Keep (or, with None, forget) one named text, such as the O2G subscription id."""

    @abstractmethod
    async def flush(self) -> None:
        """Return once every change noted so far is stored; raises ``StoreError``."""

    def settled(self, execution_id: int) -> bool:
        """Whether the last change noted for an execution is stored."""
        return True

    def when_settled(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (soon) once every change noted so far is stored, or failed."""
        callback()

    @abstractmethod
    async def close(self) -> None:
        """Store what is pending and release the store."""

    def last_fired(self, flow: str, name: str) -> float | None:
        """When the schedule ``name`` of ``flow`` last fired (epoch seconds), if known."""
        return self._marks.get((flow, name))

    def fired(self, flow: str, name: str, at: float) -> None:
        """Note that a schedule fired ``at`` (kept with the next commit)."""
        self._marks[flow, name] = at


class MemoryStore(Store):
    """Keeps nothing across restarts: every method is free."""

    durable = False

    async def open(self) -> Restored:
        return Restored()

    def put(self, execution: Execution) -> None:
        pass

    def remove(self, execution_id: int) -> None:
        pass

    def set_meta(self, name: str, value: str | None) -> None:
        pass

    async def flush(self) -> None:
        pass

    async def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (id INTEGER PRIMARY KEY, flow TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS schedules (
    flow TEXT NOT NULL, name TEXT NOT NULL, fired REAL NOT NULL, PRIMARY KEY (flow, name)
);
"""

# Every change of a commit in one statement, so one transaction: ``[[id, flow, record]...]``,
# a null record for an execution that ended (a tombstone, purged now and then).
_WRITE = """
INSERT OR REPLACE INTO executions (id, flow, data)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
FROM json_each(?)
"""
_PURGE = "DELETE FROM executions WHERE data IS NULL"
_PURGE_EVERY = 1000  # commits


class SqliteStore(Store):
    """One SQLite file in WAL mode, written in grouped commits.

    With ``synchronous=NORMAL`` a commit survives the process being killed at any point;
    a power cut may lose the last commits (never corrupt the file). A lock file beside
    the state file keeps a second engine from using it at the same time.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock: int | None = None
        self._changed: dict[int, Execution | None] = {}  # id -> execution, or None: removed
        self._meta: dict[str, str | None] = {}
        self._dirty_marks: set[tuple[str, str]] = set()
        self._next: asyncio.Future[None] | None = None  # resolved by the next commit
        self._committing: dict[int, Execution | None] = {}  # the commit under way
        self._task: asyncio.Task[None] | None = None
        self._commits = 0
        self._closed = False

    # -- opening ------------------------------------------------------------------------------

    async def open(self) -> Restored:
        return self._open()

    def _open(self) -> Restored:
        where = str(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"state file {where}: cannot create its folder ({exc.strerror})"
            ) from None
        for place in (self.path, self.path.parent):
            if place.exists() and not os.access(place, os.W_OK):
                raise StoreError(
                    f"state file {where}: {place} is read-only; give o2g-flows write access "
                    "or another --state"
                )
        self._take_lock()
        try:
            db = sqlite3.connect(where, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"state file {where}: cannot open it ({exc})") from None
        self._db = db
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            status = db.execute("PRAGMA quick_check").fetchone()[0]
            if status != "ok":
                raise sqlite3.DatabaseError(status)
            db.executescript(_SCHEMA)
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
            version = int(meta.get("schema", SCHEMA_VERSION))
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"state file {where} was written by a newer o2g-flows (schema {version}, "
                    f"this one knows {SCHEMA_VERSION}): upgrade, or use another --state"
                )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            db.execute(_PURGE)
            executions = [
                Execution.from_record(orjson.loads(data))
                for (data,) in db.execute(
                    "SELECT data FROM executions WHERE data IS NOT NULL ORDER BY id"
                )
            ]
            for flow, name, fired in db.execute("SELECT flow, name, fired FROM schedules"):
                self._marks[flow, name] = fired
        except StoreError:
            self._release()
            raise
        except sqlite3.OperationalError as exc:
            self._release()
            raise StoreError(f"state file {where}: {exc}") from None
        except (sqlite3.DatabaseError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            self._release()
            raise StoreError(
                f"state file {where} is damaged ({exc}): move it away to start empty, "
                "or restore a backup"
            ) from None
        meta.pop("schema", None)
        next_id = max((execution.id for execution in executions), default=0) + 1
        next_id = max(next_id, int(meta.pop("next_id", 1)))
        return Restored(executions, next_id, meta)

    def _take_lock(self) -> None:
        lock_path = f"{self.path}.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"state file {self.path}: cannot create {lock_path} ({exc.strerror})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StoreError(
                f"state file {self.path} is in use by another o2g-flows (pid {holder}); "
                "stop it or give this one another --state"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock = fd

    def _release(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor drops the flock
            self._lock = None

    # -- writing ------------------------------------------------------------------------------

    def put(self, execution: Execution) -> None:
        self._changed[execution.id] = execution
        self._kick()

    def remove(self, execution_id: int) -> None:
        self._changed[execution_id] = None
        self._kick()

    def set_meta(self, name: str, value: str | None) -> None:
        self._meta[name] = value
        self._kick()

    def fired(self, flow: str, name: str, at: float) -> None:
        super().fired(flow, name, at)
        self._dirty_marks.add((flow, name))
        self._kick()

    async def flush(self) -> None:
        if self._next is None:
            return
        await asyncio.shield(self._next)

    def settled(self, execution_id: int) -> bool:
        return execution_id not in self._changed and execution_id not in self._committing

    def when_settled(self, callback: Callable[[], None]) -> None:
        if self._next is None:
            callback()
        else:
            self._next.add_done_callback(lambda _: callback())

    def _kick(self) -> None:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._commit())

    async def _commit(self) -> None:
        try:
            while self._next is not None:
                await asyncio.sleep(0)  # let this loop turn's writes join the batch
                done, self._next = self._next, None
                changed = self._committing = self._changed
                self._changed = {}
                rows = orjson.dumps(
                    [
                        (ident, None, None)
                        if execution is None
                        else (ident, execution.flow, execution.to_record())
                        for ident, execution in changed.items()
                    ]
                )
                kept = [execution for execution in changed.values() if execution is not None]
                self._commits += 1
                purge = self._commits % _PURGE_EVERY == 0
                marks = [(flow, name, self._marks[flow, name]) for flow, name in self._dirty_marks]
                self._dirty_marks = set()
                meta, self._meta = self._meta, {}
                try:
                    self._write(rows, marks, meta, purge)
                except StoreError as exc:
                    log.error("%s (%d execution(s) not kept)", exc, len(kept))
                    done.set_exception(exc)
                    done.exception()  # retrieved: waiters get it from flush()
                    if self.on_failure is not None:
                        self.on_failure([execution.id for execution in kept], exc)
                else:
                    done.set_result(None)
                finally:
                    self._committing = {}
        finally:
            self._task = None

    def _write(
        self,
        rows: bytes,
        marks: list[tuple[str, str, float]],
        meta: dict[str, str | None],
        purge: bool,
    ) -> None:
        """One transaction: ``rows`` (see ``_WRITE``), schedule marks, meta, maybe a purge."""
        db = self._db
        if db is None:
            raise StoreError(f"state file {self.path} is closed")
        alone = not (marks or meta or purge)
        try:
            if alone:  # the common case: one statement is its own transaction
                db.execute(_WRITE, (rows.decode(),))
                return
            db.execute("BEGIN")
            db.execute(_WRITE, (rows.decode(),))
            if purge:
                db.execute(_PURGE)
            if marks:
                db.executemany("INSERT OR REPLACE INTO schedules VALUES (?, ?, ?)", marks)
            for name, value in meta.items():
                if value is None:
                    db.execute("DELETE FROM meta WHERE name = ?", (name,))
                else:
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise StoreError(f"state file {self.path}: cannot write ({exc})") from None

    async def close(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(StoreError):
            await self.flush()
        if self._task is not None:
            with contextlib.suppress(StoreError, asyncio.CancelledError):
                await self._task
        self._closed = True
        self._release()


def open_store(where: str | os.PathLike[str] | None) -> Store:
    """The store for ``--state``: ``:memory:`` (or None) keeps nothing, else a SQLite file."""
    if where is None or str(where) == ":memory:":
        return MemoryStore()
    return SqliteStore(where)


def default_state_path(server: str) -> Path:
    """Where ``run`` keeps its state for a gateway: ``$XDG_STATE_HOME/o2g-flows/HOST.sqlite``."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    host = server.split("://", 1)[-1].split("/", 1)[0].replace(":", "_") or "gateway"
    return Path(base) / "o2g-flows" / f"{host}.sqlite"

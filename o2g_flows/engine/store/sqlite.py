"""The SQLite store: one file in WAL mode, written in grouped commits (``BatchedStore``)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from pathlib import Path

import orjson

from ..state import Execution
from .base import BatchedStore, Restored, StoreError

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

#: The schema this code writes; a file with a newer one is refused.
SCHEMA_VERSION = 1


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


class SqliteStore(BatchedStore):
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

    async def _write(
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
        await self._settle_pending()
        self._closed = True
        self._release()

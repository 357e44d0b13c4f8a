"""The PostgreSQL store: several engines on one database, exactly one active.

The active instance holds a lease: a session-level advisory lock, which PostgreSQL frees
as soon as the holder's connection ends (a killed process), and the one row of
``o2g_lease``, whose ``token`` increases at each takeover. Every commit checks the token
in its own transaction (the row locked FOR SHARE, so a takeover waits for it or it sees
the new token), so a former active's writes are refused (``FencingError``). The active
renews the row every ``lease / 4`` seconds and sends actions only within ``lease / 2``
of its last renewal (``may_act``; else ``confirm`` renews first). A standby tries the
lock every ``poll`` seconds; when the row was not renewed for a whole ``lease`` (a
stalled process, a lost network) it ends the holder's database session, which frees the
lock, and takes over at its next try.

Tables are prefixed ``o2g_`` and live in the connection's ``search_path`` schema; the
engine creates and migrates them (``o2g_schema`` holds the version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import time

import orjson
import psycopg
from psycopg.types.json import set_json_loads

from ..state import Execution
from .base import BatchedStore, FencingError, Restored, StoreError

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

log = logging.getLogger("o2g_flows.engine")

_LOCK = 0x4F3247  # first key of our advisory locks ("O2G"); the second is the schema's hash
_SCHEMA_LOCK = _LOCK + 1

#: Statements that bring the schema from the version before to each version.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE o2g_meta (name text PRIMARY KEY, value text NOT NULL)",
        "CREATE TABLE o2g_executions (id bigint PRIMARY KEY, flow text NOT NULL, data jsonb)",
        "CREATE TABLE o2g_schedules (flow text, name text, fired double precision NOT NULL,"
        " PRIMARY KEY (flow, name))",
        "CREATE TABLE o2g_lease (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
        " token bigint NOT NULL, holder text, backend integer, renewed timestamptz)",
        "INSERT INTO o2g_lease (token) VALUES (0)",
    ),
}
#: The schema this code writes; a database with a newer one is refused.
SCHEMA_VERSION = max(_MIGRATIONS)

_SCHEMA_KEY = "hashtext(current_schema())"
_CHECK = "SELECT token FROM o2g_lease WHERE token = %(token)s FOR SHARE"
# A commit's executions in one statement: ``[[id, flow, record]...]``, a null record for an
# execution that ended; nothing is written unless the token is still the lease's.
_COMMIT = """
WITH lease AS (SELECT token FROM o2g_lease WHERE token = %(token)s FOR SHARE),
rows AS (
    SELECT (r->>0)::bigint AS id, r->>1 AS flow, r->2 AS data
    FROM jsonb_array_elements(%(rows)s::jsonb) r WHERE EXISTS (SELECT FROM lease)
),
gone AS (
    DELETE FROM o2g_executions e USING rows
    WHERE e.id = rows.id AND jsonb_typeof(rows.data) = 'null'
),
kept AS (
    INSERT INTO o2g_executions (id, flow, data)
    SELECT id, flow, data FROM rows WHERE jsonb_typeof(data) = 'object'
    ON CONFLICT (id) DO UPDATE SET flow = excluded.flow, data = excluded.data
)
SELECT count(*) FROM lease
"""
_TERMINATE_HOLDER = f"""
SELECT pg_terminate_backend(pid) FROM pg_locks
WHERE locktype = 'advisory' AND granted AND classid = {_LOCK}
  AND objid = ({_SCHEMA_KEY}::bigint & 4294967295)::oid
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def _redacted(url: str) -> str:
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


class PostgresStore(BatchedStore):
    """A PostgreSQL database shared by any number of engines; ``open`` waits as standby
    until this one holds the lease. ``lease`` bounds a takeover when the active stalls
    or is cut off; when it dies its lock goes at once and a standby takes over within
    ``poll`` seconds.

    ``takeovers`` counts the times this instance became active, ``refused`` the writes
    refused because another instance had taken over.
    """

    shared = True

    shared = True

    def __init__(self, url: str, *, lease: float = 4.0, name: str | None = None) -> None:
        super().__init__()
        self.url = url
        self.where = _redacted(url)
        self.lease = lease
        self.poll = min(0.2, lease / 8)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.token: int | None = None
        #: ``(name, token)`` of the active instance while this one waits as standby
        self.holder: tuple[str | None, int] | None = None
        self.takeovers = 0
        self.refused = 0
        self._conn: psycopg.AsyncConnection | None = None
        self._generation = 0  # of the connection, so that one loss is recovered once
        self._connected = False  # once: later losses are waited out, not fatal
        self._valid_until = 0.0  # monotonic time until which the lease surely is ours
        self._fenced: FencingError | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._confirming: asyncio.Task[None] | None = None
        self._recovering = asyncio.Lock()

    # -- connecting ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and create or migrate the schema; raises ``StoreError`` (unreachable,
        refused, or a schema newer than this code knows)."""
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=max(2, round(self.lease))
            )
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"PostgreSQL {self.where}: cannot connect ({reason})") from None
        set_json_loads(orjson.loads, conn)
        try:
            await self._migrate(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._generation += 1
        self._connected = True

    async def _migrate(self, conn: psycopg.AsyncConnection) -> None:
        try:
            async with conn.transaction():
                await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK}, {_SCHEMA_KEY})")
                await conn.execute("CREATE TABLE IF NOT EXISTS o2g_schema (version integer)")
                row = await (await conn.execute("SELECT version FROM o2g_schema")).fetchone()
                version = row[0] if row else 0
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"PostgreSQL {self.where} was written by a newer o2g-flows (schema "
                        f"{version}, this one knows {SCHEMA_VERSION}): upgrade, or use "
                        "another database"
                    )
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[step]:
                        await conn.execute(statement)  # type: ignore[arg-type]
                if row is None:
                    await conn.execute("INSERT INTO o2g_schema VALUES (%s)", (SCHEMA_VERSION,))
                elif version < SCHEMA_VERSION:
                    await conn.execute("UPDATE o2g_schema SET version = %s", (SCHEMA_VERSION,))
                    log.info("state    %s: schema %d -> %d", self.where, version, SCHEMA_VERSION)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL {self.where}: cannot set up the schema ({exc})") from None

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

    # -- the lease ----------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Wait as standby until this instance holds the lease. Raises ``StoreError`` when
        the very first connection fails; later losses are waited out."""
        said: tuple[str | None, int] | None = None
        unreachable = False
        while True:
            try:
                if self._conn is None:
                    await self.connect()
                async with asyncio.timeout(self.lease):
                    holder = await self._try_take()
            except (StoreError, psycopg.OperationalError, TimeoutError) as exc:
                if not self._connected:
                    raise
                if not unreachable:
                    log.warning("standby  PostgreSQL %s unreachable (%s)", self.where, exc)
                    unreachable = True
                await self._disconnect()
                await asyncio.sleep(self.poll)
                continue
            self.holder = holder
            if holder is None:
                return
            unreachable = False
            if holder != said:
                log.info(
                    "standby  %s is active (token %d); this instance (%s) waits, not logged "
                    "in to O2G: it logs in when it takes over, so the gateway serves one "
                    "engine's session and subscription",
                    holder[0],
                    holder[1],
                    self.name,
                )
                said = holder
            await asyncio.sleep(self.poll)

    async def _try_take(self) -> tuple[str | None, int] | None:
        """Take the lease if its lock is free (None), else ``(holder, token)``; ends the
        session of a holder that stopped renewing."""
        conn = self._conn
        assert conn is not None
        cur = await conn.execute(f"SELECT pg_try_advisory_lock({_LOCK}, {_SCHEMA_KEY})")
        if not (await cur.fetchone())[0]:  # type: ignore[index]
            cur = await conn.execute(
                "SELECT holder, token, extract(epoch FROM now() - renewed)::float FROM o2g_lease"
            )
            holder, token, age = await cur.fetchone()  # type: ignore[misc]
            if age is not None and age > self.lease:
                log.warning(
                    "standby  %s (token %d) has not renewed the lease for %.1fs: ending its "
                    "database session",
                    holder,
                    token,
                    age,
                )
                await conn.execute(_TERMINATE_HOLDER)
            return holder, token
        sent = time.monotonic()
        cur = await conn.execute(
            "UPDATE o2g_lease SET token = token + 1, holder = %s, backend = pg_backend_pid(),"
            " renewed = now() RETURNING token, (SELECT holder FROM o2g_lease)",
            (self.name,),
        )
        self.token, before = await cur.fetchone()  # type: ignore[misc]
        self._valid_until = sent + self.lease / 2
        self._fenced = None
        self.takeovers += 1
        log.info(
            "active   %s holds the lease of %s (token %d%s)",
            self.name,
            self.where,
            self.token,
            f", after {before}" if before else "",
        )
        self._renewer = asyncio.get_running_loop().create_task(self._keep())
        return None

    async def peek_meta(self, name: str) -> str | None:
        """One meta text as the active wrote it (a standby reads it; None if unreachable)."""
        conn = self._conn
        if conn is None:
            return None
        try:
            async with asyncio.timeout(self.lease):
                cur = await conn.execute("SELECT value FROM o2g_meta WHERE name = %s", (name,))
                row = await cur.fetchone()
        except (psycopg.Error, TimeoutError):
            return None
        return row[0] if row else None

    async def _keep(self) -> None:
        """Renew the lease every ``lease / 4`` seconds until it is lost or released."""
        with contextlib.suppress(FencingError):
            while True:
                await asyncio.sleep(self.lease / 4)
                await self.confirm()

    def may_act(self) -> bool:
        return self._fenced is None and time.monotonic() < self._valid_until

    async def confirm(self) -> None:
        if self._fenced is not None:
            raise self._fenced
        if self._confirming is None:
            self._confirming = asyncio.get_running_loop().create_task(self._renew())
        task = self._confirming
        try:
            await asyncio.shield(task)
        finally:
            if self._confirming is task and task.done():
                self._confirming = None

    async def _renew(self) -> None:
        while True:
            if self._fenced is not None:
                raise self._fenced
            generation, sent = self._generation, time.monotonic()
            try:
                assert self._conn is not None
                async with asyncio.timeout(self.lease / 2):
                    cur = await self._conn.execute(
                        "UPDATE o2g_lease SET renewed = now() WHERE token = %s", (self.token,)
                    )
            except (psycopg.OperationalError, TimeoutError, AssertionError) as exc:
                await self._recover(generation, exc)
                continue
            if cur.rowcount != 1:
                raise await self._lost()
            self._valid_until = max(self._valid_until, sent + self.lease / 2)
            return

    async def _recover(self, generation: int, cause: BaseException) -> None:
        """The connection failed while active: wait for PostgreSQL, then go on if this
        instance still holds the lease, else raise ``FencingError``."""
        async with self._recovering:
            if self._fenced is not None:
                raise self._fenced
            if generation != self._generation:
                return  # another task reconnected meanwhile
            log.warning(
                "active   PostgreSQL %s lost (%s): no action is sent until it is back",
                self.where,
                str(cause).strip() or type(cause).__name__,
            )
            await self._disconnect()
            while True:
                try:
                    await self.connect()
                    assert self._conn is not None
                    async with asyncio.timeout(self.lease):
                        cur = await self._conn.execute(
                            f"SELECT pg_try_advisory_lock({_LOCK}, {_SCHEMA_KEY})"
                        )
                        locked = (await cur.fetchone())[0]  # type: ignore[index]
                        sent = time.monotonic()
                        cur = await self._conn.execute(
                            "UPDATE o2g_lease SET renewed = now(), backend = pg_backend_pid()"
                            " WHERE token = %s",
                            (self.token,),
                        )
                except (StoreError, psycopg.OperationalError, TimeoutError):
                    await self._disconnect()
                    await asyncio.sleep(self.poll)
                    continue
                break
            if not locked or cur.rowcount != 1:
                raise await self._lost()
            self._valid_until = sent + self.lease / 2
            log.warning(
                "active   PostgreSQL %s is back; still the lease holder (token %d): resuming",
                self.where,
                self.token,
            )

    async def _lost(self) -> FencingError:
        """Note that another instance took the lease over; tell the engine (once)."""
        if self._fenced is None:
            holder = "another instance"
            with contextlib.suppress(psycopg.Error, AssertionError, TypeError):
                assert self._conn is not None
                cur = await self._conn.execute("SELECT holder, token FROM o2g_lease")
                name, token = await cur.fetchone()  # type: ignore[misc]
                holder = f"{name} (token {token})"
            self._fenced = FencingError(
                f"lost the lease of {self.where} (token {self.token}): {holder} took over"
            )
            log.warning("standby  %s; stepping down, sending nothing", self._fenced)
            if self._renewer is not None and self._renewer is not asyncio.current_task():
                self._renewer.cancel()
            if self.on_failure is not None:
                self.on_failure([], self._fenced)
        return self._fenced

    # -- reading and writing ------------------------------------------------------------------

    async def open(self) -> Restored:
        """Wait until this instance is active (see ``acquire``), then read what is kept."""
        if self.token is None or self._fenced is not None:
            await self.acquire()
        self._closed = False
        assert self._conn is not None
        try:
            cur = await self._conn.execute(
                "SELECT data FROM o2g_executions WHERE data IS NOT NULL ORDER BY id"
            )
            executions = [Execution.from_record(data) for (data,) in await cur.fetchall()]
            cur = await self._conn.execute("SELECT flow, name, fired FROM o2g_schedules")
            self._marks = {(flow, name): fired for flow, name, fired in await cur.fetchall()}
            cur = await self._conn.execute("SELECT name, value FROM o2g_meta")
            meta = dict(await cur.fetchall())
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL {self.where}: cannot read ({exc})") from None
        except (KeyError, TypeError) as exc:
            raise StoreError(f"PostgreSQL {self.where}: a damaged execution ({exc})") from None
        next_id = max((execution.id for execution in executions), default=0) + 1
        next_id = max(next_id, int(meta.pop("next_id", 1)))
        return Restored(executions, next_id, meta)

    async def _write(
        self,
        rows: bytes,
        marks: list[tuple[str, str, float]],
        meta: dict[str, str | None],
        purge: bool,
    ) -> None:
        params = {"token": self.token, "rows": rows.decode()}
        while True:
            if self._fenced is not None:
                self.refused += 1
                raise self._fenced
            generation = self._generation
            try:
                assert self._conn is not None
                async with asyncio.timeout(self.lease):
                    held = await self._commit_rows(self._conn, params, marks, meta)
            except (psycopg.OperationalError, TimeoutError, AssertionError) as exc:
                await self._recover(generation, exc)
                continue
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL {self.where}: cannot write ({exc})") from None
            if held:
                return
            self.refused += 1
            raise await self._lost()

    @staticmethod
    async def _commit_rows(
        conn: psycopg.AsyncConnection,
        params: dict[str, object],
        marks: list[tuple[str, str, float]],
        meta: dict[str, str | None],
    ) -> bool:
        """One transaction; False (nothing written) if the token is no longer the lease's."""
        if not (marks or meta):  # the common case: one statement is its own transaction
            cur = await conn.execute(_COMMIT, params)
            return bool((await cur.fetchone())[0])  # type: ignore[index]
        async with conn.transaction():
            cur = await conn.execute(_CHECK, params)
            if await cur.fetchone() is None:
                return False
            await conn.execute(_COMMIT, params)
            async with conn.cursor() as many:
                if marks:
                    await many.executemany(
                        "INSERT INTO o2g_schedules VALUES (%s, %s, %s) ON CONFLICT (flow, name)"
                        " DO UPDATE SET fired = excluded.fired",
                        marks,
                    )
                for name, value in meta.items():
                    if value is None:
                        await conn.execute("DELETE FROM o2g_meta WHERE name = %s", (name,))
                    else:
                        await conn.execute(
                            "INSERT INTO o2g_meta VALUES (%s, %s) ON CONFLICT (name)"
                            " DO UPDATE SET value = excluded.value",
                            (name, value),
                        )
        return True

    async def close(self) -> None:
        """Store what is pending, then release the lease (a standby takes over at once)."""
        if self._closed:
            return
        with contextlib.suppress(TimeoutError):  # PostgreSQL gone: what waits is not kept
            async with asyncio.timeout(max(2.0, self.lease)):
                await self._settle_pending()
        self._closed = True
        for task in (self._renewer, self._confirming, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StoreError):
                    await task
        self._renewer = self._confirming = self._task = None
        await self._disconnect()
        self.token = None
        self._fenced = None
        self._valid_until = 0.0
        self._changed, self._meta, self._dirty_marks = {}, {}, set()

"""The store interface, the store that keeps nothing, and grouped commits.

``put`` and ``remove`` only note what changed; a commit task writes every change noted
during one turn of the event loop in one transaction, and ``flush`` waits until what was
noted so far is stored. The engine sends a transition's actions only once the transition
is stored (``settled``, ``when_settled``). The commit runs on the event loop's thread: a
writer thread was measured slower, as it and the loop keep taking the interpreter's lock
from each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from ..state import Execution

__all__ = [
    "BatchedStore",
    "FailureHandler",
    "FencingError",
    "MemoryStore",
    "Restored",
    "Store",
    "StoreError",
]

log = logging.getLogger("o2g_flows.engine")


class StoreError(Exception):
    """The store cannot be opened or written; the message says what to do."""


class FencingError(StoreError):
    """This instance no longer holds the lease: another one is active, its writes are
    refused and it must step down without acting."""


@dataclass
class Restored:
    """What an opened store holds: executions, schedule firings and the next free id."""

    executions: list[Execution] = field(default_factory=list)
    next_id: int = 1
    meta: dict[str, str] = field(default_factory=dict)


#: Called with the ids of executions whose writes failed, and the error; once with no ids
#: and a ``FencingError`` when a shared store's lease is lost.
FailureHandler = Callable[[list[int], StoreError], None]


class Store(ABC):
    """The engine's durable state. ``durable`` is False when nothing survives a restart;
    ``shared`` is True when several engines use it, one active at a time."""

    durable = True
    #: Whether several engines share it, one active under a lease (PostgreSQL).
    shared = False
    shared = False

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

    def may_act(self) -> bool:
        """Whether this engine may send an action now (False once a shared store's lease
        may have passed to another instance; ``confirm`` then tells)."""
        return True

    async def confirm(self) -> None:  # noqa: B027 - nothing to confirm unless shared
        """Make sure this engine still holds the store; raises ``FencingError`` if not."""

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


class BatchedStore(Store):
    """A durable store written in grouped commits; a backend provides ``_write``.

    Each commit hands ``_write`` every change as one JSON array ``[[id, flow, record]...]``
    (a null flow and record for an execution that ended), the schedule marks and meta
    that changed, and whether to purge what ended (every ``purge_every`` commits).
    """

    purge_every = 1000

    def __init__(self) -> None:
        super().__init__()
        self._changed: dict[int, Execution | None] = {}  # id -> execution, or None: removed
        self._meta: dict[str, str | None] = {}
        self._dirty_marks: set[tuple[str, str]] = set()
        self._next: asyncio.Future[None] | None = None  # resolved by the next commit
        self._committing: dict[int, Execution | None] = {}  # the commit under way
        self._task: asyncio.Task[None] | None = None
        self._commits = 0
        self._closed = False

    @abstractmethod
    async def _write(
        self,
        rows: bytes,
        marks: list[tuple[str, str, float]],
        meta: dict[str, str | None],
        purge: bool,
    ) -> None:
        """Store one commit in one transaction; raises ``StoreError``."""

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
                purge = self._commits % self.purge_every == 0
                marks = [(flow, name, self._marks[flow, name]) for flow, name in self._dirty_marks]
                self._dirty_marks = set()
                meta, self._meta = self._meta, {}
                try:
                    await self._write(rows, marks, meta, purge)
                except FencingError as exc:  # the backend told ``on_failure`` when it noticed
                    done.set_exception(exc)
                    done.exception()  # retrieved: waiters get it from flush()
                except StoreError as exc:
                    log.error("%s (%d execution(s) not kept)", exc, len(kept))
                    done.set_exception(exc)
                    done.exception()
                    if self.on_failure is not None:
                        self.on_failure([execution.id for execution in kept], exc)
                else:
                    done.set_result(None)
                finally:
                    self._committing = {}
        finally:
            self._task = None

    async def _settle_pending(self) -> None:
        """Wait for the pending commits (errors are the engine's, already reported)."""
        with contextlib.suppress(StoreError):
            await self.flush()
        task = self._task
        if task is not None:
            with contextlib.suppress(StoreError, asyncio.CancelledError):
                await task

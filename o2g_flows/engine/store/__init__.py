"""Where executions, their timers and the schedules' last firings are kept across restarts.

``Store`` is the interface the engine writes through; ``MemoryStore`` keeps nothing
(``--state :memory:``), ``SqliteStore`` keeps everything in one SQLite file (WAL) for one
engine, ``PostgresStore`` in a PostgreSQL database shared by several engines of which
one, the holder of the lease, is active. Both durable stores write in grouped commits
(``BatchedStore``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import BatchedStore, FencingError, MemoryStore, Restored, Store, StoreError
from .postgres import PostgresStore
from .sqlite import SqliteStore

__all__ = [
    "BatchedStore",
    "FencingError",
    "MemoryStore",
    "PostgresStore",
    "Restored",
    "SqliteStore",
    "Store",
    "StoreError",
    "default_state_path",
    "open_store",
]


def open_store(where: str | os.PathLike[str] | None, *, lease: float = 4.0) -> Store:
    """The store for ``--state``: ``:memory:`` (or None) keeps nothing, a
    ``postgresql://`` URL is a ``PostgresStore`` (``lease`` seconds), else a SQLite file."""
    if where is None or str(where) == ":memory:":
        return MemoryStore()
    if str(where).startswith(("postgresql://", "postgres://")):
        return PostgresStore(str(where), lease=lease)
    return SqliteStore(where)


def default_state_path(server: str) -> Path:
    """Where ``run`` keeps its state for a gateway: ``$XDG_STATE_HOME/o2g-flows/HOST.sqlite``."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    host = server.split("://", 1)[-1].split("/", 1)[0].replace(":", "_") or "gateway"
    return Path(base) / "o2g-flows" / f"{host}.sqlite"

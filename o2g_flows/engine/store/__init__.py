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
from typing import TYPE_CHECKING, Any

from .base import BatchedStore, FencingError, MemoryStore, Restored, Store, StoreError
from .sqlite import SqliteStore

if TYPE_CHECKING:
    from .postgres import PostgresStore

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
        from .postgres import PostgresStore

        return PostgresStore(str(where), lease=lease)
    return SqliteStore(where)


def __getattr__(name: str) -> Any:
    # psycopg is imported only by those who use PostgreSQL (~0.1 s at every start otherwise)
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_state_path(server: str) -> Path:
    """Where ``run`` keeps its state for a gateway: ``$XDG_STATE_HOME/o2g-flows/HOST.sqlite``."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    host = server.split("://", 1)[-1].split("/", 1)[0].replace(":", "_") or "gateway"
    return Path(base) / "o2g-flows" / f"{host}.sqlite"

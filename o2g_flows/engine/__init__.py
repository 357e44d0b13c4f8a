"""The flow engine: YAML flows, JMESPath conditions, per-key state machines, actions, traces.

    from o2g_flows.engine import Engine, LiveGateway, load_flows, live

    result = load_flows(["flows/"])          # result.errors: every problem, file:line:col
    async with O2GClient(url, login, password) as o2g:
        engine = Engine(result.flows, LiveGateway(o2g), store=open_store("state.sqlite"))
        await live.run(engine, o2g)          # restore, subscribe and dispatch until cancelled

Offline: ``run_tests`` runs the flows' ``tests:`` and ``replay`` a recorded event log, on a
virtual clock with actions recorded instead of sent. The language is described in
``docs/flows.md``.
"""

from typing import Any

from .gateway import ActionError, Gateway, LiveGateway, RecordingGateway
from .loader import LoadResult, load_flows, load_text
from .model import Flow
from .observer import LogObserver, Observer
from .runtime import Engine, Update
from .state import Execution
from .store import FencingError, MemoryStore, SqliteStore, Store, StoreError, open_store
from .testing import Recorder, ReplayReport, TestResult, replay, run_case, run_tests
from .trace import Trace, TraceStore

__all__ = [
    "ActionError",
    "Engine",
    "Execution",
    "FencingError",
    "Flow",
    "Gateway",
    "LiveGateway",
    "LoadResult",
    "LogObserver",
    "MemoryStore",
    "Observer",
    "PostgresStore",
    "Recorder",
    "RecordingGateway",
    "ReplayReport",
    "SqliteStore",
    "Store",
    "StoreError",
    "TestResult",
    "Trace",
    "TraceStore",
    "Update",
    "load_flows",
    "load_text",
    "open_store",
    "replay",
    "run_case",
    "run_tests",
]


def __getattr__(name: str) -> Any:
    # ``PostgresStore`` imports psycopg: only for those who use it
    if name == "PostgresStore":
        from .store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

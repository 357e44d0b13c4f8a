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

from .._lazy import lazy_names

#: Where each public name lives: imported on first use, so that a command that only loads
#: flows does not import the runtime, the stores, HTTP clients and servers.
_HOMES = {
    "ActionError": ".gateway",
    "Gateway": ".gateway",
    "LiveGateway": ".gateway",
    "RecordingGateway": ".gateway",
    "LoadResult": ".loader",
    "load_flows": ".loader",
    "load_text": ".loader",
    "Flow": ".model",
    "LogObserver": ".observer",
    "Observer": ".observer",
    "Engine": ".runtime",
    "Update": ".runtime",
    "Execution": ".state",
    "FencingError": ".store",
    "MemoryStore": ".store",
    "SqliteStore": ".store",
    "Store": ".store",
    "StoreError": ".store",
    "open_store": ".store",
    "PostgresStore": ".store.postgres",  # imports psycopg: only for those who use it
    "Recorder": ".testing",
    "ReplayReport": ".testing",
    "TestResult": ".testing",
    "replay": ".testing",
    "run_case": ".testing",
    "run_tests": ".testing",
    "Trace": ".trace",
    "TraceStore": ".trace",
}

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


__getattr__, __dir__ = lazy_names(__name__, _HOMES)

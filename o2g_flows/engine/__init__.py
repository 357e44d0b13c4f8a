"""The flow engine: YAML flows, JMESPath conditions, per-key state machines, actions, traces.

    from o2g_flows.engine import Engine, LiveGateway, load_flows, live

    result = load_flows(["flows/"])          # result.errors: every problem, file:line:col
    async with O2GClient(url, login, password) as o2g:
        engine = Engine(result.flows, LiveGateway(o2g))
        await live.run(engine, o2g)          # subscribe and dispatch until cancelled

Offline: ``run_tests`` runs the flows' ``tests:`` and ``replay`` a recorded event log, on a
virtual clock with actions recorded instead of sent. The language is described in
``docs/flows.md``.
"""

from .gateway import ActionError, Gateway, LiveGateway, RecordingGateway
from .loader import LoadResult, load_flows, load_text
from .model import Flow
from .runtime import Engine, Execution
from .testing import ReplayReport, TestResult, replay, run_case, run_tests
from .trace import Trace, TraceStore

__all__ = [
    "ActionError",
    "Engine",
    "Execution",
    "Flow",
    "Gateway",
    "LiveGateway",
    "LoadResult",
    "RecordingGateway",
    "ReplayReport",
    "TestResult",
    "Trace",
    "TraceStore",
    "load_flows",
    "load_text",
    "replay",
    "run_case",
    "run_tests",
]

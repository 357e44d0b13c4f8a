"""The examples load, and their tests pass with the example plugin."""

from __future__ import annotations

from pathlib import Path

from o2g_flows.app.traffic import load_traffic
from o2g_flows.engine import load_flows, run_tests
from o2g_flows.plugins import discover

ROOT = Path(__file__).parents[2]


async def test_example_flows_pass_their_tests_with_the_example_plugin():
    registry, errors = discover([ROOT / "plugins"], entry_points=False)
    assert errors == []
    loaded = load_flows([ROOT / "examples" / "flows"], registry)
    assert loaded.ok, loaded.report()
    results = await run_tests(loaded.flows, registry)
    assert results and all(r.passed for r in results), [r.report() for r in results]


def test_traffic_files_load():
    assert [step.kind for step in load_traffic(ROOT / "examples" / "traffic.yaml")][:3] == [
        "logon",
        "ready",
        "logon",
    ]
    demo = load_traffic()
    assert {step.kind for step in demo} >= {"call", "answer", "hangup", "logon", "ready"}

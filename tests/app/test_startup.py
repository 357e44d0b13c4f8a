"""Start-up: commands import only what they use, and each flow file is parsed once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from o2g_flows.engine import load_flows

ROOT = Path(__file__).resolve().parents[2]
#: Modules a command that neither serves nor talks to a gateway must not import.
HEAVY = (
    "aiohttp",
    "cryptography",
    "httpx",
    "o2g_flows.sim.server",
    "o2g_flows.sim.pbx",
    "o2g_flows.client.client",
    "o2g_flows.engine.runtime",
    "psycopg",
    "ruamel.yaml",
    "apscheduler",
    "holidays",
)


def imported_by(*arguments: str) -> tuple[int, set[str]]:
    """Run ``o2g-flows ARGUMENTS`` in a fresh interpreter: exit status, modules it imported."""
    script = (
        "import json, sys\n"
        "from o2g_flows.cli import main\n"
        "try:\n"
        f"    status = main({list(arguments)!r})\n"
        "except SystemExit as stop:\n"
        "    status = stop.code or 0\n"
        "print(json.dumps([status, sorted(sys.modules)]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    status, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return status, set(modules)


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(
    "arguments",
    [("--help",), ("validate", "flows"), ("validate", "--format", "json", "flows"), ("api", "acd")],
)
def test_offline_commands_import_no_server_client_or_simulator(arguments: tuple[str, ...]) -> None:
    status, modules = imported_by(*arguments)
    assert status == 0
    assert heavy(modules) == []


def test_the_simulator_command_imports_aiohttp_only_when_it_runs() -> None:
    status, modules = imported_by("sim", "--help")
    assert status == 0 and "aiohttp" not in modules
    status, modules = imported_by("sim", "--pbx", "no-such-file.yaml")
    assert status == 2  # it got as far as reading the PBX file
    assert "o2g_flows.sim.server" in modules and "aiohttp" in modules


def test_each_flow_file_and_included_file_is_parsed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "_parts").mkdir()
    (tmp_path / "_parts" / "actions.yaml").write_text("- log: included\n")
    for n in range(3):
        (tmp_path / f"flow-{n}.yaml").write_text(
            f"flow: f{n}\non: OnCallCreated\ndo: !include _parts/actions.yaml\n"
        )
    (tmp_path / "broken.yaml").write_text("flow: broken\non: [OnCallCreated\n")
    parsed: Counter[str] = Counter()
    real_parse = yaml.parse

    def counting_parse(stream: str, *args: Any, **kwargs: Any) -> Any:
        parsed[stream] += 1
        return real_parse(stream, *args, **kwargs)

    monkeypatch.setattr(yaml, "parse", counting_parse)
    result = load_flows([tmp_path])
    assert sorted(flow.name for flow in result.flows) == ["f0", "f1", "f2"]
    assert [str(error.location.file) for error in result.errors] == [str(tmp_path / "broken.yaml")]
    texts = [p.read_text() for p in [*tmp_path.glob("*.yaml"), tmp_path / "_parts/actions.yaml"]]
    assert sorted(parsed.values()) == [1, 1, 1, 1, 3]  # the part once per including file
    assert set(parsed) == set(texts)
    parsed.clear()
    shipped = load_flows([ROOT / "flows"])
    assert shipped.ok and sum(parsed.values()) == len(shipped.files)
    assert all(count == 1 for count in parsed.values())

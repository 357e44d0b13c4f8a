"""Plugins: discovery from a folder and from entry points, failures isolated, the example."""

from __future__ import annotations

import sys
from pathlib import Path

from o2g_flows.engine import load_text
from o2g_flows.plugins import discover

PLUGINS = Path(__file__).parents[2] / "plugins"


def test_the_example_plugin_registers_a_function_and_an_action():
    registry, errors = discover([PLUGINS], entry_points=False)
    assert errors == []
    assert "notify" in registry.actions
    assert "closed_day" in registry.functions.names()
    assert registry.sources["webhook"].events == ("OnWebhook",)  # built in


def test_a_broken_plugin_is_reported_and_skipped(tmp_path: Path):
    (tmp_path / "good.py").write_text("def register(registry):\n    registry.event('Good')\n")
    (tmp_path / "syntax.py").write_text("def register(:\n")
    (tmp_path / "half.py").write_text(
        "def register(registry):\n    registry.event('Half')\n    raise RuntimeError('boom')\n"
    )
    (tmp_path / "none.py").write_text("x = 1\n")
    registry, errors = discover([tmp_path], entry_points=False)
    assert "Good" in registry.events
    assert "Half" not in registry.events  # a failed register() leaves nothing behind
    assert [(Path(e.plugin).name, e.message.split(":")[0]) for e in errors] == [
        ("half.py", "register() failed"),
        ("none.py", "has no register(registry) function"),
        ("syntax.py", "import failed"),
    ]


def test_installed_packages_register_through_entry_points(tmp_path: Path, monkeypatch):
    (tmp_path / "acme_flows.py").write_text(
        "def register(registry):\n    registry.event('AcmeEvent')\n"
    )
    info = tmp_path / "acme_flows-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-flows\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[o2g_flows.plugins]\nacme = acme_flows\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry, errors = discover([], entry_points=True)
    assert errors == []
    assert "AcmeEvent" in registry.events
    assert registry.plugins == ["acme (acme_flows)"]
    sys.modules.pop("acme_flows", None)


HOLIDAY_FLOW = """\
flow: closed
on: OnCallCreated
when: "closed_day(now)"
do:
  - notify: {text: "call ${event.callRef} on a holiday"}
"""


async def test_plugin_functions_and_actions_work_in_flows(offline, monkeypatch):
    registry, _ = discover([PLUGINS], entry_points=False)
    monkeypatch.setenv("O2G_FLOWS_NOTIFY_URL", "https://chat.example/hook")
    run = offline(HOLIDAY_FLOW, registry)
    await run.send("OnCallCreated", callRef="c1")  # Monday 6 January 2025: a working day
    run.clock.now += 105 * 86400  # Easter Monday, 21 April 2025
    await run.send("OnCallCreated", callRef="c2")
    assert run.sent() == [
        (
            "http.post",
            {"url": "https://chat.example/hook", "json": {"text": "call c2 on a holiday"}},
        )
    ]


def test_a_plugin_action_with_a_broken_default_is_a_load_error(tmp_path: Path):
    (tmp_path / "shout.py").write_text(
        "from o2g_flows.plugins import Param\n"
        "def register(registry):\n"
        "    @registry.action('shout', Param('text', default='${event.callRef'))\n"
        "    async def shout(ctx, args):\n"
        "        return args['text']\n"
    )
    registry, errors = discover([tmp_path], entry_points=False)
    assert errors == []
    loaded = load_text("flow: f\non: OnCallCreated\ndo:\n  - shout: {}\n", "f.yaml", registry)
    assert not loaded.ok
    [error] = loaded.errors
    assert str(error).startswith("f.yaml:4:5: shout: the default of text ('${event.callRef')")
    assert "not a valid template" in str(error)

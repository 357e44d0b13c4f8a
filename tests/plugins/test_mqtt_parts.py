"""The bridge's parts on their own: topic filters, settings, the model, loading the plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiomqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o2g_flows.engine import load_text
from o2g_flows.plugins import PluginSettings, Registry

ROOT = Path(__file__).parents[2]
#: a shared machine: generation may be slow; the registry fixture is read-only
relaxed = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

level = st.sampled_from(["a", "b", "", "c d", "é"])
topics = st.lists(level, min_size=1, max_size=4).map("/".join).filter(bool)
filters = (
    st.lists(st.sampled_from(["a", "b", "", "+"]), min_size=1, max_size=4)
    .flatmap(lambda levels: st.sampled_from(["/".join(levels), "/".join([*levels, "#"])]))
    .filter(bool)
)


@relaxed
@given(topics, filters)
def test_topic_matches_agrees_with_the_mqtt_client(registry: Registry, topic, topic_filter):
    (function,) = [
        spec.func for spec in registry.functions.custom() if spec.name == "topic_matches"
    ]
    assert function(topic, topic_filter) == aiomqtt.Topic(topic).matches(topic_filter)


def test_topics_starting_with_a_dollar_need_a_filter_naming_them(registry: Registry):
    (function,) = [
        spec.func for spec in registry.functions.custom() if spec.name == "topic_matches"
    ]
    assert not function("$SYS/broker/uptime", "#")
    assert not function("$SYS/broker/uptime", "+/broker/uptime")
    assert function("$SYS/broker/uptime", "$SYS/#")
    assert function("home/door", "home/#") and function("home", "home/#")
    assert not function(None, "#")


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
keys = st.sampled_from(
    ["url", "users", "agents", "pilots", "subscribe", "password", "ca", "keepalive", "zzz"]
)


@relaxed
@given(st.dictionaries(keys, values))
def test_any_settings_give_a_config_or_located_problems_never_a_crash(registry, section):
    check = registry.services["mqtt"].check
    problems = check(PluginSettings("mqtt", section))
    assert all(line.startswith("plugin_settings.mqtt") for line in problems)
    if "url" not in section:
        assert problems


@relaxed
@given(st.dictionaries(st.sampled_from(["eventName", "loginName", "callRef", "pilot",
                                        "callData", "participants", "state", "routingState",
                                        "numberOfQueued"]), values))  # fmt: skip
def test_the_model_takes_any_event_without_crashing_and_publishes_only_its_topics(event):
    sys.path.insert(0, str(ROOT))
    from plugins.mqtt.entities import Topics
    from plugins.mqtt.model import Model

    model = Model(Topics("o2g", "homeassistant"), ("alice",), ("agent1",), ("5000",))
    for name in ("OnCallCreated", "OnCallModified", "OnCallRemoved", "OnRoutingStateChanged",
                 "OnAgentStateChanged", "OnPilotCallQueued", "OnPilotCallRemoved"):  # fmt: skip
        for login in ("alice", "agent1", None):
            changed = model.apply({**event, "eventName": name, "loginName": login})
            assert all(topic.startswith("o2g/") for topic in changed)


def test_mqtt_publish_is_validated_when_the_flow_loads(registry):
    text = """\
flow: bad
key: event.topic
on: MqttMessage
do:
  - mqtt_publish: {payload: hello, qos: high, retian: true}
"""
    result = load_text(text, "bad.yaml", registry)
    report = result.report()
    assert not result.flows
    assert "topic" in report and "qos" in report and "retian" in report


def test_without_aiomqtt_the_plugin_fails_to_load_with_one_clear_line():
    code = (
        "import sys; sys.modules['aiomqtt'] = None\n"
        "from o2g_flows.plugins import discover\n"
        f"registry, errors = discover([{str(ROOT / 'plugins')!r}], entry_points=False)\n"
        "print('\\n'.join(map(str, errors))); print(sorted(registry.services))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and lines[1] == "[]"
    assert "the mqtt plugin needs aiomqtt: pip install 'o2g-flows[mqtt]'" in lines[0]


async def test_the_home_assistant_example_flows_load_and_pass_their_tests(registry):
    from o2g_flows.engine import load_flows, run_tests

    loaded = load_flows([ROOT / "examples" / "home-assistant" / "flows"], registry)
    assert loaded.ok and not loaded.warnings, loaded.report()
    results = await run_tests(loaded.flows, registry)
    assert len(results) == 4 and all(r.passed for r in results), [r.report() for r in results]


def test_plugin_settings_sections_are_kept_with_their_place_and_bad_ones_located(tmp_path):
    from o2g_flows.app.config import ConfigError, load_settings

    good = tmp_path / "good.yaml"
    good.write_text("flows: [x]\nplugin_settings:\n  mqtt:\n    url: mqtt://h\n    users: [a]\n")
    section = load_settings(good, {}, environ={}).plugin_settings["mqtt"]
    assert section.values == {"url": "mqtt://h", "users": ["a"]}
    assert section.where("users", 0) == f"{good}:5:13"
    assert section.where("url") == f"{good}:4:10"
    bad = tmp_path / "bad.yaml"
    bad.write_text("plugin_settings:\n  mqtt: [1, 2]\n  other: {}\n")
    with pytest.raises(ConfigError) as bad_section:
        load_settings(bad, {}, environ={})
    assert bad_section.value.errors == [
        f"{bad}:2:9: plugin_settings.mqtt must be a mapping of settings"
    ]
    worse = tmp_path / "worse.yaml"
    worse.write_text("plugin_setings: {}\n")
    with pytest.raises(ConfigError) as misspelt:
        load_settings(worse, {}, environ={})
    assert "did you mean plugin_settings?" in misspelt.value.errors[0]

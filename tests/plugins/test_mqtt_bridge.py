"""The MQTT bridge against a real mosquitto broker and the simulator, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import re

import orjson
import pytest
from broker import Mosquitto

from o2g_flows.client import O2GClient

pytestmark = pytest.mark.asyncio

ALICE = "o2g/user/alice"
#: What Home Assistant's MQTT integration requires of each platform's discovery config
#: (beyond its own defaults), and what this bridge relies on for every entity.
REQUIRED = {
    "sensor": {"state_topic"},
    "switch": {"command_topic", "state_topic"},
    "select": {"command_topic", "options", "state_topic"},
    "binary_sensor": {"state_topic"},
}
COMMON = {"unique_id", "name", "availability_topic", "device"}
DISCOVERY_TOPIC = re.compile(
    r"^homeassistant/(sensor|switch|select|binary_sensor)/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/config$"
)


async def test_a_call_to_alice_turns_her_presence_ringing_then_on_a_call_then_idle(
    bridge, hub_at, mqtt_url, control
):
    async with hub_at(mqtt_url, "o2g/#") as hub:
        await bridge(url=mqtt_url, users=["alice", "bob"])
        await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"idle")
        await hub.until(lambda: hub.last("o2g/status") == b"online")
        answer = await control.post("/sim/calls", json={"from": "+33140000007", "to": "2001"})
        ref = answer.json()["callRef"]
        await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"ringing")
        attributes = orjson.loads(hub.last(f"{ALICE}/presence/attributes"))
        assert attributes == {"remote": "+33140000007", "calls": 1}
        await control.post("/sim/devices/2001/answer", json={"callRef": ref})
        await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"on_call")
        await control.post("/sim/devices/2001/hangup", json={"callRef": ref})
        await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"idle")
        presence = _changes(hub.payloads(f"{ALICE}/presence"))
        assert presence == [b"idle", b"ringing", b"on_call", b"idle"]
        assert _changes(hub.payloads("o2g/user/bob/presence")) == [
            b"idle"
        ]  # bob saw nothing  # bob saw nothing


async def test_discovery_configs_are_retained_and_valid_for_home_assistant(
    bridge, hub_at, mqtt_url
):
    users, agents, pilots = ["alice", "bob"], ["agent1"], ["5000"]
    ctx = await bridge(
        url=mqtt_url,
        users=users,
        agents=agents,
        pilots=pilots,
        forward_numbers=["2002"],
        base_topic="o2g",
    )
    # a hub arriving later gets everything from the retained messages
    await asyncio.sleep(0)
    async with hub_at(mqtt_url, "o2g/#") as early:
        await early.until(lambda: early.last("o2g/agent/agent1/state") == b"logged_off")
    async with hub_at(mqtt_url, "homeassistant/#", "o2g/#") as hub:

        def complete() -> list:
            configs = [m for m in hub.messages if m.topic.value.startswith("homeassistant/")]
            states = [orjson.loads(m.payload)["state_topic"] for m in configs]
            ready = len(configs) == ctx.status["entities"] and all(map(hub.last, states))
            return configs if ready else []

        configs = await hub.until(complete)
    assert ctx.status["entities"] == 4 * len(users) + len(agents) + len(pilots)
    components: dict[str, int] = {}
    unique_ids = set()
    for message in configs:
        assert message.retain
        match = DISCOVERY_TOPIC.match(message.topic.value)
        assert match, message.topic.value
        component = match.group(1)
        components[component] = components.get(component, 0) + 1
        config = orjson.loads(message.payload)
        missing = (REQUIRED[component] | COMMON) - set(config)
        assert not missing, (message.topic.value, missing)
        assert config["unique_id"] not in unique_ids
        unique_ids.add(config["unique_id"])
        assert config["availability_topic"] == "o2g/status"
        assert config["device"]["identifiers"] and config["device"]["name"]
        for key in ("state_topic", "command_topic", "json_attributes_topic"):
            if key in config:
                assert config[key].startswith("o2g/") and not set(config[key]) & set("+#")
        if component == "select":
            assert config["options"] and all(isinstance(o, str) for o in config["options"])
        # each state topic already holds a value (retained), and a select's is an option
        state = hub.last(config["state_topic"])
        assert state is not None, config["state_topic"]
        if component == "select" or config.get("device_class") == "enum":
            assert state.decode() in config["options"]
        if component == "switch":
            assert state in (config["payload_on"].encode(), config["payload_off"].encode())
    assert components == {"sensor": 5, "switch": 2, "select": 3}


async def test_a_dnd_command_from_the_hub_sets_it_in_the_pbx_and_the_switch_follows(
    bridge, hub_at, mqtt_url, control, sim
):
    async with hub_at(mqtt_url, "o2g/#") as hub:
        await bridge(url=mqtt_url, users=["alice"])
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"OFF")
        await hub.publish(f"{ALICE}/dnd/set", "ON")
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"ON")
        routing = (await control.get("/sim/state")).json()["routing"]["alice"]
        assert routing["dndState"] == {"activate": True}
        # the switch follows the PBX, whoever changes it: here alice from her own session
        async with O2GClient(sim.url, "alice", "1001") as alice:
            await alice.routing.cancel_dnd()
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"OFF")
        await hub.publish(f"{ALICE}/dnd/set", "on")
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"ON")
        assert _changes(hub.payloads(f"{ALICE}/dnd")) == [b"OFF", b"ON", b"OFF", b"ON"]


def _changes(values: list[bytes]) -> list[bytes]:
    """``values`` without repeats in a row (a reconnection republishes the same value)."""
    return [value for index, value in enumerate(values) if index == 0 or values[index - 1] != value]


async def test_the_forward_select_and_the_agent_select_show_what_the_pbx_reports(
    bridge, hub_at, mqtt_url, control
):
    async with hub_at(mqtt_url, "o2g/#") as hub:
        ctx = await bridge(
            url=mqtt_url, users=["alice"], agents=["agent1"], forward_numbers=["2002"]
        )
        await hub.until(lambda: hub.last(f"{ALICE}/forward") == b"none")
        await hub.publish(f"{ALICE}/forward/set", "2002")
        await hub.until(lambda: hub.last(f"{ALICE}/forward") == b"2002")
        attributes = orjson.loads(hub.last(f"{ALICE}/forward/attributes"))
        assert attributes == {"type": "IMMEDIATE", "destination": "2002"}
        await hub.publish(f"{ALICE}/forward/set", "voicemail")
        await hub.until(lambda: hub.last(f"{ALICE}/forward") == b"voicemail")
        await hub.publish(f"{ALICE}/forward/set", "none")
        await hub.until(lambda: hub.last(f"{ALICE}/forward") == b"none")
        # an agent logged off cannot be made ready: the PBX refuses, the select stays
        agent = "o2g/agent/agent1/state"
        await hub.until(lambda: hub.last(agent) == b"logged_off")
        await hub.publish(f"{agent}/set", "ready")
        error = await hub.until(lambda: hub.last("o2g/error"))
        assert orjson.loads(error)["error"].startswith("the PBX refused it")
        assert _changes(hub.payloads(agent)) == [b"logged_off"]
        # logged on (at the set), then ready and pause from the hub
        await control.post("/sim/agents/agent1/logon", json={})
        await hub.until(lambda: hub.last(agent) not in (None, b"logged_off"))
        await hub.publish(f"{agent}/set", "ready")
        await hub.until(lambda: hub.last(agent) == b"ready")
        await hub.publish(f"{agent}/set", "pause")
        await hub.until(lambda: hub.last(agent) == b"pause")
        assert ctx.status["refused"] == 1


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (f"{ALICE}/dnd/set", b"maybe", "DND takes ON or OFF"),
        (f"{ALICE}/dnd/set", b"\xff\xfe\x00garbage", "DND takes ON or OFF"),
        (f"{ALICE}/dnd/set", b"", "DND takes ON or OFF"),
        (f"{ALICE}/forward/set", b"0899123456", "forward takes one of none, voicemail"),
        ("o2g/user/mallory/dnd/set", b"ON", "'mallory' is not exposed by the bridge"),
        ("o2g/agent/alice/state/set", b"ready", "'alice' is not exposed by the bridge"),
        ("o2g/agent/agent1/state/set", b"busy", "an agent state is one of ready, pause"),
        ("o2g/user/alice/presence/set", b"idle", "no such command topic"),
    ],
)
async def test_a_malformed_command_is_refused_on_the_error_topic_and_logged(
    bridge, hub_at, mqtt_url, control, caplog, topic, payload, reason
):
    caplog.set_level(logging.WARNING, "o2g_flows.mqtt")
    async with hub_at(mqtt_url, "o2g/#") as hub:
        ctx = await bridge(url=mqtt_url, users=["alice"], agents=["agent1"])
        await hub.until(lambda: hub.last("o2g/agent/agent1/state") == b"logged_off")
        await hub.publish(topic, payload)
        error = orjson.loads(await hub.until(lambda: hub.last("o2g/error")))
        assert error["topic"] == topic and error["error"].startswith(reason)
        assert any(reason in record.getMessage() for record in caplog.records)
        assert ctx.status["refused"] == 1
        # the bridge carries on: a good command still works
        await hub.publish(f"{ALICE}/dnd/set", "ON")
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"ON")
    routing = (await control.get("/sim/state")).json()["routing"]
    assert "mallory" not in routing


async def test_a_retained_command_is_refused_not_replayed_at_each_connection(
    bridge, hub_at, mqtt_url, control
):
    async with hub_at(mqtt_url, "o2g/#") as hub:
        await hub.client.publish(f"{ALICE}/dnd/set", b"ON", qos=1, retain=True)
        await bridge(url=mqtt_url, users=["alice"])
        error = orjson.loads(await hub.until(lambda: hub.last("o2g/error")))
        assert error["error"].startswith("a retained command is ignored")
        await hub.client.publish(f"{ALICE}/dnd/set", b"", qos=1, retain=True)  # cleared
    routing = (await control.get("/sim/state")).json()["routing"]["alice"]
    assert routing["dndState"] == {"activate": False}


async def test_a_huge_command_payload_is_refused_and_shortened_in_the_error(
    bridge, hub_at, mqtt_url
):
    async with hub_at(mqtt_url, "o2g/#") as hub:
        await bridge(url=mqtt_url, users=["alice"])
        await hub.until(lambda: hub.last("o2g/status") == b"online")
        await hub.publish(f"{ALICE}/dnd/set", b"x" * 100_000)
        error = orjson.loads(await hub.until(lambda: hub.last("o2g/error")))
        assert len(error["payload"]) < 300


async def test_calls_waiting_at_a_pilot_follow_its_queue(bridge, hub_at, mqtt_url, control):
    waiting = "o2g/pilot/5000/waiting"
    async with hub_at(mqtt_url, "o2g/#") as hub:
        await bridge(url=mqtt_url, pilots=["5000"])
        await hub.until(lambda: hub.last(waiting) == b"0")
        refs = []
        for caller in ("+33140000011", "+33140000012"):
            answer = await control.post("/sim/calls", json={"from": caller, "to": "5000"})
            refs.append(answer.json()["callRef"])
        await hub.until(lambda: hub.last(waiting) == b"2")
        await control.post("/sim/externals/+33140000011/hangup", json={"callRef": refs[0]})
        await hub.until(lambda: hub.last(waiting) == b"1")


async def test_a_broker_restart_is_survived_availability_and_state_republished(
    bridge, hub_at, own_broker, control
):
    async with hub_at(own_broker.url, "o2g/#") as hub:
        ctx = await bridge(url=own_broker.url, users=["alice"], max_backoff=0.5)
        await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"idle")
    own_broker.restart()  # no persistence: every retained message is gone
    async with hub_at(own_broker.url, "o2g/#") as hub:
        await hub.until(lambda: hub.last("o2g/status") == b"online", timeout=20)
        await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"idle")
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"OFF")
        assert ctx.status["connected"] is True
        # and events flow again
        await control.post("/sim/calls", json={"from": "+33140000007", "to": "2001"})
        await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"ringing")


async def test_a_bridge_that_stops_says_offline_on_its_availability_topic(bridge, hub_at, mqtt_url):
    async with hub_at(mqtt_url, "o2g/status") as hub:
        ctx = await bridge(url=mqtt_url, users=["alice"])
        await hub.until(lambda: hub.last("o2g/status") == b"online")
        ctx.task.cancel()
        await hub.until(lambda: hub.last("o2g/status") == b"offline")
    async with hub_at(mqtt_url, "o2g/status") as hub:  # retained for hubs coming later
        await hub.until(lambda: hub.last("o2g/status") == b"offline")


async def test_a_broker_unreachable_at_start_is_one_line_then_retried_with_backoff(
    bridge, hub_at, own_broker, caplog
):
    caplog.set_level(logging.INFO, "o2g_flows.mqtt")
    own_broker.stop()
    ctx = await bridge(url=own_broker.url, users=["alice"], max_backoff=0.3)
    for _ in range(100):
        await asyncio.sleep(0.05)
        if ctx.status.get("error"):
            break
    assert ctx.status["connected"] is False and ctx.status["retry_in"] is not None
    assert "refused" in ctx.status["error"].lower() or ctx.status["error"]
    await asyncio.sleep(1.5)  # several retries...
    lines = [r.getMessage() for r in caplog.records if "cannot reach the broker" in r.getMessage()]
    assert len(lines) == 1, lines  # ...said once
    assert "the engine runs on, retrying" in lines[0]
    own_broker.start()
    async with hub_at(own_broker.url, "o2g/#") as hub:
        await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"idle", timeout=20)
    assert ctx.status["connected"] is True and ctx.status["error"] is None


async def test_an_event_gap_publishes_a_new_snapshot(bridge, hub_at, mqtt_url, sim, control):
    async with hub_at(mqtt_url, "o2g/#") as hub:
        ctx = await bridge(url=mqtt_url, users=["alice"])
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"OFF")
        await hub.publish(f"{ALICE}/dnd/set", "ON")
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"ON")
        await sim.restart()  # a gateway restart: a fresh PBX, events lost meanwhile
        await hub.until(lambda: hub.last(f"{ALICE}/dnd") == b"OFF", timeout=30)
        assert ctx.status["snapshots"] >= 2


async def test_messages_on_subscribed_topics_become_flow_events(bridge, hub_at, mqtt_url):
    async with hub_at(mqtt_url, "o2g/status") as hub:
        ctx = await bridge(url=mqtt_url, subscribe=["home/+/doorbell", "raw/#"])
        await hub.until(lambda: hub.last("o2g/status") == b"online")
        await asyncio.sleep(0.2)  # the bridge's subscriptions are made after it connects
        await hub.publish("home/front/doorbell", '{"pressed": true}')
        await hub.publish("raw/text", "not json {")
        await hub.publish("home/front/window", "ignored")
        for _ in range(100):
            if len(ctx.emitted) >= 2:
                break
            await asyncio.sleep(0.05)
    first, second = ctx.emitted
    assert first["eventName"] == "MqttMessage" and first["topic"] == "home/front/doorbell"
    assert first["filter"] == "home/+/doorbell" and first["payload"] == {"pressed": True}
    assert second["payload"] == "not json {" and second["text"] == "not json {"


async def test_over_tls_the_broker_certificate_is_verified_against_the_configured_ca(
    bridge, hub_at
):
    broker = Mosquitto(tls=True).start()
    try:
        tls_url = f"mqtts://127.0.0.1:{broker.tls_port}"
        async with hub_at(broker.url, "o2g/#") as hub:  # the hub on the plain listener
            ctx = await bridge(url=tls_url, users=["alice"], ca=str(broker.ca))
            await hub.until(lambda: hub.last(f"{ALICE}/presence") == b"idle")
            assert ctx.status["connected"] is True and ctx.status["broker"] == tls_url
        # without the CA (the system's), the self-signed certificate is refused
        other = await bridge(url=tls_url, users=["bob"], base_topic="other", max_backoff=0.2)
        for _ in range(200):
            if other.status.get("error"):
                break
            await asyncio.sleep(0.05)
        assert other.status["connected"] is False
        assert "certificate" in other.status["error"].lower()
    finally:
        broker.close()

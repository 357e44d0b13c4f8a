"""``o2g-flows run`` with the MQTT bridge configured, as a process, with a real broker."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiomqtt
import httpx
import orjson
import pytest
from broker import Mosquitto
from support import free_port, wait_for

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "home-assistant"


def example(folder: Path, broker: str, status: int, **changes: str) -> Path:
    """The Home Assistant example in ``folder``, on ``broker`` and a status port."""
    shutil.copytree(EXAMPLE / "flows", folder / "flows")
    text = (EXAMPLE / "o2g-flows.yaml").read_text()
    text = text.replace("mqtt://127.0.0.1:1883", broker)
    text = text.replace("../../plugins", str(ROOT / "plugins")).replace("8181", str(status))
    for old, new in changes.items():
        text = text.replace(old, new)
    (folder / "o2g-flows.yaml").write_text(text)
    return folder


def start(folder: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = folder / "run.log"
    command = [sys.executable, "-m", "o2g_flows", "run", "--no-traffic", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2G_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    return process, log


def address(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("mqtt://").rpartition(":")
    return host, int(port)


async def test_a_flow_triggered_by_a_message_publishes_an_answer_and_the_hub_drives_dnd(
    tmp_path, mqtt_url
):
    status = free_port()
    process, log = start(example(tmp_path, mqtt_url, status))
    host, port = address(mqtt_url)
    try:
        wait_for(lambda: "mqtt     connected to" in log.read_text(), 30, "the bridge to connect")
        process.send_signal(signal.SIGHUP)  # reloaded plugins still publish with the bridge
        wait_for(lambda: "SIGHUP: reloading" in log.read_text(), 30, "the reload")
        await asyncio.sleep(1)  # the plugins loaded again (quietly when nothing changed)
        async with aiomqtt.Client(host, port) as hub:
            await hub.subscribe("o2g/#")
            await hub.publish("o2g/ask/presence", b'{"user": "alice"}', qos=1)
            await hub.publish("home/meeting-room/busy", b"ON", qos=1)
            seen: dict[str, bytes] = {}
            async with asyncio.timeout(20):
                async for message in hub.messages:
                    seen[message.topic.value] = message.payload  # type: ignore[assignment]
                    if "o2g/answer/presence" in seen and seen.get("o2g/user/alice/dnd") == b"ON":
                        break
        answer = orjson.loads(seen["o2g/answer/presence"])
        assert answer["user"] == "alice" and answer["asked"] == "o2g/ask/presence"
        view = httpx.get(f"http://127.0.0.1:{status}/api/status", timeout=5).json()
        mqtt = view["services"]["mqtt"]
        assert mqtt["connected"] is True and mqtt["entities"] == 4 * 3 + 2 + 1
        assert mqtt["commands"] == 0 and mqtt["events"] >= 1
        # killed, it cannot say goodbye: the broker publishes its last will
        async with aiomqtt.Client(host, port) as hub:
            await hub.subscribe("o2g/status")
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            async with asyncio.timeout(20):
                async for message in hub.messages:
                    if message.payload == b"offline":
                        break
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_broker_unreachable_at_start_is_one_line_and_the_engine_runs_on(tmp_path):
    status = free_port()
    closed = f"mqtt://127.0.0.1:{free_port()}"
    folder = example(tmp_path, closed, status, **{"pilots:": "max_backoff: 0.2\n    pilots:"})
    process, log = start(folder, "--duration", "6")
    try:
        wait_for(lambda: "subscribed to" in log.read_text(), 30, "the engine to subscribe")
        view = wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{status}/api/status", timeout=5).json(),
            10,
            "the status",
        )
        mqtt = wait_for(
            lambda: (
                httpx.get(f"http://127.0.0.1:{status}/api/status", timeout=5)
                .json()["services"]["mqtt"]
                .get("error")
            ),
            10,
            "the bridge's error",
        )
        assert view["flows"] and mqtt
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    lines = [line for line in log.read_text().splitlines() if "mqtt" in line.lower()]
    failures = [line for line in lines if "cannot reach the broker" in line]
    assert len(failures) == 1, lines
    assert closed in failures[0] and "the engine runs on, retrying" in failures[0]


def test_bad_mqtt_settings_are_refused_with_their_place_and_no_secret(tmp_path):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "rule.yaml").write_text(
        "flow: r\nusers: [alice]\non: OnCallCreated\ndo: [{log: x}]\n"
    )
    (tmp_path / "o2g-flows.yaml").write_text(
        f"plugins: [{ROOT / 'plugins'}]\n"
        "plugin_settings:\n"
        "  mqtt:\n"
        "    url: http://broker:1883\n"
        "    password: hunter2-secret\n"
        "    users: [alice, a/b]\n"
        "    subscribe: ['home/#/x']\n"
        "  weather: {city: Paris}\n"
    )
    process, log = start(tmp_path)
    assert process.wait(30) == 2
    text = log.read_text()
    assert "hunter2-secret" not in text
    located = re.findall(r"o2g-flows\.yaml:(\d+):(\d+): (.*)", text)
    problems = {int(line): message for line, _, message in located}
    assert "must start with mqtt:// or mqtts://" in problems[4]
    assert "password_file or password_env" in problems[5]
    assert "'a/b' cannot appear in a topic" in problems[6]
    assert "not a valid MQTT topic filter" in problems[7]
    assert "no plugin service named 'weather'" in problems[8]
    checked = subprocess.run(
        [sys.executable, "-m", "o2g_flows", "config", "check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "plugin_settings.mqtt" in checked.stdout and "hunter2-secret" not in checked.stdout


@pytest.fixture
def guarded_broker():
    broker = Mosquitto(users={"o2g-flows": "br0ker-Secret", "hub": "hub-pass"}).start()
    try:
        yield broker
    finally:
        broker.close()


async def test_with_a_password_nothing_on_the_broker_carries_a_secret(tmp_path, guarded_broker):
    status = free_port()
    (tmp_path / "mqtt-password").write_text("br0ker-Secret\n")
    folder = example(
        tmp_path,
        guarded_broker.url,
        status,
        **{
            "# username: o2g-flows": "username: o2g-flows",
            "# password_file: /etc/o2g-flows/mqtt-password    # or password_env: MQTT_PASSWORD": (
                f"password_file: {tmp_path / 'mqtt-password'}"
            ),
        },
    )
    host, port = address(guarded_broker.url)
    async with aiomqtt.Client(host, port, username="hub", password="hub-pass") as hub:
        await hub.subscribe("#")
        process, log = start(folder)
        payloads: list[bytes] = []
        try:
            wait_for(lambda: "mqtt     connected to" in log.read_text(), 30, "the bridge")
            await hub.publish("o2g/user/alice/dnd/set", b"nonsense", qos=1)
            async with asyncio.timeout(20):
                async for message in hub.messages:
                    payloads.append(message.topic.value.encode() + b" " + message.payload)  # type: ignore[operator]
                    topics = {line.split(b" ")[0] for line in payloads}
                    if {b"o2g/error", b"o2g/user/alice/presence"} <= topics:
                        break
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(20)
    everything = b"\n".join(payloads)
    assert b"homeassistant/" in everything and b"o2g/user/alice/presence idle" in everything
    for secret in (b"br0ker-Secret", b"admin", b"AlcUserId", b"JSESSIONID", b"password"):
        assert secret not in everything, secret
    assert "br0ker-Secret" not in log.read_text()

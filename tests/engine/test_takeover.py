"""Two engine processes on one PostgreSQL store against a simulator process: one active,
one standby. Killing the active (SIGKILL) hands its calls and timers to the standby; an
active paused (SIGSTOP) past its lease and resumed (SIGCONT) after the takeover steps
down without sending anything. Every call reaches voicemail, redirected exactly once.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from support import VOICEMAIL_FLOW, wait_for

KILLS = 20


class Instance:
    """One ``o2g-flows run`` process on the shared store, with its own log."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def text(self) -> str:
        return self.log.read_text()

    def active(self) -> bool:
        return "subscribed to" in self.text()


class Cluster:
    """Engine processes started on one PostgreSQL store and one gateway."""

    def __init__(self, url: str, state: str, folder: Path, lease: float) -> None:
        self.url, self.state, self.folder, self.lease = url, state, folder, lease
        (folder / "flows").mkdir()
        (folder / "flows" / "ha.yaml").write_text(VOICEMAIL_FLOW.format(name="ha-voicemail"))
        self.started: list[Instance] = []

    def start(self, role: str, flows: Path | None = None) -> Instance:
        """Start an instance and wait until it is ``active`` (subscribed) or ``standby``."""
        log = self.folder / f"engine-{len(self.started)}.log"
        command = [
            sys.executable, "-m", "o2g_flows", "run", str(flows or self.folder / "flows"),
            "--server", self.url, "--state", self.state, "--lease", str(self.lease),
            "--no-reload", "--plugins", str(self.folder / "no-plugins"),
        ]  # fmt: skip
        env = {**os.environ, "O2G_LOGIN": "admin", "O2G_PASSWORD": "admin"}
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        instance = Instance(process, log)
        self.started.append(instance)
        marker = "subscribed to" if role == "active" else "standby "
        wait_for(lambda: marker in log.read_text() or process.poll() is not None, 30, f"a {role}")
        assert process.poll() is None, log.read_text()
        return instance

    def stop(self) -> None:
        for instance in self.started:
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGTERM)
        for instance in self.started:
            if instance.process.returncode != -signal.SIGKILL:
                assert instance.process.wait(20) == 0, instance.text()[-3000:]

    def text(self) -> str:
        return "\n".join(instance.text() for instance in self.started)


def sim_state(url: str) -> dict:
    return httpx.get(f"{url}/sim/state", timeout=5).json()


def every_call_in_voicemail(url: str, placed: list[str]):  # type: ignore[no-untyped-def]
    def check() -> bool:
        pbx = sim_state(url)
        return not pbx["calls"]["calls"] and len(pbx["messaging"]["alice"]["voicemails"]) >= len(
            placed
        )

    return check


def test_a_standby_takes_over_at_each_sigkill_of_the_active(
    gateway, pg_url, tmp_path, voicemail_audit
):
    cluster = Cluster(gateway, pg_url, tmp_path, lease=4.0)
    rng = random.Random(11)
    placed: list[str] = []
    takeovers: list[float] = []
    with httpx.Client(base_url=gateway, timeout=5) as control:

        def place() -> None:
            answer = control.post("/sim/calls", json={"from": "+33612345678", "to": "2001"})
            assert answer.status_code == 201, answer.text
            placed.append(answer.json()["callRef"])

        active = cluster.start("active")
        standby = cluster.start("standby")
        for _ in range(KILLS):
            end = time.monotonic() + rng.uniform(0.2, 1.2)
            while time.monotonic() < end:
                if rng.random() < 0.4:
                    place()
                time.sleep(rng.uniform(0.01, 0.1))
            killed = time.monotonic()
            active.process.send_signal(signal.SIGKILL)
            active.process.wait(10)
            if rng.random() < 0.5:
                place()  # a call while no instance is active
            wait_for(standby.active, 15, "the standby to take over")
            takeovers.append(time.monotonic() - killed)
            active, standby = standby, cluster.start("standby")

        wait_for(every_call_in_voicemail(gateway, placed), 30, "every call to reach voicemail")
        cluster.stop()
    text = cluster.text()
    voicemail_audit(text, "ha-voicemail", placed, KILLS)
    tokens = [int(token) for token in re.findall(r"holds the lease of .* \(token (\d+)", text)]
    assert tokens == list(range(1, KILLS + 2))  # one more at each takeover, one holder each
    assert len(placed) >= KILLS
    takeovers.sort()
    p50, worst = takeovers[len(takeovers) // 2], takeovers[-1]
    print(f"\ntakeover after SIGKILL (kill to subscribed): p50 {p50:.2f}s, max {worst:.2f}s")


def test_an_active_paused_past_its_lease_steps_down_and_sends_nothing(
    gateway, pg_url, tmp_path, voicemail_audit
):
    cluster = Cluster(gateway, pg_url, tmp_path, lease=1.0)
    placed: list[str] = []
    with httpx.Client(base_url=gateway, timeout=5) as control:
        paused = cluster.start("active")
        standby = cluster.start("standby")
        for _ in range(3):
            answer = control.post("/sim/calls", json={"from": "+33612345678", "to": "2001"})
            placed.append(answer.json()["callRef"])
        wait_for(
            lambda: all(f"ha-voicemail[{ref}]" in paused.text() for ref in placed),
            10,
            "the active to start an execution per call",
        )
        paused.process.send_signal(signal.SIGSTOP)  # timers due while it is paused
        before = len(paused.text())
        wait_for(standby.active, 15, "the standby to take over")
        wait_for(every_call_in_voicemail(gateway, placed), 15, "every call to reach voicemail")
        paused.process.send_signal(signal.SIGCONT)
        wait_for(lambda: "waiting to take the lease again" in paused.text(), 15, "a step down")
        wait_for(lambda: "standby " in paused.text()[before:].split("waiting to take")[-1], 15,
                 "the former active to wait as standby")  # fmt: skip
        cluster.stop()
    resumed = paused.text()[before:]
    assert "lost the lease" in resumed and "stepping down, sending nothing" in resumed
    assert "redirect" not in resumed  # not one action, not even a guard's look at the call
    voicemail_audit(cluster.text(), "ha-voicemail", placed, 1)  # the action paused, at most


def test_a_standby_with_other_flows_says_how_they_differ(gateway, pg_url, tmp_path):
    cluster = Cluster(gateway, pg_url, tmp_path, lease=4.0)
    other = tmp_path / "other-flows"
    other.mkdir()
    (other / "ha.yaml").write_text(
        VOICEMAIL_FLOW.format(name="ha-voicemail").replace("seconds: 0.7", "seconds: 30")
    )
    cluster.start("active")
    standby = cluster.start("standby", flows=other)
    wait_for(lambda: "the active runs other flows" in standby.text(), 15, "the difference")
    cluster.stop()
    assert "ha-voicemail (another version)" in standby.text()

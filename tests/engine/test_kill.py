"""``o2g-flows run`` killed at random moments (SIGKILL) then restarted, and stopped by SIGTERM.

The simulator runs in a process of its own, as a gateway would; every engine process
keeps its state in the same file. Calls ring at alice's desk while engines are killed
and restarted; each must reach her voicemail exactly once: no timer lost, no stored
transition's action sent twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from support import VOICEMAIL_FLOW, wait_for

KILLS = 20


class Engines:
    """Engine processes started one after the other on one state file."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        (folder / "flows").mkdir()
        (folder / "flows" / "kill.yaml").write_text(VOICEMAIL_FLOW.format(name="kill-voicemail"))
        self.logs: list[Path] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.folder / f"engine-{len(self.logs)}.log"
        self.logs.append(log)
        command = [
            sys.executable, "-m", "o2g_flows", "run", str(self.folder / "flows"),
            "--server", self.url, "--state", str(self.folder / "state.sqlite"),
            "--no-reload", "--plugins", str(self.folder / "no-plugins"),
        ]  # fmt: skip
        env = {**os.environ, "O2G_LOGIN": "admin", "O2G_PASSWORD": "admin"}
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_for(
            lambda: "subscribed to" in log.read_text() or process.poll() is not None,
            30,
            "the engine to subscribe",
        )
        assert process.poll() is None, log.read_text()
        return process

    def text(self) -> str:
        return "\n".join(log.read_text() for log in self.logs)


def state(url: str) -> dict:
    return httpx.get(f"{url}/sim/state", timeout=5).json()


def test_sigkill_at_random_moments_loses_no_timer_and_repeats_no_action(
    gateway, tmp_path, voicemail_audit
):
    engines = Engines(gateway, tmp_path)
    rng = random.Random(7)
    placed: list[str] = []
    with httpx.Client(base_url=gateway, timeout=5) as control:

        def place() -> None:
            answer = control.post("/sim/calls", json={"from": "+33612345678", "to": "2001"})
            assert answer.status_code == 201, answer.text
            placed.append(answer.json()["callRef"])

        for _ in range(KILLS):
            process = engines.start()
            end = time.monotonic() + rng.uniform(0.1, 1.6)
            while time.monotonic() < end:
                if rng.random() < 0.3:
                    place()
                time.sleep(rng.uniform(0.01, 0.15))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            if rng.random() < 0.3:
                place()  # a call that starts while no engine runs

        last = engines.start()

        def all_in_voicemail() -> bool:
            pbx = state(gateway)
            return not pbx["calls"]["calls"] and len(
                pbx["messaging"]["alice"]["voicemails"]
            ) >= len(placed)

        wait_for(all_in_voicemail, 30, "every call to reach voicemail")
        last.send_signal(signal.SIGTERM)
        assert last.wait(20) == 0
    voicemail_audit(engines.text(), "kill-voicemail", placed, KILLS)
    assert len(placed) >= KILLS // 2


def test_sigterm_stops_cleanly_and_closes_the_o2g_session(gateway, tmp_path):
    engines = Engines(gateway, tmp_path)
    process = engines.start()
    assert state(gateway)["sessions"] and state(gateway)["subscriptions"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    text = engines.text()
    assert "SIGTERM: stopping" in text
    assert "stopped: " in text
    pbx = state(gateway)
    assert not pbx["subscriptions"], json.dumps(pbx["subscriptions"])
    assert not pbx["sessions"], json.dumps(pbx["sessions"])

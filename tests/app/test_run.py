"""``o2g-flows run`` as a service: a configuration file, the status server, SIGHUP, SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from support import free_port, wait_for

RULE = """\
flow: {name}
users: [reception]
on: OnCallCreated
do: [{{log: "{name}"}}]
"""


def start(folder: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = folder / "run.log"
    out = log.open("wb")
    command = [sys.executable, "-m", "o2g_flows", "run", "--no-traffic", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2G_")}
    process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=env)
    return process, log


def test_a_configured_service_serves_its_status_reloads_on_sighup_and_stops_on_sigterm(
    tmp_path,
):
    flows = tmp_path / "my-flows"
    flows.mkdir()
    (flows / "first.yaml").write_text(RULE.format(name="first"))
    port = free_port()
    (tmp_path / "o2g-flows.yaml").write_text(
        f"flows: [my-flows]\nreload: false\nstatus: {{listen: '127.0.0.1:{port}'}}\n"
    )
    process, log = start(tmp_path)
    try:
        wait_for(lambda: "subscribed to" in log.read_text(), 30, "the engine to subscribe")
        url = f"http://127.0.0.1:{port}/api/status"
        names = lambda: [flow["name"] for flow in httpx.get(url, timeout=5).json()["flows"]]  # noqa: E731
        assert names() == ["first"]
        sim = re.search(r"embedded simulator on (\S+)", log.read_text()).group(1)
        httpx.post(f"{sim}/sim/calls", json={"from": "+33140000001", "to": "2000"}, timeout=5)
        metrics = f"http://127.0.0.1:{port}/metrics"
        received = 'o2g_flows_events_received_total{event="OnCallCreated"}'
        wait_for(lambda: received in httpx.get(metrics, timeout=5).text, 30, "the event's count")
        (flows / "second.yaml").write_text(RULE.format(name="second"))
        time.sleep(0.3)
        assert names() == ["first"]  # reload: false, nothing watched...
        process.send_signal(signal.SIGHUP)  # ...but SIGHUP reloads
        wait_for(lambda: names() == ["first", "second"], 30, "SIGHUP to reload the flows")
        scraped = httpx.get(metrics, timeout=5).text
        assert 'o2g_flows_reloads_total{outcome="applied"} 1.0' in scraped
        frozen = re.search(r"^o2g_flows_gc_frozen_objects (\S+)", scraped, re.M)
        assert float(frozen.group(1)) > 10_000  # start-up's objects, out of the GC's passes
        assert 'o2g_flows_o2g_request_seconds_count{method="POST",service="subscriptions"}' in (
            scraped
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert "SIGHUP: reloading flows and plugins" in text and "SIGTERM: stopping" in text


def test_a_status_server_off_loopback_needs_a_token(tmp_path):
    (tmp_path / "first.yaml").write_text(RULE.format(name="first"))
    process, log = start(tmp_path, str(tmp_path), "--status", f"0.0.0.0:{free_port()}")
    assert process.wait(30) == 4
    (line,) = [line for line in log.read_text().splitlines() if "ERROR" in line]
    assert "is not loopback: set $O2G_STATUS_TOKEN" in line


def test_a_bad_configuration_is_refused_with_its_place(tmp_path):
    (tmp_path / "o2g-flows.yaml").write_text("gatway: {url: x}\n")
    process, log = start(tmp_path)
    assert process.wait(30) == 2
    assert log.read_text().strip() == (
        "error: o2g-flows.yaml:1:1: unknown setting 'gatway' (did you mean gateway?)"
    )


def test_a_busy_status_port_is_one_line_and_status_4(tmp_path):
    (tmp_path / "first.yaml").write_text(RULE.format(name="first"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process, log = start(tmp_path, str(tmp_path), "--status", f"127.0.0.1:{port}")
        assert process.wait(30) == 4
    errors = [line for line in log.read_text().splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"--status 127.0.0.1:{port}: cannot listen there" in errors[0]
    assert "Traceback" not in log.read_text()


def test_start_up_failures_are_one_line_each_with_their_own_status(tmp_path, sim_process):
    (tmp_path / "first.yaml").write_text(RULE.format(name="first"))
    url = sim_process()
    common = [str(tmp_path), "--state", ":memory:", "--no-reload"]
    cases = [
        ([*common, "--server", "http://127.0.0.1:9", "--login", "a", "--password", "b"], 5,
         "cannot reach the O2G gateway http://127.0.0.1:9"),
        ([*common, "--server", url, "--login", "admin", "--password", "wrong"], 6,
         f"{url} refused the credentials of 'admin'"),
        ([*common, "--server", sim_process("--tls"), "--login", "admin", "--password", "admin"], 7,
         "cannot verify the TLS certificate of https://"),
    ]  # fmt: skip
    for argv, status, message in cases:
        process, log = start(tmp_path, *argv)
        assert process.wait(60) == status, log.read_text()
        text = log.read_text()
        (error,) = [line for line in text.splitlines() if "ERROR" in line]
        assert message in error and "Traceback" not in text


def test_the_embedded_simulator_takes_a_port_and_a_pbx_file(tmp_path):
    (tmp_path / "first.yaml").write_text(RULE.format(name="first"))
    shipped = Path(__file__).parents[2] / "o2g_flows" / "sim" / "default_pbx.yaml"
    pbx = tmp_path / "pbx.yaml"
    pbx.write_text(shipped.read_text())
    port = free_port()
    process, log = start(
        tmp_path, str(tmp_path), "--sim-port", str(port), "--sim-pbx", str(pbx), "--duration", "1"
    )
    assert process.wait(30) == 0, log.read_text()
    assert f"embedded simulator on http://127.0.0.1:{port} ({pbx})" in log.read_text()

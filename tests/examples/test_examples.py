"""The three example folders, end to end: each one copied alone into a temporary folder,
checked (``config check``, ``validate``, ``test``) and run as its README says, on the
embedded simulator with its own PBX and traffic; the outcome is read from the simulator's
state (``GET /sim/state``) and from the engine's status API, then the run is stopped with
SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from support import free_port, wait_for

from o2g_flows.app.traffic import load_traffic
from o2g_flows.engine.functions import is_holiday

EXAMPLES = Path(__file__).parents[2] / "examples"
FOLDERS = ("reception", "after-hours", "contact-centre")


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without the settings an example's run would read."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("O2G_") and name != "OFFICE_HOURS"
    }
    return {**env, **extra}


def o2g_flows(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """An ``o2g-flows`` command run to its end in ``folder``."""
    return subprocess.run(
        [sys.executable, "-m", "o2g_flows", *argv],
        cwd=folder,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def example(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The example folder named by the test's parameter, copied alone: nothing outside it
    is reachable through a relative path."""
    copy = tmp_path / request.param
    shutil.copytree(EXAMPLES / request.param, copy)
    return copy


class Run:
    """``o2g-flows run`` of an example as its README gives it (its configuration names the
    simulated PBX and the traffic), with the status server on a free port; ``sim`` is the
    embedded simulator's URL, ``api`` the status server's."""

    def __init__(self, folder: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.log = folder.parent / f"{folder.name}.log"
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "o2g_flows",
            "run",
            "--status",
            f"127.0.0.1:{port}",
            *extra,
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=env or environment()
            )
        self.api = f"http://127.0.0.1:{port}/api"
        found = wait_for(self._simulator, 30, "the embedded simulator to start")
        self.sim = found.group(1)

    def _simulator(self) -> re.Match[str] | None:
        assert self.process.poll() is None, self.text()
        return re.search(r"embedded simulator on (\S+) \(pbx\.yaml\)", self.text())

    def text(self) -> str:
        return self.log.read_text()

    def pbx(self) -> dict[str, Any]:
        return httpx.get(f"{self.sim}/sim/state", timeout=5).json()

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.api}{path}", timeout=5).json()

    def stop(self) -> str:
        """SIGTERM: a clean stop with status 0 and no execution with errors; the log."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(20) == 0, self.text()
        text = self.text()
        assert "SIGTERM: stopping" in text and ", 0 with errors" in text, text
        assert "Traceback" not in text and "WARNING traffic" not in text, text
        return text

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def running() -> Iterator[list[Run]]:
    """Runs started by the test, killed at its end if still running."""
    runs: list[Run] = []
    yield runs
    for run in runs:
        run.kill()


def mini_messages(pbx: dict[str, Any], login: str) -> list[str]:
    return [item["message"] for item in pbx["messaging"].get(login, {}).get("miniMessages", [])]


def voicemails_from(pbx: dict[str, Any], login: str) -> list[str]:
    boxes = pbx["messaging"].get(login, {}).get("voicemails", [])
    return [item["from"]["id"]["phoneNumber"] for item in boxes]


@pytest.mark.parametrize("example", FOLDERS, indirect=True)
def test_each_example_is_a_complete_folder_whose_flows_validate_and_pass_their_tests(example):
    assert {path.name for path in example.iterdir()} >= {
        "README.md",
        "o2g-flows.yaml",
        "flows",
        "pbx.yaml",
        "traffic.yaml",
    }
    readme = (example / "README.md").read_text()
    assert re.search(r"^(OFFICE_HOURS='[^']*' )?o2g-flows run\b", readme, re.M)
    checked = o2g_flows(example, "config", "check")
    assert checked.returncode == 0, checked.stderr
    for setting, value in (("flows", "['flows']"), ("simulator.pbx", "pbx.yaml")):
        line = rf"^{setting}\s+{re.escape(value)}\s+\(o2g-flows\.yaml:\d+:\d+\)$"
        assert re.search(line, checked.stdout, re.M), checked.stdout
    validated = o2g_flows(example, "validate", "--strict", "flows/")
    assert validated.returncode == 0, validated.stdout
    flow_files = sorted((example / "flows").glob("*.yaml"))
    assert validated.stdout.strip().endswith(
        f"{len(flow_files)} flow(s) valid, 0 error(s) in {len(flow_files)} file(s)"
    )
    tested = o2g_flows(example, "test", "flows/", "--format", "json")
    assert tested.returncode == 0, tested.stdout
    report = json.loads(tested.stdout)
    assert report["errors"] == [] and report["warnings"] == []
    assert report["failed"] == 0 and report["passed"] == len(report["tests"]) > 0
    # every flow of the example carries tests of its own
    assert {test["flow"] for test in report["tests"]} == set(report["valid"])
    # the README's figures are these
    assert f"# {len(flow_files)} flow(s) valid" in readme
    assert f"# {report['passed']} passed" in readme


@pytest.mark.parametrize("example", ["reception"], indirect=True)
def test_a_broken_pbx_or_traffic_file_is_refused_in_one_line_naming_its_place(example):
    config = example / "o2g-flows.yaml"
    config.write_text(config.read_text().replace("pbx: pbx.yaml", "pbx: pbx.yml"))
    refused = o2g_flows(example, "run", "--no-reload")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert re.search(
        r"ERROR +o2g-flows\.yaml:\d+:\d+: simulator\.pbx pbx\.yml: no such file$", line
    )
    pbx = example / "pbx.yml"
    pbx.write_text((example / "pbx.yaml").read_text().replace("first_name: Rita", "first: Rita"))
    refused = o2g_flows(example, "run", "--no-reload")
    assert refused.returncode == 2, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert re.search(r"ERROR +pbx\.yml:\d+:\d+: unknown key 'first'", line), line
    refused = o2g_flows(example, "run", "--no-reload", "--sim-pbx", "pbx.yaml", "--traffic", "t")
    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line.endswith("ERROR   --traffic t: no such file")
    config.write_text(config.read_text().replace("traffic: traffic.yaml", "trafic: traffic.yaml"))
    refused = o2g_flows(example, "run")
    assert refused.returncode == 2
    assert re.fullmatch(
        r"error: o2g-flows\.yaml:\d+:\d+: unknown setting 'simulator\.trafic' \(did you mean "
        r"simulator\.traffic\?\)\n",
        refused.stderr,
    )


def test_every_traffic_file_loads():
    for folder in FOLDERS:
        steps = load_traffic(EXAMPLES / folder / "traffic.yaml")
        assert [step.at for step in steps] == sorted(step.at for step in steps)
        assert {step.kind for step in steps} >= {"call", "hangup"}, folder
    demo = load_traffic()  # the packaged demo of `o2g-flows run` without --traffic
    assert {step.kind for step in demo} >= {"call", "answer", "hangup", "logon", "ready"}


@pytest.mark.parametrize("example", ["reception"], indirect=True)
def test_reception_answers_vips_sends_the_unanswered_to_voicemail_and_says_so(example, running):
    run = Run(example)
    running.append(run)

    def settled() -> dict[str, Any] | None:
        pbx = run.pbx()
        done = (
            mini_messages(pbx, "alice")
            and mini_messages(pbx, "reception")
            and voicemails_from(pbx, "alice")
            and not pbx["calls"]["calls"]
        )
        return pbx if done else None

    pbx = wait_for(settled, 30, "the reception's calls to be over")
    # the VIP's call was answered at the reception's set (its call log says so)
    (vip,) = [
        record["participants"]
        for record in pbx["messaging"]["reception"]["records"]
        if {"phoneNumber": "+33140000001"} in [p["identity"]["id"] for p in record["participants"]]
    ]
    assert [p.get("answered") for p in vip if p.get("role") == "CALLEE"] == [True]
    # the customer who gave up at the reception is to be called back
    assert mini_messages(pbx, "reception") == ["Call back +33140000099: hung up while ringing"]
    # alice's caller went to her voicemail after 6 s, and she is told
    assert voicemails_from(pbx, "alice") == ["+33612345678"]
    assert mini_messages(pbx, "alice") == ["Missed call from +33612345678 (voicemail)"]
    # bob answered his call himself: no message
    assert mini_messages(pbx, "bob") == []
    traces = run.get("/traces")
    by_flow = {(trace["flow"], trace["outcome"]) for trace in traces}
    assert ("reception-auto-answer", "ended") in by_flow
    assert ("abandoned-call-alert", "ended") in by_flow
    assert sorted(
        trace["states"] for trace in traces if trace["flow"] == "no-answer-to-voicemail"
    ) == [
        ["ringing", "answered", "end"],  # the VIP, answered by the flow
        ["ringing", "answered", "end"],  # bob's caller, answered by bob
        ["ringing", "end"],  # the customer who gave up
        ["ringing", "voicemail", "end"],  # alice's caller
    ]
    assert run.get("/traces?failed=1") == []
    text = run.stop()
    assert "reception-auto-answer[" in text and "answered VIP +33140000001 on 2000" in text


def closed_now() -> str:
    """Opening hours during which the office is closed now, in Paris: one minute on a day
    that is neither today nor yesterday."""
    today = datetime.now(ZoneInfo("Europe/Paris"))
    day = (today + timedelta(days=3)).strftime("%a").lower()
    return f"{day} 00:00-00:01"


@pytest.mark.parametrize("example", ["after-hours"], indirect=True)
def test_after_hours_closes_the_office_at_start_and_counts_the_night_calls(example, running):
    hook = free_port()
    run = Run(example, "--webhook", f"127.0.0.1:{hook}", env=environment(OFFICE_HOURS=closed_now()))
    running.append(run)

    def settled() -> dict[str, Any] | None:
        pbx = run.pbx()
        done = voicemails_from(pbx, "reception") and "traffic  done" in run.text()
        return pbx if done and not pbx["calls"]["calls"] else None

    pbx = wait_for(settled, 30, "the calls of the night to be over")
    routing = pbx["routing"]
    # closed at start: the reception forwarded to its voicemail, the staff on DND
    assert routing["reception"]["forwardRoutes"] == [{"destinations": [{"type": "VOICEMAIL"}]}]
    assert routing["alice"]["dndState"] == {"activate": True}
    assert routing["bob"]["dndState"] == {"activate": True}
    assert routing["carol"]["dndState"] == {"activate": False}
    # the reception's caller left a message; alice's was refused by DND
    assert voicemails_from(pbx, "reception") == ["+33140000099"]
    assert voicemails_from(pbx, "alice") == []
    # one call counted for the morning's message, which waits for the opening schedule
    (counting,) = run.get("/executions?flow=night-calls")
    assert (counting["key"], counting["state"]) == ("reception", "counting")
    status = run.get("/status")
    assert {(item["flow"], item["schedule"]) for item in status["schedules"]} >= {
        ("after-hours", "closing"),
        ("after-hours", "opening"),
        ("night-calls", "opening"),
    }
    # the calendar turns carol's DND on over HTTP
    answer = httpx.post(
        f"http://127.0.0.1:{hook}/hooks/calendar?wait=10",
        json={"user": "carol", "busy": True},
        timeout=15,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["executions"][0]["outcome"] == "ended"
    assert run.pbx()["routing"]["carol"]["dndState"] == {"activate": True}
    assert run.get("/traces?failed=1") == []
    text = run.stop()
    assert "at start the office is closed" in text


@pytest.mark.parametrize("example", ["after-hours"], indirect=True)
def test_after_hours_opens_the_office_at_start_during_opening_hours(example, running):
    run = Run(example, "--no-traffic", env=environment(OFFICE_HOURS="mon-sun 00:00-24:00"))
    running.append(run)

    def fired() -> list[dict[str, Any]] | None:
        traces = run.get("/traces?flow=after-hours")  # an error object until the engine runs
        return traces if isinstance(traces, list) and traces else None

    (trace,) = wait_for(fired, 30, "the at-start firing")
    entries = run.get(f"/traces/{trace['id']}")["entries"]
    actions = [e for e in entries if e["kind"] == "action" and e["ok"]]
    done = [(e["action"], e["args"].get("user")) for e in actions if e["action"] != "set"]
    skipped = [e["action"] for e in entries if e["kind"] == "skip"]
    if is_holiday(datetime.now(ZoneInfo("Europe/Paris")).date(), "FR"):  # open_at() says no
        assert ("forward", "reception") in done and skipped == ["cancel_forward", "for_each"]
    else:
        assert done == [
            ("log", None),
            ("cancel_forward", "reception"),
            ("for_each", None),
            ("cancel_dnd", "alice"),
            ("cancel_dnd", "bob"),
        ]
        assert skipped == ["forward", "for_each"]
    assert "at start the office is open (mon-sun 00:00-24:00)" in run.stop()


@pytest.mark.parametrize("example", ["contact-centre"], indirect=True)
def test_contact_centre_breaks_agents_after_calls_and_tells_the_supervisor(example, running):
    run = Run(example)
    running.append(run)

    def settled() -> dict[str, Any] | None:
        pbx = run.pbx()
        states = [pbx["acd"][agent]["state"].get("subState") for agent in ("agent1", "agent2")]
        done = "traffic  done" in run.text() and states == ["READY", "READY"]
        return pbx if done and not pbx["calls"]["calls"] else None

    pbx = wait_for(settled, 30, "the agents to be back at work after their last call")
    assert mini_messages(pbx, "supervisor") == [
        "+33140000099 waits for more than 3s at 5000",
        "agent1 answered 2 calls",
    ]
    breaks = run.get("/traces?flow=agent-break-after-call")
    # two breaks for agent1 (after each call), one for agent2, each paused then readied
    assert sorted(trace["key"] for trace in breaks) == ["agent1", "agent1", "agent2"]
    for trace in breaks:
        assert (
            trace["states"] == ["on_break", "back_to_work", "end"] and trace["outcome"] == "ended"
        )
        entries = run.get(f"/traces/{trace['id']}")["entries"]
        actions = [(e["action"], e["ok"]) for e in entries if e["kind"] == "action"]
        assert actions == [("agent_pause", True), ("agent_ready", True)], entries
    watched = run.get("/traces?flow=queue-watch")
    assert [trace["states"] for trace in reversed(watched)] == [
        ["waiting", "end"],
        ["waiting", "end"],
        ["waiting", "alerted", "end"],
    ]
    counts = {e["key"]: e["state"] for e in run.get("/executions?flow=count-handled-calls")}
    assert counts == {"agent1": "counting", "agent2": "counting"}
    schedules = {item["schedule"] for item in run.get("/status")["schedules"]}
    assert schedules == {"last-calls", "closing"}
    assert run.get("/traces?failed=1") == []
    run.stop()


@pytest.mark.parametrize("example", ["contact-centre"], indirect=True)
def test_contact_centre_tells_the_supervisor_once_per_caller_in_a_burst(example, running):
    """Twelve callers at once with no agent logged on: the pilot queues ten (its
    queue_size) and refuses the others; each queued caller gives exactly one alert and,
    hanging up, one more."""
    run = Run(example, "--no-traffic")
    running.append(run)
    wait_for(lambda: "subscribed to" in run.text(), 30, "the engine to subscribe")
    callers = [f"+3314000{n:04d}" for n in range(12)]

    async def all_at_once(requests: list[tuple[str, dict[str, str]]]) -> list[int]:
        async with httpx.AsyncClient(base_url=run.sim, timeout=10) as http:
            answers = await asyncio.gather(*(http.post(path, json=body) for path, body in requests))
        return [answer.status_code for answer in answers]

    calls = [("/sim/calls", {"from": caller, "to": "5000"}) for caller in callers]
    assert asyncio.run(all_at_once(calls)) == [201] * 12

    def alerted() -> list[str] | None:
        found = mini_messages(run.pbx(), "supervisor")
        return found if len(found) == 10 else None

    waiting = sorted(wait_for(alerted, 30, "ten alerts"))
    queued = [message.split()[0] for message in waiting]
    assert waiting == [f"{caller} waits for more than 3s at 5000" for caller in queued]
    assert len(set(queued)) == 10 and set(queued) <= set(callers)
    pbx = run.pbx()
    assert len(pbx["calls"]["queues"]["5000"]) == 10 and len(pbx["calls"]["calls"]) == 10
    hangups = [(f"/sim/externals/{caller}/hangup", {}) for caller in queued]
    assert asyncio.run(all_at_once(hangups)) == [204] * 10

    def gave_up() -> list[str] | None:
        found = mini_messages(run.pbx(), "supervisor")[10:]
        return found if len(found) >= 10 else None

    assert sorted(wait_for(gave_up, 30, "ten callers giving up")) == [
        f"{caller} hung up in the queue of 5000" for caller in sorted(queued)
    ]
    traces = run.get("/traces?flow=queue-watch")
    assert [trace["states"] for trace in traces] == [
        ["waiting", "alerted", "abandoned", "end"]
    ] * 10
    assert run.get("/executions?flow=queue-watch") == []
    run.stop()

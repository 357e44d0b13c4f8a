"""Log lines: a date and a level on each, JSON lines for shippers, secrets never written."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from o2g_flows.app.console import setup_console
from o2g_flows.cli import main

FLOWS = str(Path(__file__).parents[2] / "flows")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_lines_carry_date_time_and_level(capsys):
    assert main(["run", FLOWS, "--no-traffic", "--duration", "0.3", "--no-reload"]) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO    embedded simulator", first)


def test_json_lines_and_quiet_after_the_subcommand(capsys, tmp_path):
    traffic = tmp_path / "traffic.yaml"
    traffic.write_text('- {at: 0.1, call: {from: "+33140000001", to: "2000"}}\n')
    argv = ["run", FLOWS, "--traffic", str(traffic), "--duration", "1", "--log-format", "json"]
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    answered = [line for line in lines if line.get("flow") == "reception-auto-answer"]
    assert answered and all(line["key"] for line in answered)
    assert main([*argv[:4], "--no-traffic", "--duration", "0.3", "-q"]) == 0
    assert capsys.readouterr().err == ""  # nothing went wrong, nothing is said


def test_cookies_and_credentials_are_masked_even_in_debug(capsys):
    setup_console(1)
    logging.getLogger("httpcore.http11").debug(
        "send_request_headers.started request=<Request [b'GET']> headers=[(b'Cookie', "
        "b'AlcUserId=5f2ab; JSESSIONID=0042'), (b'Authorization', b'Basic YWRtaW46YWRtaW4=')]"
    )
    logging.getLogger("httpx").debug("Set-Cookie: AlcUserId=5f2ab; Path=/")
    err = capsys.readouterr().err
    for secret in ("5f2ab", "0042", "YWRtaW46YWRtaW4="):
        assert secret not in err
    assert err.count("***") >= 3

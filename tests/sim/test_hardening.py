"""No 500s, RestErrorInfo bodies everywhere, resource limits and the standalone command."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from o2g_flows.sim import Simulator
from o2g_flows.sim.middleware import is_loopback

from .conftest import API, assert_error, login

DEEP = b"[" * 1000 + b"]" * 1000


async def test_deep_json_and_huge_numbers_are_bad_parameters(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    headers = {"Content-Type": "application/json"}
    deep = await alice.post("/telephony/calls", content=DEEP, headers=headers)
    assert_error(deep, 400, "BAD_PARAMETER", "nested deeper")
    deep_field = b'{"callee": "2002", "x": ' + DEEP + b"}"
    assert_error(
        await alice.post("/telephony/calls", content=deep_field, headers=headers),
        400,
        "BAD_PARAMETER",
    )
    async with httpx.AsyncClient(base_url=sim.url, headers=headers) as world:
        assert_error(await world.post("/sim/events", content=DEEP), 400, "BAD_PARAMETER")
        huge = b'{"eventName": "OnX", "n": 123456789012345678901234567890}'
        assert_error(await world.post("/sim/events", content=huge), 400, "BAD_PARAMETER", "64 bits")
        assert_error(
            await world.post("/sim/events", content=b'{"eventName": "OnX", "n": 1e999}'),
            400,
            "BAD_PARAMETER",
        )


async def test_aiohttp_errors_outside_the_routes_are_rest_error_info(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as world:
        assert_error(await world.get("/nothing"), 404, "NOT_FOUND", "/nothing")
        assert_error(await world.delete("/sim/state"), 405, "NOT_SUPPORTED")
        too_big = await world.post(f"{API}/sessions", content=b"x" * (5 * 1024 * 1024))
        assert_error(too_big, 413, "BAD_PARAMETER")


@pytest.mark.parametrize(
    "raw",
    [
        b"BLAH\r\n\r\n",
        b"GET /api/rest HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"POST /api/rest/1.0/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /api/rest HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n",
    ],
)
async def test_malformed_http_is_answered_with_rest_error_info(sim: Simulator, raw: bytes) -> None:
    port = int(sim.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)  # the server closes the connection
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 400 ") or head.startswith(b"HTTP/1.1 400 "), head
    assert b"Content-Type: application/json" in head
    error = json.loads(body)
    assert error["type"] == "BAD_PARAMETER" and error["code"] == 1006
    assert error["innerMessage"].startswith("malformed HTTP request")


async def test_expired_credentials_are_purged() -> None:
    async with Simulator(timing={"session_ttl": 0.2}) as sim:
        async with httpx.AsyncClient(base_url=sim.url) as client:
            credentials = []
            for _ in range(20):
                answer = await client.get("/api/rest/authenticate", auth=("alice", "1001"))
                credentials.append(answer.json()["credential"])
            assert sim.gateway.sessions.credential_count == 20
            await asyncio.sleep(0.25)
            await client.get("/api/rest/authenticate", auth=("alice", "1001"))
            assert sim.gateway.sessions.credential_count == 1
        async with httpx.AsyncClient(
            base_url=sim.url, cookies={"AlcUserId": credentials[0]}
        ) as late:
            old = await late.post(f"{API}/sessions", json={"applicationName": "late"})
            assert_error(old, 403, "INVALID_SESSION", "expired")


async def test_an_account_keeps_a_bounded_number_of_credentials() -> None:
    async with Simulator(max_sessions=3) as sim:
        async with httpx.AsyncClient(base_url=sim.url) as client:
            issued = []
            for _ in range(50):
                answer = await client.get("/api/rest/authenticate", auth=("alice", "1001"))
                issued.append(answer.json()["credential"])
            await client.get("/api/rest/authenticate", auth=("bob", "1002"))
        assert sim.gateway.sessions.credential_count == 3 + 1
        for credential, opens in ((issued[-1], True), (issued[-4], False)):
            async with httpx.AsyncClient(base_url=sim.url, cookies={"AlcUserId": credential}) as c:
                answer = await c.post(f"{API}/sessions", json={"applicationName": "t"})
                assert (answer.status_code == 200) is opens, answer.text


async def test_the_oldest_session_of_an_account_expires_beyond_the_cap() -> None:
    async with Simulator(max_sessions=2) as sim:
        first, second, third = [await login(sim, "alice", "1001") for _ in range(3)]
        try:
            assert_error(await first.get("/sessions"), 403, "INVALID_SESSION")
            assert (await second.get("/sessions")).status_code == 200
            assert (await third.get("/sessions")).status_code == 200
            other = await login(sim, "bob", "1002")  # a cap per account, not overall
            assert (await other.get("/sessions")).status_code == 200
            await other.aclose()
        finally:
            for client in (first, second, third):
                await client.aclose()


async def test_control_token_guards_the_control_api() -> None:
    async with Simulator(control_token="s3cret") as sim:
        async with httpx.AsyncClient(base_url=sim.url) as world:
            assert_error(await world.get("/sim/state"), 403, "NOT_ALLOWED", "X-Control-Token")
            wrong = await world.put(
                "/sim/ready", json={"ready": False}, headers={"X-Control-Token": "x"}
            )
            assert_error(wrong, 403, "NOT_ALLOWED")
            assert sim.ready
            good = await world.get("/sim/state", headers={"X-Control-Token": "s3cret"})
            assert good.status_code == 200
            assert (await world.get("/api/rest")).status_code == 200  # the API is not guarded


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.0.2.7", False),  # TEST-NET-1, documentation only
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_an_in_process_simulator_on_another_host_needs_a_control_token() -> None:
    with pytest.raises(ValueError, match="control_token"):
        Simulator(host="0.0.0.0")
    Simulator(host="0.0.0.0", control_token="s3cret")  # accepted (not started: no binding)


def _sim_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "o2g_flows.cli", "sim", *args]


def test_a_non_loopback_host_needs_a_control_token() -> None:
    done = subprocess.run(
        _sim_command("--host", "0.0.0.0"), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "--control-token" in done.stderr and done.stderr.count("\n") == 1


def test_a_busy_port_is_one_clear_line_and_a_failure() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            _sim_command("--port", str(port), "--tls"), capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 1
    assert done.stderr == f"error: port {port} is already in use on 127.0.0.1\n"


async def test_a_failed_start_removes_the_tls_key_folder() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        simulator = Simulator(tls=True, port=busy.getsockname()[1])
        with pytest.raises(OSError):
            async with simulator:
                pass
    assert simulator.ca_file is not None and not simulator.ca_file.parent.exists()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_removes_the_tls_key_folder(stop: signal.Signals) -> None:
    process = subprocess.Popen(
        _sim_command("--port", "0", "--tls"), stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("O2G simulator listening on https://127.0.0.1:")
        certificate = Path(process.stdout.readline().split(": ", 1)[1].strip())
        assert certificate.exists()
        process.send_signal(stop)
        assert process.wait(timeout=10) in (0, 130)  # 130: interrupted (SIGINT)
        assert not certificate.parent.exists()
    finally:
        process.kill()
        process.wait()

"""Bootstrap, authentication and session rules of the O2G protocol."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from o2g_flows.sim import Simulator

API = "/api/rest/1.0"


async def test_descriptor_lists_the_current_version(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.get("/api/rest")
    assert answer.status_code == 200
    body = answer.json()
    assert body["serverInfo"]["productType"] == "O2G"
    [version] = body["versions"]
    assert version["id"] == "1.0" and version["status"] == "CURRENT"
    assert version["internalUrl"] == f"{sim.url}/api/rest/authenticate?version=1.0"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_descriptor_refuses_other_methods(sim: Simulator, method: str) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.request(method, "/api/rest")
    assert answer.status_code == 405
    assert answer.json()["httpStatus"] == "METHOD_NOT_ALLOWED"


async def test_authentication_sets_the_credential_cookie(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.get("/api/rest/authenticate?version=1.0", auth=("alice", "1001"))
        assert answer.status_code == 200
        body = answer.json()
        assert client.cookies["AlcUserId"] == body["credential"]
        assert body["internalUrl"] == f"{sim.url}{API}/sessions"
        assert body["credential"].count(".") == 2  # a JWT


@pytest.mark.parametrize("auth", [("alice", "wrong"), ("nobody", "x"), None])
async def test_bad_credentials_are_refused(sim: Simulator, auth) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.get("/api/rest/authenticate?version=1.0", auth=auth)
    assert answer.status_code == 401
    assert answer.json()["type"] == "NOT_ALLOWED"


async def test_user_session_lists_services_it_may_use(session_of) -> None:
    alice = await session_of("alice")
    info = (await alice.get("/sessions")).json()
    assert info["admin"] is False
    assert info["timeToLive"] == 1800
    names = {service["serviceName"] for service in info["services"]}
    assert {"Subscriptions", "Telephony", "Routing", "Voicemail"} <= names
    assert "PbxManagement" not in names
    assert "JSESSIONID" in alice.cookies


async def test_basic_user_gets_no_advanced_services(session_of) -> None:
    basic = await session_of("basic")
    names = {s["serviceName"] for s in (await basic.get("/sessions")).json()["services"]}
    assert "Telephony" in names and "Routing" not in names and "Voicemail" not in names


async def test_administrator_session(session_of) -> None:
    admin = await session_of("admin")
    info = (await admin.get("/sessions")).json()
    assert info["admin"] is True
    assert "PbxManagement" in {s["serviceName"] for s in info["services"]}


async def test_supervised_session_acts_as_the_user(session_of) -> None:
    supervised = await session_of("admin", supervisedAccount={"id": "2002", "type": "PHONE_NUMBER"})
    info = (await supervised.get("/sessions")).json()
    assert info["admin"] is False
    state = (await supervised.get("/routing/dnd")).json()
    assert state == {"activate": False}


async def test_one_session_per_credential(session_of) -> None:
    alice = await session_of("alice")
    again = await alice.post("/sessions", json={"applicationName": "again"})
    assert again.status_code == 403


async def test_session_needs_application_name(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url + API) as client:
        await client.get(sim.url + "/api/rest/authenticate", auth=("bob", "1002"))
        answer = await client.post("/sessions", json={})
    assert answer.status_code == 400
    assert "applicationName" in answer.json()["innerMessage"]


async def test_requests_without_session_are_invalid_session(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url + API) as client:
        answer = await client.get("/routing/dnd")
    assert answer.status_code == 403
    body = answer.json()
    assert body["type"] == "INVALID_SESSION" and body["code"] == 1001 and body["canRetry"]


async def test_close_session(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.delete("/sessions")).status_code == 204
    assert (await alice.get("/sessions")).json()["type"] == "INVALID_SESSION"
    assert (await alice.delete("/sessions")).status_code == 403


async def test_session_expires_without_requests_and_keepalive_restarts_it() -> None:
    async with Simulator(timing={"session_ttl": 0.3}) as sim:
        async with httpx.AsyncClient(base_url=sim.url + API) as client:
            await client.get(sim.url + "/api/rest/authenticate", auth=("alice", "1001"))
            await client.post("/sessions", json={"applicationName": "t"})
            for _ in range(8):  # 0.4 s in all, kept alive
                await asyncio.sleep(0.05)
                assert (await client.post("/sessions/keepalive")).status_code == 204
            await asyncio.sleep(0.45)
            answer = await client.get("/sessions")
    assert answer.json()["type"] == "INVALID_SESSION"


async def test_unknown_path_and_wrong_method(session_of) -> None:
    alice = await session_of("alice")
    missing = await alice.get("/nothing/here")
    assert missing.status_code == 404 and missing.json()["type"] == "NOT_FOUND"
    wrong = await alice.put("/routing/dnd")
    assert wrong.status_code == 405 and wrong.json()["httpStatus"] == "METHOD_NOT_ALLOWED"


async def test_malformed_json_is_bad_parameter(session_of) -> None:
    alice = await session_of("alice")
    answer = await alice.post(
        "/subscriptions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["type"] == "BAD_PARAMETER"


async def test_not_ready_gateway_answers_503(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    sim.ready = False
    answer = await alice.get("/sessions")
    assert answer.status_code == 503
    assert answer.json()["type"] == "NOT_READY" and answer.json()["canRetry"] is True
    sim.ready = True
    assert (await alice.get("/sessions")).status_code == 200


async def test_restart_loses_sessions_but_keeps_the_port(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    url = sim.url
    await sim.restart()
    assert sim.url == url
    assert (await alice.get("/sessions")).json()["type"] == "INVALID_SESSION"

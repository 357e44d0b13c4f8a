"""Sessions: open for user, administrator and supervised accounts; keepalive; re-login; retries."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from o2g_flows.client import (
    AuthenticationError,
    InvalidSessionError,
    NotReadyError,
    O2GClient,
    O2GConnectionError,
)
from o2g_flows.sim import Simulator

SESSIONS = "/api/rest/1.0/sessions"


async def test_user_session(sim: Simulator, connect) -> None:
    o2g = await connect("alice")
    assert o2g.session["admin"] is False
    assert o2g.server == sim.url
    info = await o2g.sessions.get_info()
    assert info["admin"] is False
    user = await o2g.users.get_user("alice")
    assert user["companyPhone"] == "2001"


async def test_administrator_session_acts_for_users(sim: Simulator, connect) -> None:
    admin = await connect("admin")
    assert admin.session["admin"] is True
    logins = await admin.users.get_logins()
    assert {"alice", "bob", "agent1"} <= set(logins["loginNames"])
    state = await admin.routing.get_state(login_name="bob")
    assert "presentationRoutes" in state


async def test_supervised_session_acts_as_the_user(connect, control) -> None:
    o2g = await connect("admin", supervised="alice")
    assert o2g.session["admin"] is False
    state = await o2g.routing.get_state()
    assert "presentationRoutes" in state
    snapshot = (await control.state())["sessions"]
    assert {"login": "alice", "supervisor": "admin"}.items() <= snapshot[0].items()


async def test_wrong_password_is_an_authentication_error(connect) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await connect("alice", "wrong")
    assert caught.value.status_code == 401
    assert caught.value.type == "NOT_ALLOWED"
    assert "authenticate" in str(caught.value)


async def test_closing_the_client_closes_the_session(sim: Simulator, control) -> None:
    async with O2GClient(sim.url, "bob", "1002") as o2g:
        await o2g.users.get_user("bob")
        assert len((await control.state())["sessions"]) == 1
    assert (await control.state())["sessions"] == []
    with pytest.raises(O2GConnectionError, match="the client is closed"):
        await o2g.users.get_user("bob")


@pytest.mark.timing(session_ttl=1)
async def test_keepalive_holds_an_idle_session(connect, control, transport) -> None:
    o2g = await connect("alice", transport=transport)
    await asyncio.sleep(1.6)  # idle for longer than timeToLive
    assert len((await control.state())["sessions"]) == 1
    await o2g.users.get_user("alice")
    assert transport.count("POST", SESSIONS) == 1  # the same session
    assert transport.count("POST", SESSIONS + "/keepalive") >= 2


async def test_lost_session_logs_in_again_and_repeats_the_request(
    connect, control, caplog: pytest.LogCaptureFixture
) -> None:
    o2g = await connect("alice")
    await o2g.sessions.close()  # the gateway forgets the session, as on expiry
    with caplog.at_level(logging.WARNING, "o2g_flows.client"):
        user = await o2g.users.get_user("alice")
    assert user["loginName"] == "alice"
    assert "lost" in caplog.text and "reopened" in caplog.text
    assert len((await control.state())["sessions"]) == 1


@pytest.mark.timing(session_ttl=1)
async def test_expired_session_is_reopened_for_requests_and_events(
    connect, control, reader, transport
) -> None:
    o2g = await connect("alice", transport=transport)
    events = reader(o2g.events(await o2g.subscribe(["telephony"])))
    transport.refuse = lambda request: request.url.path.endswith("/keepalive")  # lost on the way
    await asyncio.sleep(1.3)  # the gateway expires the session and its subscription
    assert (await control.state())["sessions"] == []
    assert (await o2g.users.get_user("alice"))["loginName"] == "alice"
    gap = await events.next()
    assert (gap["eventName"], gap["reason"]) == ("OnEventGap", "relogin")
    await control.emit({"eventName": "OnUserStateModified", "loginName": "alice", "state": "FREE"})
    assert (await events.next())["state"] == "FREE"


async def test_concurrent_requests_log_in_again_once(sim: Simulator, connect, transport) -> None:
    o2g = await connect("alice", transport=transport)
    await o2g.sessions.close()
    users = await asyncio.gather(*(o2g.users.get_user("alice") for _ in range(5)))
    assert [u["loginName"] for u in users] == ["alice"] * 5
    assert transport.count("POST", SESSIONS) == 2  # the first login, then one more


async def test_gateway_restart_is_survived(sim: Simulator, connect) -> None:
    o2g = await connect("alice")
    await sim.restart()
    user = await o2g.users.get_user("alice")
    assert user["loginName"] == "alice"


async def test_not_ready_is_retried_until_ready(sim: Simulator, connect) -> None:
    o2g = await connect("alice")
    sim.ready = False
    asyncio.get_running_loop().call_later(0.2, setattr, sim, "ready", True)
    user = await o2g.users.get_user("alice")
    assert user["loginName"] == "alice"


async def test_not_ready_gives_up_after_retry_for(sim: Simulator, connect) -> None:
    o2g = await connect("alice", retry_for=0.2)
    sim.ready = False
    with pytest.raises(NotReadyError) as caught:
        await o2g.users.get_user("alice")
    assert caught.value.code == 1000 and caught.value.can_retry is True


async def test_server_down_is_a_connection_error(sim: Simulator, connect) -> None:
    o2g = await connect("alice")
    await sim.stop()
    with pytest.raises(O2GConnectionError) as caught:
        await o2g.users.get_user("alice")
    assert caught.value.url.endswith("/api/rest/1.0/users/alice")
    assert not isinstance(caught.value, InvalidSessionError)


async def test_no_server_at_all(connect) -> None:
    with pytest.raises(O2GConnectionError, match=r"127\.0\.0\.1:9/api/rest"):
        await connect("alice", url="http://127.0.0.1:9")


def test_bad_server_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http\\(s\\)://host"):
        O2GClient("o2g.example.com", "alice", "1001")


async def test_mock_transport_serves_user_code_without_a_gateway() -> None:
    """``transport=httpx.MockTransport(...)``: code using the client tested with no server."""
    base = "http://o2g.test/api/rest"

    def gateway(request: httpx.Request) -> httpx.Response:
        answers = {
            "/api/rest": {"versions": [{"id": "1.0", "publicUrl": f"{base}/authenticate"}]},
            "/api/rest/authenticate": {"credential": "c", "publicUrl": f"{base}/1.0/sessions"},
            "/api/rest/1.0/sessions": {"admin": False, "timeToLive": 60},
            "/api/rest/1.0/users/alice": {"loginName": "alice", "companyPhone": "2001"},
        }
        return httpx.Response(200, json=answers[request.url.path])

    async with O2GClient(
        "http://o2g.test", "alice", "x", transport=httpx.MockTransport(gateway)
    ) as o2g:
        assert (await o2g.users.get_user("alice"))["companyPhone"] == "2001"

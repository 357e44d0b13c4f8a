"""Routing management: capabilities, DND, forward, overflow, remote extension, snapshot."""

from __future__ import annotations

import httpx
import pytest

from o2g_flows.sim import PbxConfig, Simulator, load_pbx_file
from o2g_flows.sim.pbx.config import Device

from .conftest import assert_error

TIMING = {"ring_timeout": 0.3, "keepalive_interval": 0.2, "channel_minute": 0.5}
VOICEMAIL_FORWARD = {"forwardRoute": {"destinations": [{"type": "VOICEMAIL"}]}}


def assert_routing_error(answer: httpx.Response, status: int, error_type: str, cause: str) -> None:
    routing = assert_error(answer, status, "NOT_ALLOWED" if status == 403 else "BAD_PARAMETER")
    assert routing["routing"]["errorType"] == error_type, routing
    assert routing["routing"]["errorCause"] == cause, routing


def remote_extension_pbx() -> PbxConfig:
    """The default PBX where alice has a remote extension (MOBILE 2801) and bob no voicemail."""
    config = load_pbx_file()
    users = {user.login: user for user in config.users}
    users["alice"].devices.append(Device(id="2801", type="MOBILE"))
    users["bob"].voicemail = None
    return config


async def test_capabilities(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.get("/routing")).json() == {
        "presentationRoute": False,
        "forwardRoute": True,
        "overflowRoute": True,
        "dnd": True,
    }


async def test_dnd_on_and_off_with_events(session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["routingManagement"])

    assert (await alice.post("/routing/dnd")).status_code == 204
    assert (await alice.get("/routing/dnd")).json() == {"activate": True}
    assert (await alice.delete("/routing/dnd")).status_code == 204
    assert (await alice.get("/routing/dnd")).json() == {"activate": False}

    first, second = (await reader.wait_for("OnRoutingStateChanged", count=2), reader.events[0])
    assert second["routingState"]["dndState"] == {"activate": True}
    assert first["routingState"]["dndState"] == {"activate": False}
    assert first["loginName"] == "alice"


async def test_immediate_forward_to_voicemail_is_what_calls_follow(sim, session_of, subscribe):
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["routingManagement"])

    assert (await alice.get("/routing/forwardroute")).status_code == 204  # none yet
    assert (await alice.post("/routing/forwardroute", json=VOICEMAIL_FORWARD)).status_code == 204
    assert (await alice.get("/routing/forwardroute")).json() == {
        "destinations": [{"type": "VOICEMAIL"}]
    }
    event = await reader.wait_for("OnRoutingStateChanged")
    assert event["routingState"]["forwardRoutes"] == [{"destinations": [{"type": "VOICEMAIL"}]}]
    assert sim.pbx.routing.divert("alice", "immediate") == {"type": "VOICEMAIL"}

    assert (await alice.delete("/routing/forwardroute")).status_code == 204
    assert (await alice.get("/routing/forwardroute")).status_code == 204
    assert sim.pbx.routing.divert("alice", "immediate") is None


async def test_conditional_forward_to_a_number(sim, session_of) -> None:
    alice = await session_of("alice")
    route = {"forwardType": "BUSY", "destinations": [{"type": "NUMBER", "number": "+33612345678"}]}
    assert (await alice.post("/routing/forwardroute", json={"forwardRoute": route})).is_success
    assert (await alice.get("/routing/forwardroute")).json() == route
    assert sim.pbx.routing.divert("alice", "immediate") is None
    assert sim.pbx.routing.divert("alice", "busy") == {"type": "NUMBER", "number": "+33612345678"}

    cancel = await alice.post("/routing/forwardroute", json={})  # no route: cancel
    assert cancel.status_code == 204
    assert (await alice.get("/routing/forwardroute")).status_code == 204


@pytest.mark.parametrize(
    ("destinations", "status", "error_type", "cause"),
    [
        ([{"type": "NUMBER", "number": "2001"}], 403, "UNAUTHORIZED", "UNAUTHORIZED_PHONE_NUMBER"),
        ([{"type": "NUMBER", "number": "3000"}], 403, "UNAUTHORIZED", "UNAUTHORIZED_PHONE_NUMBER"),
        (
            [{"type": "NUMBER", "number": "20!1"}],
            400,
            "BAD_PARAMETER_VALUE",
            "BAD_PHONE_NUMBER_FORMAT",
        ),
        ([{"type": "NUMBER"}], 400, "BAD_PARAMETER_VALUE", "NULL_OR_EMPTY_PARAMETER"),
        (
            [{"type": "NUMBER", "number": "2999"}],
            400,
            "UNKNOWN_PHONE_NUMBER",
            "INVALID_FORWARD_ROUTE",
        ),
        ([{"type": "OFFICE"}], 400, "BAD_PARAMETER_VALUE", "INVALID_FORWARD_ROUTE"),
        (
            [{"type": "VOICEMAIL"}, {"type": "NUMBER", "number": "2002"}],
            400,
            "BAD_PARAMETER_VALUE",
            "INVALID_FORWARD_ROUTE",
        ),
    ],
)
async def test_refused_forward_routes(session_of, destinations, status, error_type, cause) -> None:
    alice = await session_of("alice")
    body = {"forwardRoute": {"destinations": destinations}}
    assert_routing_error(
        await alice.post("/routing/forwardroute", json=body), status, error_type, cause
    )
    assert (await alice.get("/routing/forwardroute")).status_code == 204  # state untouched


async def test_forward_loop_is_refused(session_of) -> None:
    alice, bob = await session_of("alice"), await session_of("bob")
    to_alice = {"forwardRoute": {"destinations": [{"type": "NUMBER", "number": "2001"}]}}
    to_bob = {"forwardRoute": {"destinations": [{"type": "NUMBER", "number": "2002"}]}}
    assert (await bob.post("/routing/forwardroute", json=to_alice)).status_code == 204
    assert_routing_error(
        await alice.post("/routing/forwardroute", json=to_bob),
        400,
        "BAD_PARAMETER_VALUE",
        "INVALID_FORWARD_ROUTE",
    )


async def test_overflow_routes(sim, session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.get("/routing/overflowroute")).status_code == 204
    route = {"overflowType": "NO_ANSWER", "destinations": [{"type": "UNKNOWN", "number": "3000"}]}
    assert (await alice.post("/routing/overflowroute", json={"overflowRoutes": [route]})).is_success
    assert (await alice.get("/routing/overflowroute")).json() == {
        "overflowType": "NO_ANSWER",
        "destinations": [{"type": "VOICEMAIL"}],
    }
    assert sim.pbx.routing.divert("alice", "no_answer") == {"type": "VOICEMAIL"}
    assert sim.pbx.routing.divert("alice", "busy") is None

    state = (await alice.get("/routing/state")).json()
    assert state["overflowRoutes"] == [
        {"overflowType": "NO_ANSWER", "destinations": [{"type": "VOICEMAIL"}]}
    ]
    assert (await alice.delete("/routing/overflowroute")).status_code == 204
    assert (await alice.get("/routing/overflowroute")).status_code == 204


async def test_refused_overflow_routes(session_of) -> None:
    alice = await session_of("alice")
    voicemail = {"overflowType": "BUSY", "destinations": [{"type": "VOICEMAIL"}]}
    assert_routing_error(
        await alice.post("/routing/overflowroute", json={"overflowRoutes": [voicemail] * 2}),
        400,
        "BAD_PARAMETER_VALUE",
        "INVALID_OVERFLOW_ROUTE",
    )
    mobile = {"overflowType": "BUSY", "destinations": [{"type": "MOBILE"}]}
    assert_routing_error(
        await alice.post("/routing/overflowroute", json={"overflowRoutes": [mobile]}),
        400,
        "BAD_PARAMETER_VALUE",
        "INVALID_OVERFLOW_ROUTE",
    )
    no_type = {"overflowRoutes": [{"destinations": [{"type": "VOICEMAIL"}]}]}
    assert_error(
        await alice.post("/routing/overflowroute", json=no_type),
        400,
        "BAD_PARAMETER",
        "overflowType",
    )


async def test_routing_state_and_snapshot_event(session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["OnRoutingStateChanged"])
    state = (await alice.get("/routing/state")).json()
    assert state == {
        "presentationRoutes": [
            {"destinations": [{"type": "OFFICE", "deviceId": "2001", "selected": True}]}
        ],
        "forwardRoutes": [],
        "overflowRoutes": [],
        "dndState": {"activate": False},
    }
    assert (await alice.post("/routing/state/snapshot")).status_code == 204
    event = await reader.wait_for("OnRoutingStateChanged")
    assert event == {
        "eventName": "OnRoutingStateChanged",
        "loginName": "alice",
        "routingState": state,
    }


async def test_set_routes_forward_in_one_event(session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["routingManagement"])
    busy = {"forwardType": "BUSY", "destinations": [{"type": "VOICEMAIL"}]}
    assert (await alice.post("/routing", json={"forwardRoutes": [busy]})).status_code == 204
    assert (await alice.get("/routing/forwardroute")).json() == busy
    await reader.wait_for("OnRoutingStateChanged")

    assert (await alice.post("/routing", json={"forwardRoutes": []})).status_code == 204
    assert (await alice.get("/routing/forwardroute")).status_code == 204
    assert_routing_error(
        await alice.post("/routing", json={"forwardRoutes": [busy, busy]}),
        400,
        "BAD_PARAMETER_VALUE",
        "INVALID_FORWARD_ROUTE",
    )
    mobile = {"presentationRoutes": [{"destinations": [{"type": "MOBILE", "selected": True}]}]}
    assert_routing_error(
        await alice.post("/routing", json=mobile), 400, "INVALID_OPERATION", "UNKNOWN"
    )


class TestWithRemoteExtension:
    """alice has a remote extension (MOBILE 2801); bob has no voicemail."""

    @pytest.fixture
    async def sim(self):
        async with Simulator(remote_extension_pbx(), timing=TIMING) as simulator:
            yield simulator

    async def test_remote_extension_through_the_presentation_route(self, session_of, subscribe):
        alice = await session_of("alice")
        reader = await subscribe(alice, names=["routingManagement"])
        assert (await alice.get("/routing")).json()["presentationRoute"] is True

        mobile = {"presentationRoutes": [{"destinations": [{"type": "MOBILE", "selected": True}]}]}
        assert (await alice.post("/routing", json=mobile)).status_code == 204
        destinations = [
            {"type": "OFFICE", "deviceId": "2001", "selected": True},
            {"type": "MOBILE", "deviceId": "2801", "selected": True},
        ]
        state = (await alice.get("/routing/state")).json()
        assert state["presentationRoutes"] == [{"destinations": destinations}]
        event = await reader.wait_for("OnRoutingStateChanged")
        assert event["routingState"]["presentationRoutes"] == [{"destinations": destinations}]
        active = await alice.get("/users/alice/devices/2801/REActiveState")
        assert active.json() == {"active": True}

        office_off = {
            "presentationRoutes": [{"destinations": [{"type": "OFFICE", "selected": False}]}]
        }
        assert_routing_error(
            await alice.post("/routing", json=office_off), 400, "BAD_PARAMETER_VALUE", "UNKNOWN"
        )

    async def test_voicemail_routes_need_a_voicemail(self, session_of) -> None:
        bob = await session_of("bob")
        assert_routing_error(
            await bob.post("/routing/forwardroute", json=VOICEMAIL_FORWARD),
            403,
            "UNAUTHORIZED",
            "UNAUTHORIZED_PHONE_NUMBER",
        )


async def test_administrator_acts_for_a_user(session_of) -> None:
    admin = await session_of("admin")
    assert (await admin.post("/routing/dnd", params={"loginName": "bob"})).status_code == 204
    assert (await admin.get("/routing/dnd", params={"loginName": "bob"})).json() == {
        "activate": True
    }
    assert_error(await admin.get("/routing/dnd"), 400, "BAD_PARAMETER", "loginName")
    assert_error(await admin.get("/routing/dnd", params={"loginName": "nobody"}), 404, "NOT_FOUND")


async def test_routing_needs_the_advanced_telephony_licence(session_of) -> None:
    basic = await session_of("basic")
    assert_error(await basic.get("/routing/state"), 403, "NOT_ALLOWED", "licenses")

"""Bad arguments fail before any request, naming the method and the parameter.

The client below points at a closed port: a request would raise O2GConnectionError,
so a TypeError or ValueError proves the check came first.
"""

from __future__ import annotations

import pytest

from o2g_flows.client import O2GClient, O2GConnectionError


@pytest.fixture
def o2g() -> O2GClient:
    return O2GClient("http://127.0.0.1:9", "alice", "1001")


async def test_valid_arguments_reach_the_network(o2g: O2GClient) -> None:
    with pytest.raises(O2GConnectionError):
        await o2g.telephony.answer("c1", "2001")


async def test_wrong_type(o2g: O2GClient) -> None:
    with pytest.raises(TypeError, match=r"telephony.answer: device_id must be a str, not int 2001"):
        await o2g.telephony.answer("c1", 2001)


async def test_missing_required_argument(o2g: O2GClient) -> None:
    with pytest.raises(TypeError, match="device_id"):
        await o2g.telephony.answer("c1")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"telephony.redirect: redirect_to is required, got None"):
        await o2g.telephony.redirect("c1", None)  # type: ignore[arg-type]


async def test_empty_path_parameter(o2g: O2GClient) -> None:
    with pytest.raises(ValueError, match=r"telephony.release: call_ref must not be empty"):
        await o2g.telephony.release("")


async def test_booleans_are_not_integers_and_back(o2g: O2GClient) -> None:
    with pytest.raises(TypeError, match=r"acd.withdraw: reason_index must be an int, not bool"):
        await o2g.acd.withdraw(reason_index=True)
    with pytest.raises(TypeError, match=r"acd.logon: headset must be a bool, not int 1"):
        await o2g.acd.logon("2301", headset=1)


async def test_enum_values_are_checked(o2g: O2GClient) -> None:
    with pytest.raises(ValueError, match=r"telephony.control_recording: action must be one of"):
        await o2g.telephony.control_recording("c1", "rewind")
    with pytest.raises(ValueError, match=r"acd.change_intrusion_mode: mode must be one of"):
        await o2g.acd.change_intrusion_mode("LOUD")
    with pytest.raises(TypeError, match=r"acd.change_intrusion_mode: mode must be a str, not list"):
        await o2g.acd.change_intrusion_mode(["LOUD"])  # type: ignore[arg-type]


async def test_objects_and_lists(o2g: O2GClient) -> None:
    with pytest.raises(TypeError, match=r"routing.set_forward_route: forward_route must be a dict"):
        await o2g.routing.set_forward_route("VOICEMAIL")
    with pytest.raises(
        TypeError, match=r"routing.set_overflow_routes: overflow_routes must be a list"
    ):
        await o2g.routing.set_overflow_routes({"overflowType": "BUSY"})
    with pytest.raises(TypeError, match=r"overflow_routes\[1\] must be a dict, not str"):
        await o2g.routing.set_overflow_routes([{"overflowType": "BUSY"}, "NO_ANSWER"])
    with pytest.raises(
        TypeError, match=r"comlog.acknowledge_records: record_ids\[0\] must be an int"
    ):
        await o2g.comlog.acknowledge_records(True, ["12"])


async def test_login_name_is_keyword_only(o2g: O2GClient) -> None:
    with pytest.raises(TypeError, match="positional"):
        await o2g.routing.activate_dnd("alice")  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"routing.activate_dnd: login_name must be a str"):
        await o2g.routing.activate_dnd(login_name=["alice"])  # type: ignore[arg-type]


async def test_subscribe_checks_names_ids_and_timeout(o2g: O2GClient) -> None:
    with pytest.raises(ValueError, match=r"'OnCallCreatd' is neither an event package"):
        await o2g.subscribe(["telephony", "OnCallCreatd"])
    with pytest.raises(TypeError, match="not a login name"):
        await o2g.subscribe(["telephony"], ids=["alice", 7])
    with pytest.raises(ValueError, match=r"0 or 2\.\.60 minutes"):
        await o2g.subscribe(["telephony"], timeout=1)
    with pytest.raises(TypeError, match=r"names .* is required"):
        await o2g.subscribe()


async def test_events_takes_a_subscription(o2g: O2GClient) -> None:
    with pytest.raises(TypeError, match="Subscription from subscribe"):
        o2g.events("alice-1234")  # type: ignore[arg-type]

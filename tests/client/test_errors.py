"""Error answers become O2GError subclasses carrying the RestErrorInfo; garbage is quoted."""

from __future__ import annotations

import pytest

from o2g_flows.client import (
    BadParameterError,
    NotAllowedError,
    NotFoundError,
    O2GError,
    O2GProtocolError,
    ServerProblemError,
)


async def test_error_carries_every_field_and_the_request(connect) -> None:
    o2g = await connect("alice")
    with pytest.raises(NotAllowedError) as caught:
        await o2g.users.get_user("bob")
    error = caught.value
    assert isinstance(error, O2GError)
    assert (error.status_code, error.http_status, error.code) == (403, "FORBIDDEN", 1002)
    assert error.type == "NOT_ALLOWED" and error.can_retry is False
    assert error.help_message and "bob" in error.inner_message
    assert error.method == "GET" and error.url.endswith("/api/rest/1.0/users/bob")
    assert error.info["innerMessage"] == error.inner_message
    assert str(error).startswith(f"GET {error.url} -> 403 NOT_ALLOWED (1002): ")


async def test_routing_details_are_kept(connect) -> None:
    o2g = await connect("alice")
    with pytest.raises(BadParameterError) as caught:
        await o2g.routing.set_forward_route({"destinations": [{"type": "NUMBER"}]})
    assert caught.value.routing["errorType"] == "BAD_PARAMETER_VALUE"
    assert "[routing: BAD_PARAMETER_VALUE" in str(caught.value)


async def test_unknown_resource(connect) -> None:
    o2g = await connect("admin")
    with pytest.raises(NotFoundError):
        await o2g.routing.get_state(login_name="nobody")


async def test_answer_that_is_not_json_is_quoted(connect, fake_gateway) -> None:
    fake_gateway.answers["GET", "/telephony/state"] = (200, b"<html>oops</html>", "text/html")
    o2g = await connect("alice", "x", url=fake_gateway.url)
    with pytest.raises(O2GProtocolError) as caught:
        await o2g.telephony.get_state()
    assert "is not JSON: '<html>oops</html>'" in str(caught.value)
    assert caught.value.text == "<html>oops</html>"


async def test_answer_of_the_wrong_shape_is_quoted(connect, fake_gateway) -> None:
    fake_gateway.answers["GET", "/routing/state"] = (
        200,
        b'["not", "an object"]',
        "application/json",
    )
    fake_gateway.answers["GET", "/eventSummary"] = (200, b"", "application/json")
    o2g = await connect("alice", "x", url=fake_gateway.url)
    with pytest.raises(
        O2GProtocolError, match=r"is not a JSON object: '\[\"not\", \"an object\"\]'"
    ):
        await o2g.routing.get_state()
    with pytest.raises(O2GProtocolError, match="with no body; expected a JSON object"):
        await o2g.eventsummary.get()


async def test_error_answer_without_rest_error_info(connect, fake_gateway) -> None:
    fake_gateway.answers["POST", "/routing/dnd"] = (502, b"Bad Gateway", "text/plain")
    o2g = await connect("alice", "x", url=fake_gateway.url)
    with pytest.raises(
        O2GProtocolError, match="answered 502 without a RestErrorInfo body: 'Bad Gateway'"
    ):
        await o2g.routing.activate_dnd()


async def test_error_type_from_code_and_unknown_types(connect, fake_gateway) -> None:
    fake_gateway.answers["DELETE", "/routing/dnd"] = (500, b'{"code": 1007}', "application/json")
    fake_gateway.answers["GET", "/routing/dnd"] = (418, b'{"type": "TEAPOT"}', "application/json")
    o2g = await connect("alice", "x", url=fake_gateway.url)
    with pytest.raises(ServerProblemError):
        await o2g.routing.cancel_dnd()
    with pytest.raises(O2GError) as caught:
        await o2g.routing.get_dnd_state()
    assert type(caught.value) is O2GError and caught.value.type == "TEAPOT"


async def test_plain_text_ids_are_accepted_as_strings(connect, fake_gateway) -> None:
    fake_gateway.answers["POST", "/telephony/calls"] = (201, b"a6aaea5b2100", "text/plain")
    o2g = await connect("alice", "x", url=fake_gateway.url)
    assert await o2g.telephony.make_call("2002", "2001") == "a6aaea5b2100"


async def test_user_preferences_detail_under_sdk_spellings(connect, fake_gateway) -> None:
    body = b'{"type": "BAD_PARAMETER", "userPreferencesErrorTypeDTO": "WRONG_VALUE"}'
    fake_gateway.answers["POST", "/users/alice/preferences"] = (400, body, "application/json")
    o2g = await connect("alice", "x", url=fake_gateway.url)
    with pytest.raises(BadParameterError) as caught:
        await o2g.users.set_preferences("alice", gui_language="xx")
    assert caught.value.user_preferences == {"errorType": "WRONG_VALUE"}

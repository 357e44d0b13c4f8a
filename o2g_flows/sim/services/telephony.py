"""Call control (``/telephony``): every endpoint of the catalogue's "Call control" service.

The handlers find the user and its party in the call, then ask ``pbx.calls`` (the call model,
``sim/pbx/calls.py``) to act. Endpoints without ``loginName`` name a device in the body or
path: its owner is the user (an administrator may act on any device; its licence is checked
here since the router had no user to check).
"""

from __future__ import annotations

from typing import Any

from ..api import ApiRequest, endpoint
from ..errors import RestError
from ..pbx.calls import CallModel
from ..pbx.calls_state import Party
from ..pbx.config import User

_BASIC = ("TELEPHONY_BASIC", "TELEPHONY_ADVANCED")
_ADVANCED = ("TELEPHONY_ADVANCED",)


def _calls(request: ApiRequest) -> CallModel:
    return request.pbx.calls


def _device_user(request: ApiRequest, device: str, licenses: tuple[str, ...] = _ADVANCED) -> User:
    """The owner of ``device``; it must be the request's user when there is one."""
    owner = _calls(request).device_owner(device)
    if owner is None:
        raise RestError.bad_value(f"Unknown device {device}", "INVALID_DEVICE")
    if request.login is not None and owner.login != request.login:
        raise RestError.not_allowed(f"Device {device} does not belong to {request.login}")
    if request.login is None and not request.pbx.has_license(owner, list(licenses)):
        raise RestError.not_allowed(f"{owner.login} holds none of the licenses {licenses}")
    return owner


def _owner_party(request: ApiRequest, device: str) -> Party:
    """The party of the device's owner in the path's call (an unknown call is told first)."""
    call_ref = request.path["callRef"]
    calls = _calls(request)
    calls.get(call_ref)
    return calls.party_of(call_ref, _device_user(request, device).login)


def _leg(request: ApiRequest, device: str) -> Party:
    """The party of the device's owner in the path's call, which must be on ``device`` (or
    ring there too: a remote extension)."""
    party = _owner_party(request, device)
    if device not in (party.number, party.also_ringing):
        raise RestError.incompatible_state(
            f"Call {request.path['callRef']} has no leg on {device}", cause="INVALID_DEVICE"
        )
    return party


def _party(request: ApiRequest, call_ref: str | None = None) -> Party:
    """The request user's party in the path's call (or in ``call_ref``)."""
    ref = call_ref if call_ref is not None else request.path["callRef"]
    return _calls(request).party_of(ref, request.user.login)


def _view(request: ApiRequest) -> dict[str, Any]:
    """The path's call as the request's user sees it."""
    party = _party(request)
    assert party.call is not None
    return _calls(request).views.call_json(party.call, request.user.login)


def _body_party(request: ApiRequest) -> Party:
    """For bodies with an optional deviceId: the device's leg, else the request user's party."""
    device = (request.body or {}).get("deviceId")
    if device is not None:
        return _leg(request, device)
    return _party(request)


# -- making and answering calls -----------------------------------------------------------------


@endpoint("POST /telephony/basicCall")
async def basic_call(request: ApiRequest) -> str:
    body = request.body
    user = _device_user(request, body["deviceId"], _BASIC)
    return _calls(request).make_call(
        user, body["deviceId"], body["callee"], auto_answer=body.get("autoAnswer", False)
    )


@endpoint("POST /telephony/basicCall/answer")
async def basic_answer(request: ApiRequest) -> None:
    device = request.body["deviceId"]
    _device_user(request, device, _BASIC)
    _calls(request).answer_device(device)


@endpoint("POST /telephony/basicCall/dropme")
async def basic_drop_me(request: ApiRequest) -> None:
    _calls(request).drop_basic(request.user)


@endpoint("POST /telephony/calls")
async def make_call(request: ApiRequest) -> str:
    body = request.body
    user = request.user
    calls = _calls(request)
    device = body.get("deviceId") or calls.current_device(user)
    _device_user(request, device)
    if ("pin" in body) != ("secretCode" in body):
        raise RestError.bad_parameter("a private call needs both pin and secretCode")
    chosen = [key for key in ("associatedData", "pin", "businessCode") if key in body]
    if len(chosen) > 1:
        raise RestError.bad_parameter(f"{' and '.join(chosen)} cannot be used together")
    if (body.get("acdCall") or {}).get("callToSupervisor"):
        callee = _supervisor_of(request, user)  # the spec: callee is absent for this call
    elif "callee" in body:
        callee = body["callee"]
    else:
        raise RestError.bad_parameter("body: missing required field 'callee'")
    return calls.make_call(
        user,
        device,
        callee,
        auto_answer=body.get("autoAnswer", False),
        associated_data=body.get("associatedData"),
    )


def _supervisor_of(request: ApiRequest, agent: User) -> str:
    """The number of a supervisor of one of the agent's processing groups."""
    if agent.acd is None or agent.acd.type != "AGENT":
        raise RestError.incompatible_state(f"{agent.login} is not an ACD agent")
    for user in request.pbx.users.values():
        acd = user.acd
        if acd and acd.type == "SUPERVISOR" and set(acd.groups) & set(agent.acd.groups):
            return user.number
    raise RestError.incompatible_state(f"No supervisor for the groups of {agent.login}")


@endpoint("GET /telephony/calls")
async def list_calls(request: ApiRequest) -> dict[str, Any]:
    return {"calls": _calls(request).telephonic_state(request.user)["calls"]}


@endpoint("GET /telephony/calls/{callRef}")
async def get_call(request: ApiRequest) -> dict[str, Any]:
    return _view(request)


@endpoint("DELETE /telephony/calls/{callRef}")
async def release(request: ApiRequest) -> None:
    _calls(request).release(_party(request))


@endpoint("POST /telephony/calls/{callRef}/answer")
async def answer(request: ApiRequest) -> None:
    device = request.body["deviceId"]
    _calls(request).answer(_leg(request, device), device)


@endpoint("POST /telephony/calls/{callRef}/dropme")
async def drop_me(request: ApiRequest) -> None:
    _calls(request).drop_me(_party(request))


# -- hold, retrieve, alternate, reconnect -------------------------------------------------------


@endpoint("POST /telephony/calls/{callRef}/hold")
async def hold(request: ApiRequest) -> None:
    _calls(request).hold(_leg(request, request.body["deviceId"]))


@endpoint("POST /telephony/calls/{callRef}/retrieve")
async def retrieve(request: ApiRequest) -> None:
    _calls(request).retrieve(_leg(request, request.body["deviceId"]))


@endpoint("POST /telephony/calls/{callRef}/alternate")
async def alternate(request: ApiRequest) -> None:
    _calls(request).alternate(_leg(request, request.body["deviceId"]))


@endpoint("POST /telephony/calls/{callRef}/reconnect")
async def reconnect(request: ApiRequest) -> None:
    held = _party(request)
    _device_user(request, request.body["deviceId"])
    _calls(request).reconnect(held, request.body["enquiryCallRef"])


# -- transfer, conference, participants ---------------------------------------------------------


@endpoint("POST /telephony/calls/{callRef}/transfer")
async def transfer(request: ApiRequest) -> None:
    active = _party(request)
    held = _party(request, request.body["heldCallRef"])
    _calls(request).transfer(active, held)


@endpoint("POST /telephony/calls/{callRef}/blindtransfer")
async def blind_transfer(request: ApiRequest) -> None:
    body = request.body
    _calls(request).blind_transfer(
        _party(request), body["transferTo"], body.get("anonymous", False)
    )


@endpoint("POST /telephony/calls/{callRef}/merge")
async def merge(request: ApiRequest) -> None:
    active = _party(request)
    held = _party(request, request.body["heldCallRef"])
    _calls(request).merge(active, held)


@endpoint("GET /telephony/calls/{callRef}/participants")
async def participants(request: ApiRequest) -> dict[str, Any]:
    return {"participants": _view(request)["participants"]}


@endpoint("GET /telephony/calls/{callRef}/participants/{participantId}")
async def participant(request: ApiRequest) -> dict[str, Any]:
    wanted = request.path["participantId"]
    for item in _view(request)["participants"]:
        if item["participantId"] == wanted:
            return item
    raise RestError.not_found(f"Unknown participant {wanted} in call {request.path['callRef']}")


@endpoint("DELETE /telephony/calls/{callRef}/participants/{participantId}")
async def drop_participant(request: ApiRequest) -> None:
    _calls(request).drop_participant(_party(request), request.path["participantId"])


# -- legs and devices ---------------------------------------------------------------------------


@endpoint("GET /telephony/calls/{callRef}/deviceLegs")
async def device_legs(request: ApiRequest) -> dict[str, Any]:
    return {"legs": _view(request)["legs"]}


@endpoint("GET /telephony/calls/{callRef}/deviceLegs/{legId}")
async def device_leg(request: ApiRequest) -> dict[str, Any]:
    leg_id = request.path["legId"]
    for leg in _view(request)["legs"]:
        if leg["deviceId"] == leg_id:
            return leg
    raise RestError.not_found(f"Unknown leg {leg_id} in call {request.path['callRef']}")


@endpoint("POST /telephony/calls/{callRef}/deviceLegs/{legId}")
async def switch_device(request: ApiRequest) -> None:
    leg_id = request.path["legId"]
    party = _owner_party(request, leg_id)
    if party.number != leg_id:
        raise RestError.not_found(f"Unknown leg {leg_id} in call {request.path['callRef']}")
    _calls(request).switch_device(party, request.body["otherDeviceId"])


@endpoint("GET /telephony/devices")
async def device_states(request: ApiRequest) -> dict[str, Any]:
    return {"deviceStates": _calls(request).device_states(request.user)}


@endpoint("GET /telephony/devices/{deviceId}")
async def device_state(request: ApiRequest) -> dict[str, Any]:
    device = request.path["deviceId"]
    user = _device_user(request, device)
    for state in _calls(request).device_states(user):
        if state["deviceId"] == device:
            return state
    raise RestError.not_found(f"Unknown device {device}")


@endpoint("POST /telephony/devices/{deviceId}/pickup")
async def pickup(request: ApiRequest) -> None:
    device = request.path["deviceId"]
    body = request.body
    _calls(request).pickup(
        _device_user(request, device),
        device,
        body["otherPhoneNumber"],
        body.get("otherCallRef"),
        body.get("autoAnswer", False),
    )


@endpoint("POST /telephony/devices/{deviceId}/unpark")
async def unpark(request: ApiRequest) -> None:
    device = request.path["deviceId"]
    user = _device_user(request, device)
    unpark_from = (request.body or {}).get("unParkFrom")
    _calls(request).unpark(user, device, unpark_from)


# -- re-routing ---------------------------------------------------------------------------------


@endpoint("POST /telephony/calls/{callRef}/redirect")
async def redirect(request: ApiRequest) -> None:
    body = request.body
    _calls(request).redirect(_party(request), body["redirectTo"], body.get("anonymous", False))


@endpoint("POST /telephony/calls/{callRef}/overflowToVoiceMail")
async def overflow_to_voicemail(request: ApiRequest) -> None:
    _calls(request).overflow_to_voicemail(_party(request))


@endpoint("POST /telephony/calls/{callRef}/park")
async def park(request: ApiRequest) -> None:
    _calls(request).park(_party(request), (request.body or {}).get("parkTo"))


# -- call data ----------------------------------------------------------------------------------


@endpoint("POST /telephony/calls/{callRef}/sendDtmf")
async def send_dtmf(request: ApiRequest) -> None:
    body = request.body
    _calls(request).send_dtmf(_leg(request, body["deviceId"]), body["number"])


@endpoint("POST /telephony/calls/{callRef}/attachdata")
async def attach_data(request: ApiRequest) -> None:
    data = (request.body or {}).get("associatedData")
    _calls(request).attach_data(_body_party(request), data)


@endpoint("POST /telephony/calls/{callRef}/sendaccountinfo")
async def send_account_info(request: ApiRequest) -> None:
    _calls(request).send_account_info(_body_party(request), request.body["accountInfo"])


@endpoint("POST /telephony/calls/{callRef}/recording")
async def recording(request: ApiRequest) -> None:
    action = request.query.get("action")
    if action is None:
        raise RestError.bad_parameter("the query parameter action is mandatory")
    _calls(request).record(_party(request), action)


# -- callbacks ----------------------------------------------------------------------------------


@endpoint("POST /telephony/calls/{callRef}/callback")
async def callback(request: ApiRequest) -> None:
    _calls(request).callback(_party(request))


@endpoint("POST /telephony/outgoingCallbacks")
async def outgoing_callback(request: ApiRequest) -> None:
    _calls(request).request_callback(request.user, request.body["callee"])


@endpoint("GET /telephony/incomingCallbacks")
async def incoming_callbacks(request: ApiRequest) -> dict[str, Any]:
    return {"callbacks": request.pbx.messaging.inbox(request.user.login).callbacks}


@endpoint("DELETE /telephony/incomingCallbacks")
async def delete_callbacks(request: ApiRequest) -> None:
    request.pbx.messaging.delete_callbacks(request.user.login)


@endpoint("DELETE /telephony/incomingCallbacks/{callbackId}")
async def delete_callback(request: ApiRequest) -> None:
    wanted = request.path["callbackId"]
    if not request.pbx.messaging.delete_callbacks(request.user.login, {wanted}):
        raise RestError.not_found(f"Unknown callback {wanted}")


# -- mini-messages ------------------------------------------------------------------------------


@endpoint("GET /telephony/miniMessages")
async def read_mini_message(request: ApiRequest) -> dict[str, Any]:
    """The newest unread message, now read."""
    login = request.user.login
    message = request.pbx.messaging.read_mini_message(login)
    if message is None:
        raise RestError.bad_parameter(f"{login} has no new mini-message")
    return message


@endpoint("POST /telephony/miniMessages")
async def send_mini_message(request: ApiRequest) -> None:
    body = request.body
    user = request.user
    recipient = _calls(request).device_owner(body["recipient"])
    if recipient is None:
        raise RestError.bad_value(
            f"{body['recipient']} is not a user of the PBX", "INVALID_DESTINATION"
        )
    request.pbx.messaging.send_mini_message(user.number, recipient.login, body["message"])


# -- hunting groups -----------------------------------------------------------------------------


@endpoint("GET /telephony/huntingGroups")
async def hunting_groups(request: ApiRequest) -> dict[str, Any]:
    hunting = _calls(request).hunting
    result: dict[str, Any] = {"hgList": hunting.numbers()}
    current = hunting.current(request.user.login)
    if current is not None:
        result["currentHg"] = current
    return result


@endpoint("GET /telephony/huntingGroupLogOn")
async def hunting_status(request: ApiRequest) -> dict[str, Any]:
    return {"logon": _calls(request).hunting.is_logged_on(request.user.login)}


@endpoint("POST /telephony/huntingGroupLogOn")
async def hunting_logon(request: ApiRequest) -> None:
    _calls(request).hunting.set_logged_on(request.user.login, True)


@endpoint("DELETE /telephony/huntingGroupLogOn")
async def hunting_logoff(request: ApiRequest) -> None:
    _calls(request).hunting.set_logged_on(request.user.login, False)


@endpoint("POST /telephony/huntingGroupMember/{hgNumber}")
async def hunting_join(request: ApiRequest) -> None:
    _calls(request).hunting.join(request.user.login, request.path["hgNumber"])


@endpoint("DELETE /telephony/huntingGroupMember/{hgNumber}")
async def hunting_leave(request: ApiRequest) -> None:
    _calls(request).hunting.leave(request.user.login, request.path["hgNumber"])


# -- desk sharing, state ------------------------------------------------------------------------


@endpoint("POST /telephony/deskSharing")
async def desk_logon(request: ApiRequest) -> None:
    _calls(request).desk_logon(request.user, request.body["dssDeviceNumber"])


@endpoint("DELETE /telephony/deskSharing")
async def desk_logoff(request: ApiRequest) -> None:
    _calls(request).desk_logoff(request.user)


@endpoint("GET /telephony/state")
async def telephonic_state(request: ApiRequest) -> dict[str, Any]:
    return _calls(request).telephonic_state(request.user)


@endpoint("POST /telephony/state/snapshot")
async def state_snapshot(request: ApiRequest) -> None:
    """OnTelephonyState for the user, or for every user (administrator, no loginName)."""
    calls = _calls(request)
    if request.session.admin and request.login is None:
        for user in request.pbx.users.values():
            if request.pbx.has_license(user, list(_BASIC)):
                calls.publish_state(user)
        return
    calls.publish_state(request.user)

"""Control of calls from the outside world: people dialling, answering and hanging up by hand.

- ``POST /sim/calls {"from", "to"}`` → 201 ``{"callRef"}``: ``from`` is an external number or
  a device of the PBX (then it is that user dialling by hand).
- ``POST /sim/devices/{deviceId}/answer|hangup`` (optional ``{"callRef"}``) and
  ``POST /sim/devices/{deviceId}/dial {"to"}`` → 201 ``{"callRef"}``: a user at its set.
- ``POST /sim/externals/{number}/answer|hangup`` (optional ``{"callRef"}``): a party outside
  the PBX, which only answers when told to.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import RestError
from ..pbx.calls import CallModel
from ..server import GATEWAY
from . import read_json

routes = web.RouteTableDef()


def _calls(request: web.Request) -> CallModel:
    return request.app[GATEWAY].pbx.calls


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise RestError.bad_parameter(f"body.{key}: expected a non-empty string")
    return value


def _call_ref(body: dict[str, Any]) -> str | None:
    """The optional ``callRef`` of the body."""
    return None if body.get("callRef") is None else _text(body, "callRef")


def _dial(calls: CallModel, device: str, to: str) -> str:
    owner = calls.device_owner(device)
    if owner is None:
        raise RestError.not_found(f"Unknown device {device}")
    return calls.make_call(owner, device, to, auto_answer=True, by_hand=True)


@routes.post("/sim/calls")
async def place_call(request: web.Request) -> web.Response:
    """Someone dials ``to`` from ``from`` (an external number or a device of the PBX)."""
    body = await read_json(request)
    caller, callee = _text(body, "from"), _text(body, "to")
    calls = _calls(request)
    number = calls.dialled(caller)
    if calls.device_owner(number) is not None:
        call_ref = _dial(calls, number, callee)
    else:
        kind = request.app[GATEWAY].pbx.resolve(number).kind
        if kind != "external":
            raise RestError.bad_parameter(f"from: {number} ({kind}) cannot place a call")
        call_ref = calls.external_call(number, callee)
    return web.json_response({"callRef": call_ref}, status=201)


@routes.post("/sim/devices/{device}/dial")
async def dial(request: web.Request) -> web.Response:
    """The user of the device dials ``to`` (off-hook, so the callee rings at once)."""
    body = await read_json(request)
    call_ref = _dial(_calls(request), request.match_info["device"], _text(body, "to"))
    return web.json_response({"callRef": call_ref}, status=201)


@routes.post("/sim/devices/{device}/answer")
async def answer(request: web.Request) -> web.Response:
    """The user picks up the call ringing on the device."""
    body = await read_json(request)
    _calls(request).answer_device(request.match_info["device"], _call_ref(body))
    return web.Response(status=204)


@routes.post("/sim/devices/{device}/hangup")
async def hang_up(request: web.Request) -> web.Response:
    """The user hangs up (or rejects the ringing call)."""
    body = await read_json(request)
    _calls(request).hang_up_device(request.match_info["device"], _call_ref(body))
    return web.Response(status=204)


@routes.post("/sim/externals/{number}/answer")
async def external_answer(request: web.Request) -> web.Response:
    body = await read_json(request)
    _calls(request).external_answer(request.match_info["number"], _call_ref(body))
    return web.Response(status=204)


@routes.post("/sim/externals/{number}/hangup")
async def external_hang_up(request: web.Request) -> web.Response:
    body = await read_json(request)
    _calls(request).external_hang_up(request.match_info["number"], _call_ref(body))
    return web.Response(status=204)

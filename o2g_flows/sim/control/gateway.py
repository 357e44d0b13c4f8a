"""Control of the gateway itself: state dump, injected events, channel drops, readiness."""

from __future__ import annotations

from aiohttp import web

from ..errors import RestError
from ..server import GATEWAY
from . import read_json

routes = web.RouteTableDef()


@routes.get("/sim/state")
async def state(request: web.Request) -> web.Response:
    """The whole PBX state, sessions and subscriptions as JSON."""
    gateway = request.app[GATEWAY]
    dump = gateway.pbx.snapshot()
    dump["sessions"] = gateway.sessions.snapshot()
    dump["subscriptions"] = gateway.hub.snapshot()
    dump["lenient"] = dict(gateway.lenient)
    return web.json_response(dump)


@routes.post("/sim/events")
async def inject_event(request: web.Request) -> web.Response:
    """Publish an arbitrary event (a JSON object with eventName) to matching subscriptions."""
    event = await read_json(request)
    if not isinstance(event.get("eventName"), str):
        raise RestError.bad_parameter("an event needs a string eventName")
    request.app[GATEWAY].pbx.emit(event)
    return web.Response(status=204)


@routes.post("/sim/subscriptions/{subscription_id}/drop")
async def drop_channel(request: web.Request) -> web.Response:
    """Cut the subscription's open event channel, as a network failure would."""
    subscription = request.app[GATEWAY].hub.get(request.match_info["subscription_id"])
    if subscription is None:
        raise RestError.not_found("Unknown subscription")
    if not subscription.drop_channel():
        raise RestError.not_found("The subscription has no open channel")
    return web.Response(status=204)


@routes.put("/sim/ready")
async def set_ready(request: web.Request) -> web.Response:
    """``{"ready": false}`` makes the REST API answer 503 NOT_READY until set back."""
    body = await read_json(request)
    if not isinstance(body.get("ready"), bool):
        raise RestError.bad_parameter("ready must be a boolean")
    request.app[GATEWAY].ready = body["ready"]
    return web.Response(status=204)

"""Agents acting by hand on their set: logon, ready, pause, logoff (``/sim/agents/...``)."""

from __future__ import annotations

from aiohttp import web

from ..errors import RestError
from ..pbx.acd import Agent
from ..server import GATEWAY
from . import read_json

routes = web.RouteTableDef()


def _agent(request: web.Request) -> Agent:
    pbx = request.app[GATEWAY].pbx
    login = request.match_info["login"]
    pbx.user(login)  # NOT_FOUND for an unknown login
    return pbx.acd.agent(login)


def _state(agent: Agent) -> web.Response:
    return web.json_response({"loginName": agent.login, "state": agent.state_json()})


@routes.post("/sim/agents/{login}/logon")
async def logon(request: web.Request) -> web.Response:
    """``{"proacd"?, "pg"?}``: log on the agent's pro-ACD set (default) in a group."""
    agent = _agent(request)
    body = await read_json(request)
    for key in body:
        if key not in ("proacd", "pg"):
            raise RestError.bad_parameter(f"unknown field {key!r} (expected proacd, pg)")
    for key in ("proacd", "pg"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise RestError.bad_parameter(f"{key} must be a string")
    device = body.get("proacd") or agent.user.acd.proacd or agent.user.number
    request.app[GATEWAY].pbx.acd.logon(agent.login, device, body.get("pg"))
    return _state(agent)


@routes.post("/sim/agents/{login}/ready")
async def ready(request: web.Request) -> web.Response:
    agent = _agent(request)
    request.app[GATEWAY].pbx.acd.ready(agent.login)
    return _state(agent)


@routes.post("/sim/agents/{login}/pause")
async def pause(request: web.Request) -> web.Response:
    agent = _agent(request)
    request.app[GATEWAY].pbx.acd.pause(agent.login)
    return _state(agent)


@routes.post("/sim/agents/{login}/logoff")
async def logoff(request: web.Request) -> web.Response:
    agent = _agent(request)
    request.app[GATEWAY].pbx.acd.logoff(agent.login)
    return _state(agent)

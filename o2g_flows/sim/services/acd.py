"""Call Center Agent: logon/logoff, processing groups, agent states, help, intrusion."""

from __future__ import annotations

from typing import Any

from ..api import ApiRequest, endpoint
from ..pbx.acd import Acd


def _acd(request: ApiRequest) -> Acd:
    return request.pbx.acd


@endpoint("GET /acd/agent/config")
async def get_config(request: ApiRequest) -> dict[str, Any]:
    return _acd(request).config_json(request.user.login)


@endpoint("GET /acd/agent/state")
async def get_state(request: ApiRequest) -> dict[str, Any]:
    return _acd(request).agent(request.user.login).state_json()


@endpoint("POST /acd/agent/state/snapshot")
async def snapshot(request: ApiRequest) -> None:
    """OnAgentStateChanged for the user, or for every agent (administrator, no loginName)."""
    acd = _acd(request)
    if request.session.admin and request.login is None:
        for agent in acd.agents():
            acd.publish(agent)
        return
    acd.publish(acd.agent(request.user.login))


@endpoint("POST /acd/agent/logon")
async def logon(request: ApiRequest) -> None:
    body = request.body
    _acd(request).logon(
        request.user.login,
        body["proAcdDeviceNumber"],
        body.get("pgGroupNumber") or None,
        body.get("headset"),
    )


@endpoint("POST /acd/agent/logoff")
async def logoff(request: ApiRequest) -> None:
    _acd(request).logoff(request.user.login)


@endpoint("POST /acd/agent/enterPG")
async def enter_pg(request: ApiRequest) -> None:
    _acd(request).enter_pg(request.user.login, request.body["pgGroupNumber"])


@endpoint("POST /acd/agent/exitPG")
async def exit_pg(request: ApiRequest) -> None:
    _acd(request).exit_pg(request.user.login, request.body["pgGroupNumber"])


@endpoint("POST /acd/agent/ready")
async def ready(request: ApiRequest) -> None:
    _acd(request).ready(request.user.login)


@endpoint("POST /acd/agent/pause")
async def pause(request: ApiRequest) -> None:
    _acd(request).pause(request.user.login)


@endpoint("POST /acd/agent/wrapUp")
async def wrapup(request: ApiRequest) -> None:
    _acd(request).wrapup(request.user.login)


@endpoint("POST /acd/agent/withdraw")
async def withdraw(request: ApiRequest) -> None:
    _acd(request).withdraw(request.user.login, (request.body or {}).get("reasonIndex"))


@endpoint("GET /acd/agent/withdrawReasons")
async def withdraw_reasons(request: ApiRequest) -> dict[str, Any]:
    return _acd(request).withdraw_reasons(request.user.login, request.query.get("pgNumber"))


@endpoint("POST /acd/agent/supervisorHelp")
async def request_help(request: ApiRequest) -> None:
    _acd(request).request_help(request.user.login)


@endpoint("DELETE /acd/agent/supervisorHelp")
async def cancel_help(request: ApiRequest) -> None:
    """The agent cancels its request, or the supervisor rejects the one of agent ``other``."""
    _acd(request).cancel_help(request.user.login, request.query.get("other"))


@endpoint("POST /acd/agent/intrusion")
async def intrude(request: ApiRequest) -> None:
    body = request.body
    _acd(request).intrude(request.user.login, body["agentNumber"], body.get("mode", "NORMAL"))


@endpoint("PUT /acd/agent/intrusion")
async def change_intrusion(request: ApiRequest) -> None:
    _acd(request).change_intrusion(request.user.login, request.body["mode"])


@endpoint("POST /acd/agent/permanentListening")
async def permanent_listening(request: ApiRequest) -> None:
    _acd(request).listen(request.user.login, request.body["agentNumber"])

"""Every built-in action, run by a flow, against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from o2g_flows.client import O2GClient
from o2g_flows.engine import Engine, LiveGateway, load_text
from o2g_flows.engine.registry import Registry

VIP = "+33140000001"


class Actor:
    """Runs one action list through the engine, as a flow triggered by a ``Do`` event."""

    def __init__(self, o2g: O2GClient) -> None:
        self.registry = Registry.builtin()
        self.registry.event("Do")
        self.gateway = LiveGateway(o2g)

    async def run(self, actions: str, **event: Any) -> list[tuple[str, dict, bool, Any]]:
        body = actions.strip()
        if not body.startswith("- "):
            body = "\n".join(f"- {line}" for line in body.splitlines())
        text = "flow: act\non: Do\ndo:\n" + "".join(f"  {line}\n" for line in body.splitlines())
        loaded = load_text(text, "act.yaml", self.registry)
        assert loaded.ok, loaded.report()
        engine = Engine(loaded.flows, self.gateway, registry=self.registry)
        engine.dispatch({"eventName": "Do", **event})
        await engine.idle()
        (trace,) = engine.traces.query()
        return [entry[2:6] for entry in trace.actions()]


@pytest.fixture
async def act(o2g: O2GClient):
    actor = Actor(o2g)
    yield actor.run
    await actor.gateway.aclose()


async def calls_of(o2g: O2GClient, login: str) -> dict[str, Any]:
    found = await o2g.telephony.get_calls(login_name=login)
    return {call["callRef"]: call for call in found.get("calls") or []}


async def wait_for(predicate, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := await predicate()):
            await asyncio.sleep(0.02)
    return value


def ok(results) -> bool:
    return all(result[2] for result in results)


async def test_answer_hold_retrieve_dtmf_attach_data_hangup(act, call, o2g):
    ref = await call(VIP, "2001")
    assert ok(
        await act(
            "answer: {}",
            callRef=ref,
            loginName="alice",
            legs=[{"deviceId": "2001", "state": "RINGING_INCOMING"}],
        )
    )
    assert (await calls_of(o2g, "alice"))[ref]["legs"][0]["state"] == "ACTIVE"
    assert ok(await act("hold: {device: '2001'}", callRef=ref, loginName="alice"))
    assert (await calls_of(o2g, "alice"))[ref]["legs"][0]["state"] == "HELD"
    assert ok(await act("retrieve: {device: '2001'}", callRef=ref, loginName="alice"))
    assert (await calls_of(o2g, "alice"))[ref]["legs"][0]["state"] == "ACTIVE"
    results = await act(
        """\
send_dtmf: {device: "2001", digits: "1234"}
attach_data: {data: "ticket-42", device: "2001"}
hangup: {}""",
        callRef=ref,
        loginName="alice",
    )
    assert ok(results), results
    assert await calls_of(o2g, "alice") == {}


async def test_redirect_a_ringing_call_to_voicemail(act, call, o2g):
    ref = await call(VIP, "2001")
    assert ok(await act("redirect: {to: VOICEMAIL}", callRef=ref, loginName="alice"))
    assert ref not in await calls_of(o2g, "alice")


async def test_overflow_to_voicemail_from_the_caller_side(act, control, o2g):
    answer = await control.post("/sim/devices/2001/dial", json={"to": "2002"})
    ref = answer.json()["callRef"]
    await wait_for(lambda: calls_of(o2g, "bob"))
    assert ok(await act("overflow_to_voicemail: {}", callRef=ref, loginName="alice"))
    assert await wait_for(lambda: _none(calls_of(o2g, "bob")))


async def _none(awaitable) -> bool:
    return not await awaitable


async def test_make_call_and_blind_transfer(act, call, control, o2g):
    results = await act("make_call: {to: '2003', user: alice}", loginName="x")
    assert ok(results), results
    ringing = await wait_for(lambda: calls_of(o2g, "carol"))
    assert len(ringing) == 1
    ref = await call(VIP, "2002")
    await control.post("/sim/devices/2002/answer", json={"callRef": ref})
    assert ok(await act("blind_transfer: {to: '2004'}", callRef=ref, loginName="bob"))
    assert await wait_for(lambda: calls_of(o2g, "dave"))
    assert ref not in await calls_of(o2g, "bob")


async def test_transfer_the_active_call_to_the_held_one(act, call, control, o2g):
    held = await call(VIP, "2001")
    await control.post("/sim/devices/2001/answer", json={"callRef": held})
    assert ok(await act("hold: {device: '2001'}", callRef=held, loginName="alice"))
    active = (await control.post("/sim/devices/2001/dial", json={"to": "2002"})).json()["callRef"]
    await control.post("/sim/devices/2002/answer", json={})
    # quoted: a call reference may be all digits, which YAML reads as a number
    results = await act(f"transfer: {{held_call: '{held}'}}", callRef=active, loginName="alice")
    assert ok(results), results
    assert await wait_for(lambda: _none(calls_of(o2g, "alice")))


async def test_routing_actions(act, o2g):
    assert ok(await act("forward: {to: voicemail}", loginName="alice"))
    route = await o2g.routing.get_forward_route(login_name="alice")
    assert route["destinations"] == [{"type": "VOICEMAIL"}]
    assert "forwardType" not in route
    assert ok(await act("forward: {to: '2002', when: busy}", loginName="alice"))
    route = await o2g.routing.get_forward_route(login_name="alice")
    assert (route["forwardType"], route["destinations"][0]["number"]) == ("BUSY", "2002")
    assert ok(await act("cancel_forward", loginName="alice"))
    assert not await o2g.routing.get_forward_route(login_name="alice")

    assert ok(await act("overflow: {to: voicemail}", loginName="alice"))
    route = await o2g.routing.get_overflow_route(login_name="alice")
    assert route["overflowType"] == "NO_ANSWER"
    assert ok(await act("cancel_overflow", loginName="alice"))
    assert not await o2g.routing.get_overflow_route(login_name="alice")

    assert ok(await act("dnd", loginName="alice"))
    assert (await o2g.routing.get_dnd_state(login_name="alice"))["activate"] is True
    assert ok(await act("cancel_dnd", loginName="alice"))
    assert (await o2g.routing.get_dnd_state(login_name="alice"))["activate"] is False


async def test_agent_actions(act, o2g):
    async def state() -> dict:
        return await o2g.acd.get_state(login_name="agent1")

    assert ok(await act("agent_logon: {proacd: '2301', pg: '5100'}", loginName="agent1"))
    assert (await state())["mainState"] == "LOG_ON"
    for action, sub in [
        ("agent_ready", "READY"),
        ("agent_pause", "PAUSE"),
        ("agent_wrapup", "WRAPUP"),
        ("agent_ready", "READY"),
    ]:
        assert ok(await act(action, loginName="agent1")), action
        assert (await state())["subState"] == sub
    assert ok(await act("agent_withdraw: {reason: 1}", loginName="agent1"))
    assert (await state())["subState"] == "WITHDRAW"
    assert ok(await act("agent_logoff", loginName="agent1"))
    assert (await state())["mainState"] == "LOG_OFF"


async def test_mini_message(act, o2g):
    results = await act(
        "mini_message: {to: '2001', message: 'call me back', user: bob}", loginName="x"
    )
    assert ok(results), results
    message = await o2g.telephony.get_mini_message(login_name="alice")
    assert (message["sender"], message["message"]) == ("2002", "call me back")


async def test_call_reaches_any_client_method_and_keeps_the_result(act, call):
    ref = await call(VIP, "2001")
    results = await act(
        """\
- call: {method: telephony.get_calls, user: alice}
  as: calls
- log: "${length(vars.calls.calls)} call(s), first ${vars.calls.calls[0].callRef}"
""",
        loginName="x",
    )
    assert ok(results), results
    assert results[1][1]["message"] == f"1 call(s), first {ref}"


async def test_http_posts_a_webhook():
    received: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.path, await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        registry = Registry.builtin()
        registry.event("Do")
        loaded = load_text(
            f"""\
flow: hook
on: Do
do:
  - http: {{url: "http://127.0.0.1:{port}/hook", json: {{call: "${{event.callRef}}"}}}}
    as: answer
  - http: {{url: "http://127.0.0.1:{port}/missing"}}
    on_error: continue
  - log: "status ${{vars.answer.status}}"
""",
            "hook.yaml",
            registry,
        )
        gateway = LiveGateway(client=None)
        engine = Engine(loaded.flows, gateway, registry=registry)
        engine.dispatch({"eventName": "Do", "callRef": "c9"})
        await engine.idle()
        await gateway.aclose()
    finally:
        await runner.cleanup()
    assert received == [("/hook", {"call": "c9"})]
    (trace,) = engine.traces.query()
    results = [entry[2:6] for entry in trace.actions()]
    assert results[0][2:] == (True, {"status": 200, "body": {"ok": True}})
    assert results[1][2] is False and results[1][3]["status"] == 404
    assert results[2][1]["message"] == "status 200"


async def test_a_failed_o2g_action_is_traced_with_the_o2g_error(act):
    (result,) = await act("hangup: {call: nosuchcall, user: alice}", loginName="alice")
    name, _, passed, error = result
    assert (name, passed, error["type"], error["code"]) == ("hangup", False, "NOT_FOUND", 1003)
    assert error["error"] == "NotFoundError"

"""The built-in webhook event source: POST /hooks/NAME as OnWebhook, answers that say what
happened, a bearer token off loopback, and a port in use refused before the engine starts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from o2g_flows.cli import main
from o2g_flows.engine.webhook import WebhookServer

DND = """\
flow: calendar-dnd
key: event.user
on: OnWebhook
when: "event.hook == 'calendar'"
do:
  - dnd: {user: "${event.user}"}
"""


@pytest.fixture
async def hooks(offline) -> AsyncIterator[tuple[object, str]]:
    """An offline engine running DND, and the URL its webhook listens on."""
    run = offline(DND)
    server = WebhookServer("127.0.0.1", 0).bind()
    task = asyncio.create_task(server.run(run.engine.emit))
    await asyncio.sleep(0)
    yield run, server.url
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def post(url: str, body: object, **options: object) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        for _ in range(200):  # until the listener is up
            try:
                return await http.post(url, json=body, **options)
            except httpx.ConnectError:
                await asyncio.sleep(0.01)
    raise AssertionError("the webhook never answered")


async def test_a_hook_becomes_an_event_and_is_accepted(hooks):
    run, url = hooks
    answer = await post(url + "calendar", {"user": "alice"})
    assert answer.status_code == 202
    assert answer.json() == {"accepted": True, "hook": "calendar"}
    await run.engine.idle()
    assert run.actions == [("dnd", {"user": "alice"})]


async def test_waiting_gives_the_outcome(hooks):
    _, url = hooks
    answer = await post(url + "calendar?wait=5", {"user": "bob"})
    assert answer.status_code == 200
    assert answer.json() == {
        "hook": "calendar",
        "executions": [{"flow": "calendar-dnd", "key": "bob", "outcome": "ended", "errors": []}],
        "dropped": [],
    }
    answer = await post(url + "calendar?wait=5", {"room": 4})
    assert answer.json()["dropped"] == [
        {"flow": "calendar-dnd", "reason": "its key event.user is null for this event"}
    ]


async def test_a_failed_action_is_in_the_answer(offline):
    run = offline(DND, failures={"dnd": "NOT_FOUND: no such user"})
    server = WebhookServer("127.0.0.1", 0).bind()
    task = asyncio.create_task(server.run(run.engine.emit))
    try:
        answer = await post(server.url + "calendar?wait=5", {"user": "zed"})
        assert answer.status_code == 422
        ((execution,),) = [answer.json()["executions"]]
        assert execution["errors"][0]["action"] == "dnd"
        assert "no such user" in str(execution["errors"][0])
    finally:
        task.cancel()


async def test_bad_bodies_and_tokens_are_refused(offline):
    run = offline(DND)
    with pytest.raises(ValueError, match="needs a bearer token"):
        WebhookServer("0.0.0.0", 0)
    server = WebhookServer("127.0.0.1", 0, token="s3cret").bind()
    task = asyncio.create_task(server.run(run.engine.emit))
    try:
        assert (await post(server.url + "calendar", {"user": "a"})).status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        assert (await post(server.url + "calendar", [1], headers=headers)).status_code == 400
        assert (
            await post(server.url + "calendar", {"user": "a"}, headers=headers)
        ).status_code == 202
    finally:
        task.cancel()


def test_a_port_in_use_is_one_line_and_a_non_zero_exit(tmp_path: Path, capsys):
    (tmp_path / "dnd.yaml").write_text(DND)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"webhook: cannot listen on 127.0.0.1:{port}"):
            WebhookServer("127.0.0.1", port).bind()
        code = main(["run", str(tmp_path), "--no-traffic", "--webhook", f"127.0.0.1:{port}"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"webhook: cannot listen on 127.0.0.1:{port}: Address already in use" in err
    assert "Traceback" not in err

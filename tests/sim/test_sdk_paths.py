"""Requests as ALE's SDKs and Postman tutorial send them: service URLs and slashes."""

from __future__ import annotations

from typing import Any

import pytest

from o2g_flows.sim import Simulator

from .conftest import API

#: What an SDK appends to a service's base URL for one of its calls: (method, suffix, body).
SDK_CALLS: dict[str, tuple[str, str, Any]] = {
    "sessions": ("GET", "", None),
    "subscriptions": (
        "POST",
        "",
        {"filter": {"selectors": [{"names": ["telephony"]}]}, "version": "1.0", "timeout": 10},
    ),
    "users": ("GET", "/{login}", None),
    "telephony": ("GET", "/calls", None),
    "routing": ("GET", "/dnd", None),
    "eventsummary": ("GET", "", None),
    "comlog": ("GET", "", None),
    "directory": (
        "POST",
        "/search",
        {"filter": {"field": "lastName", "operation": "BEGIN_WITH", "operand": "m"}},
    ),
    "voicemail": ("GET", "", None),
    "phonesetprogramming": ("GET", "/{login}/devices", None),
    "acdagent": ("GET", "/config", None),
    "maintenance": ("GET", "/licenses?lic=TELEPHONY_ADVANCED", None),
    "pbxmanagement": ("GET", "/1/instances/Subscriber", None),
}


def sdk_base(info: dict[str, Any], service: dict[str, Any]) -> str:
    """The base URL of a service as the Node SDK computes it."""
    relative = service["relativeUrl"]
    if relative.startswith("/telephony"):
        relative = "/telephony"
    return info["privateBaseUrl"] + relative


@pytest.mark.parametrize("login", ["alice", "agent1", "admin"])
async def test_every_listed_service_answers_the_sdk_paths(session_of, login: str) -> None:
    client = await session_of(login)
    info = (await client.get("/sessions")).json()
    for service in info["services"]:
        name = service["serviceName"].lower()
        assert name in SDK_CALLS, f"{name} is listed but no SDK call is known for it"
        method, suffix, body = SDK_CALLS[name]
        user = "alice" if info["admin"] else login
        url = sdk_base(info, service) + suffix.format(login=user)
        params = None
        if info["admin"] and name not in ("sessions", "pbxmanagement", "maintenance"):
            params = {"loginName": "agent1" if name == "acdagent" else "alice"}
        if info["admin"] and name == "subscriptions":
            params = None
            body = {"filter": {"selectors": [{"names": ["telephony"], "ids": ["alice"]}]}}
            body |= {"version": "1.0"}
        answer = await client.request(method, url, json=body, params=params)
        assert answer.status_code < 300, (name, url, answer.text)


async def test_comlog_and_voicemail_resources_by_id(sim: Simulator, session_of) -> None:
    alice = await session_of("alice")
    info = (await alice.get("/sessions")).json()
    bases = {s["serviceName"]: sdk_base(info, s) for s in info["services"]}
    [box] = (await alice.get(bases["Voicemail"])).json()["mailboxes"]
    opened = await alice.post(f"{bases['Voicemail']}/{box['id']}", json={"password": "0000"})
    assert opened.status_code < 300, opened.text
    missing = await alice.get(f"{bases['Comlog']}/999999")
    assert missing.status_code == 404 and missing.json()["type"] == "NOT_FOUND"


async def test_no_user_management_service_outside_the_2x_api(session_of) -> None:
    admin = await session_of("admin")
    names = {s["serviceName"] for s in (await admin.get("/sessions")).json()["services"]}
    assert "UserManagement" not in names and "PbxManagement" in names


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{API}/pbxs/"),
        ("GET", f"{API}//sessions"),
        ("GET", f"{API}/sessions//"),
        ("GET", "/api/rest/"),
        ("GET", "//api/rest/authenticate/?version=1.0"),
    ],
)
async def test_trailing_and_doubled_slashes_route_like_the_plain_path(
    sim: Simulator, session_of, method: str, path: str
) -> None:
    admin = await session_of("admin")
    answer = await admin.request(method, sim.url + path, auth=("admin", "admin"))
    assert answer.status_code == 200, answer.text


async def test_subscription_with_a_trailing_slash(session_of) -> None:
    alice = await session_of("alice")
    body = {"filter": {"selectors": [{"names": ["telephony"]}]}, "version": "1.0"}
    answer = await alice.post("/subscriptions/", json=body)
    assert answer.status_code == 200 and answer.json()["status"] == "ACCEPTED"


async def test_a_normalised_path_keeps_its_query(sim: Simulator, session_of) -> None:
    admin = await session_of("admin")
    url = f"{sim.url}{API}//pbxs/1/instances/Subscriber/"
    answer = await admin.get(url, params={"filter": "Annu_Name==Mar*"})
    assert answer.json() == {"objectName": "Subscriber", "objectIds": ["2001"]}

"""Maintenance: system status of the gateway and its PBX node, licence availability."""

from __future__ import annotations

from datetime import datetime

import httpx

from o2g_flows.sim import Simulator

from .conftest import assert_error


async def test_system_status_describes_the_pbx_file_node(session_of) -> None:
    admin = await session_of("admin")
    status = (await admin.get("/system/status")).json()
    assert status["ha"] is False
    assert status["configurationType"] == "FULL_SERVICES"
    assert status["logicalAddress"] == {"fqdn": "127.0.0.1", "ip": "127.0.0.1"}
    datetime.fromisoformat(status["startDate"].replace("Z", "+00:00"))
    (node,) = status["pbxs"]
    assert node["name"] == "oxe1" and node["nodeId"] == 1 and node["version"] == "M5.4"
    assert node["connected"] and node["loaded"] and node["ctiLinkState"] == "CONNECTED_MAIN"
    assert node["monitoredUserNumber"] == 17
    licenses = {lic["name"]: lic for lic in status["license"]["lics"]}
    assert licenses["ROXE_API_TEL_ADVANCED"] == {
        "name": "ROXE_API_TEL_ADVANCED",
        "total": 100,
        "currentUsed": 16,  # every user but basic
    }
    assert licenses["ROXE_API_TEL_BASIC"]["currentUsed"] == 1
    assert licenses["ROXE_API_CONTACTCENTER_AGENT"]["total"] == 20


async def test_system_status_is_for_administrators(session_of) -> None:
    alice = await session_of("alice")
    assert_error(await alice.get("/system/status"), 403, "NOT_ALLOWED", "administrator")


async def test_licence_availability_without_a_session(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url + "/api/rest/1.0") as anonymous:
        for name in ("ROXE_API_TEL_BASIC", "MESSAGING"):
            answer = await anonymous.get("/system/licenses", params={"lic": name})
            assert answer.status_code == 204, answer.text
        assert_error(
            await anonymous.get("/system/licenses", params={"lic": "ROXE_HA"}), 404, "NOT_FOUND"
        )
        assert_error(await anonymous.get("/system/licenses"), 400, "BAD_PARAMETER", "lic")

"""PBX management: the node, its Subscriber objects (create, read, modify, delete), the model."""

from __future__ import annotations

import httpx
import pytest

NODE = "/pbxs/1"
SUBSCRIBERS = NODE + "/instances/Subscriber"


def assert_error(answer: httpx.Response, status: int, error_type: str, text: str = "") -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["type"] == error_type, body
    assert text in body["innerMessage"], body


def attributes(**values: str | list[str]) -> dict:
    """A PbxAttributes body: ``Directory_Name="Doe"`` -> ``{"name": ..., "value": ["Doe"]}``."""
    return {
        "attributes": [
            {"name": name, "value": value if isinstance(value, list) else [value]}
            for name, value in values.items()
        ]
    }


@pytest.fixture
async def admin(session_of) -> httpx.AsyncClient:
    return await session_of("admin")


async def test_the_node(admin) -> None:
    assert (await admin.get("/pbxs")).json() == {"nodeIds": ["1"]}
    assert (await admin.get(NODE)).json() == {"nodeId": 1, "fqdn": "oxe1"}
    assert_error(await admin.get("/pbxs/9"), 404, "NOT_FOUND")
    root = (await admin.get(NODE + "/instances")).json()
    assert root["objectName"] == "Node" and root["objectNames"] == ["Subscriber"]


async def test_pbx_management_is_for_administrators(session_of) -> None:
    alice = await session_of("alice")
    assert_error(await alice.get("/pbxs"), 403, "NOT_ALLOWED")
    assert_error(await alice.get(SUBSCRIBERS), 403, "NOT_ALLOWED")


async def test_object_model(admin) -> None:
    node = (await admin.get(NODE + "/model")).json()
    assert [model["objectName"] for model in node["objects"]] == ["Subscriber"]
    model = (await admin.get(NODE + "/model/Subscriber")).json()
    assert [a["name"] for a in model["attributes"]] == [
        "Directory_Number",
        "Directory_First_Name",
        "Directory_Name",
        "Station_Type",
    ]
    assert model["attributes"][0]["mandatory"] is True
    assert model["create"] and model["delete"] and model["set"] and model["get"]
    assert "FORCED_DELETE" in model["otherActions"]
    assert_error(await admin.get(NODE + "/model/Trunk"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("filter_", "ids"),
    [
        ("Directory_Name==Mar*", ["2001"]),
        ("Directory_Name==*nard", ["2002"]),
        ("Directory_Name==Martin or Directory_Name==Bernard", ["2001", "2002"]),
        ("Station_Type==UA_VIRTUAL and Directory_First_Name!=Bob", ["2001"]),
        ("Directory_Number=ge=2002", ["2002"]),
        ("Directory_Number=le=2001", ["2001"]),
        ("Station_Type==ANALOG", []),
    ],
)
async def test_instances_with_a_filter(admin, filter_, ids) -> None:
    answer = await admin.get(SUBSCRIBERS, params={"filter": filter_})
    assert answer.json() == {"objectName": "Subscriber", "objectIds": ids}


async def test_instances_with_attributes(admin) -> None:
    everyone = (await admin.get(SUBSCRIBERS, params={"attributes": "Directory_Name"})).json()
    assert everyone["objectIds"] == ["2001", "2002"]
    assert everyone["objects"][1] == {
        "objectId": "2002",
        "attributes": [{"name": "Directory_Name", "value": ["Bernard"]}],
    }
    assert_error(
        await admin.get(SUBSCRIBERS, params={"filter": "Directory_Name~Mar"}),
        400,
        "BAD_PARAMETER",
        "filter",
    )
    assert_error(await admin.get(NODE + "/instances/Trunk"), 404, "NOT_FOUND")


async def test_one_instance(admin) -> None:
    alice = (await admin.get(SUBSCRIBERS + "/2001")).json()
    assert alice["objectName"] == "Subscriber" and alice["objectId"] == "2001"
    assert alice["attributes"] == [
        {"name": "Directory_Number", "value": ["2001"]},
        {"name": "Directory_Name", "value": ["Martin"]},
        {"name": "Directory_First_Name", "value": ["Alice"]},
        {"name": "Station_Type", "value": ["UA_VIRTUAL"]},
    ]
    only = await admin.get(SUBSCRIBERS + "/2001", params={"attributes": "Station_Type"})
    assert only.json()["attributes"] == [{"name": "Station_Type", "value": ["UA_VIRTUAL"]}]
    assert_error(await admin.get(SUBSCRIBERS + "/2999"), 404, "NOT_FOUND")


async def test_create_modify_delete_with_events(admin, subscribe) -> None:
    reader = await subscribe(admin, names=["pbxManagement"])
    created = await admin.post(
        SUBSCRIBERS, json=attributes(Directory_Number="2050", Directory_Name="Doe")
    )
    assert created.status_code == 201 and created.content == b""
    assert (await admin.get(SUBSCRIBERS)).json()["objectIds"] == ["2001", "2002", "2050"]
    assert await reader.wait_for("OnPbxObjectInstanceCreated") == {
        "eventName": "OnPbxObjectInstanceCreated",
        "objectName": "Subscriber",
        "objectId": "2050",
        "nodeId": "1",
    }

    changed = await admin.put(SUBSCRIBERS + "/2050", json=attributes(Directory_Name="Roe"))
    assert changed.status_code == 204
    doe = (await admin.get(SUBSCRIBERS + "/2050", params={"attributes": "Directory_Name"})).json()
    assert doe["attributes"] == [{"name": "Directory_Name", "value": ["Roe"]}]
    modified = await reader.wait_for("OnPbxObjectInstanceModified")
    assert modified["objectId"] == "2050" and modified["nodeId"] == "1"

    assert (await admin.delete(SUBSCRIBERS + "/2050")).status_code == 204
    assert_error(await admin.get(SUBSCRIBERS + "/2050"), 404, "NOT_FOUND")
    assert (await reader.wait_for("OnPbxObjectInstanceDeleted"))["objectId"] == "2050"


async def test_refused_creations(admin) -> None:
    for body, status, error_type in (
        (attributes(Directory_Number="2001"), 409, "NOT_EXPECTED"),  # exists
        (attributes(Directory_Number="2003"), 409, "NOT_EXPECTED"),  # carol's number
        (attributes(Directory_Name="Nobody"), 400, "BAD_PARAMETER"),  # no id
        (attributes(Directory_Number="2051", Colour="blue"), 400, "BAD_PARAMETER"),
    ):
        assert_error(await admin.post(SUBSCRIBERS, json=body), status, error_type)
    assert (await admin.get(SUBSCRIBERS)).json()["objectIds"] == ["2001", "2002"]
    assert_error(
        await admin.post(NODE + "/instances/Trunk", json=attributes(Id="1")), 404, "NOT_FOUND"
    )


async def test_list_values_and_actions(admin) -> None:
    await admin.post(SUBSCRIBERS, json=attributes(Directory_Number="2050", Station_Type="SIP"))
    url = SUBSCRIBERS + "/2050"
    added = await admin.put(url, params={"action": "add"}, json=attributes(Station_Type="UA"))
    assert added.status_code == 204
    station = {"attributes": "Station_Type"}
    assert (await admin.get(url, params=station)).json()["attributes"][0]["value"] == ["SIP", "UA"]
    await admin.put(url, params={"action": "remove"}, json=attributes(Station_Type="SIP"))
    assert (await admin.get(url, params=station)).json()["attributes"][0]["value"] == ["UA"]

    assert (await admin.put(url, params={"action": "ReinitMemory"})).status_code == 204
    assert_error(await admin.put(url, params={"action": "Explode"}), 405, "NOT_SUPPORTED")
    assert_error(await admin.put(url, json={}), 400, "BAD_PARAMETER", "no attribute")
    assert_error(
        await admin.put(url, json=attributes(Directory_Number="2051")), 400, "BAD_PARAMETER"
    )
    assert (await admin.delete(url, params={"force": ""})).status_code == 204


async def test_concurrent_modification_is_a_conflict(session_of) -> None:
    first, second = await session_of("admin"), await session_of("admin")
    url = SUBSCRIBERS + "/2002"
    await first.get(url)
    assert (await second.put(url, json=attributes(Station_Type="SIP"))).status_code == 204
    assert_error(await first.put(url, json=attributes(Station_Type="UA")), 409, "NOT_EXPECTED")
    await first.get(url)  # now up to date
    assert (await first.put(url, json=attributes(Station_Type="UA"))).status_code == 204


async def test_renaming_a_users_subscriber_changes_the_user(admin, subscribe) -> None:
    reader = await subscribe(admin, names=["user"], ids=["alice"])
    renamed = await admin.put(SUBSCRIBERS + "/2001", json=attributes(Directory_Name="Dupont"))
    assert renamed.status_code == 204
    assert (await admin.get("/users/alice")).json()["lastName"] == "Dupont"
    event = await reader.wait_for("OnUserInfoChanged")
    assert event["loginName"] == "alice"
    assert event["user"]["lastName"] == "Dupont" and event["user"]["firstName"] == "Alice"


async def test_users_of_the_pbx_file_are_not_deleted(admin) -> None:
    for params in ({}, {"force": ""}):
        answer = await admin.delete(SUBSCRIBERS + "/2001", params=params)
        assert_error(answer, 403, "NOT_ALLOWED", "alice")
    assert (await admin.get(SUBSCRIBERS)).json()["objectIds"] == ["2001", "2002"]

"""PBX management: the node, its Subscriber objects (create, read, modify, delete), the model."""

from __future__ import annotations

import httpx
import pytest

from o2g_flows.sim import Simulator, load_pbx_file

from .conftest import assert_error, login

NODE = "/pbxs/1"
SUBSCRIBERS = NODE + "/instances/Subscriber"
#: Every user of the default PBX is a Subscriber, in the file's order.
USERS = [user.number for user in load_pbx_file().users]
DEFAULTS = {
    "Annu_Name": "",
    "Annu_First_Name": "",
    "UTF8_Phone_Book_Name": "",
    "UTF8_Phone_Book_First_Name": "",
    "Station_Type": "UA_VIRTUAL",
}


def attributes(**values: str | list[str]) -> dict:
    """A PbxAttributes body: ``Annu_Name="Doe"`` -> ``{"name": ..., "value": ["Doe"]}``."""
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
        "Annu_First_Name",
        "Annu_Name",
        "Station_Type",
        "UTF8_Phone_Book_First_Name",
        "UTF8_Phone_Book_Name",
    ]
    assert model["attributes"][0]["mandatory"] is True
    assert model["create"] and model["delete"] and model["set"] and model["get"]
    assert "FORCED_DELETE" in model["otherActions"]
    assert_error(await admin.get(NODE + "/model/Trunk"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("filter_", "ids"),
    [
        ("Annu_Name==Mar*", ["2001"]),
        ("Annu_Name==*nard", ["2002"]),
        ("Annu_Name==Martin or Annu_Name==Bernard", ["2001", "2002"]),
        ("Station_Type==UA_VIRTUAL and Annu_First_Name==Bob", ["2002"]),
        ("Directory_Number=ge=2205", ["2205"]),
        ("Directory_Number=le=2000", ["2000"]),
        ("Station_Type==ANALOG", []),
    ],
)
async def test_instances_with_a_filter(admin, filter_, ids) -> None:
    answer = await admin.get(SUBSCRIBERS, params={"filter": filter_})
    assert answer.json() == {"objectName": "Subscriber", "objectIds": ids}


async def test_instances_with_attributes(admin) -> None:
    everyone = (await admin.get(SUBSCRIBERS, params={"attributes": "Annu_Name"})).json()
    assert everyone["objectIds"] == USERS
    assert everyone["objects"][2] == {
        "objectId": "2002",
        "attributes": [{"name": "Annu_Name", "value": ["Bernard"]}],
    }
    assert_error(
        await admin.get(SUBSCRIBERS, params={"filter": "Annu_Name~Mar"}),
        400,
        "BAD_PARAMETER",
        "filter",
    )
    assert_error(await admin.get(NODE + "/instances/Trunk"), 404, "NOT_FOUND")


async def test_every_user_is_a_subscriber_with_the_whole_attribute_list(admin) -> None:
    carol = (await admin.get(SUBSCRIBERS + "/2003")).json()  # the tutorial's free-number check
    assert carol["objectName"] == "Subscriber" and carol["objectId"] == "2003"
    assert carol["attributes"] == [
        {"name": "Directory_Number", "value": ["2003"]},
        *(
            {"name": name, "value": [value]}
            for name, value in {
                **DEFAULTS,
                "Annu_Name": "Dubois",
                "Annu_First_Name": "Carol",
            }.items()
        ),
    ]
    only = await admin.get(SUBSCRIBERS + "/2001", params={"attributes": "Station_Type"})
    assert only.json()["attributes"] == [{"name": "Station_Type", "value": ["UA_VIRTUAL"]}]
    assert_error(await admin.get(SUBSCRIBERS + "/2999"), 404, "NOT_FOUND")


async def test_a_created_subscriber_is_a_user_with_defaults(
    sim: Simulator, admin, subscribe
) -> None:
    reader = await subscribe(admin, names=["pbxManagement"])
    users = await subscribe(admin, names=["userManagement"])
    created = await admin.post(
        SUBSCRIBERS, json=attributes(Directory_Number="2050", Annu_Name="Doe", Annu_First_Name="Jo")
    )
    assert created.status_code == 201 and created.content == b""
    assert (await admin.get(SUBSCRIBERS)).json()["objectIds"] == [*USERS, "2050"]
    assert await reader.wait_for("OnPbxObjectInstanceCreated") == {
        "eventName": "OnPbxObjectInstanceCreated",
        "objectName": "Subscriber",
        "objectId": "2050",
        "nodeId": "1",
    }
    read = (await admin.get(SUBSCRIBERS + "/2050")).json()["attributes"]
    assert {a["name"]: a["value"] for a in read} == {
        "Directory_Number": ["2050"],
        **{name: [value] for name, value in DEFAULTS.items()},
        "Annu_Name": ["Doe"],
        "Annu_First_Name": ["Jo"],
    }
    user = (await users.wait_for("OnUserCreated"))["user"]
    assert (user["loginName"], user["companyPhone"], user["lastName"]) == ("2050", "2050", "Doe")
    assert (await admin.get("/users/2050")).json()["firstName"] == "Jo"
    jo = await login(sim, "2050", "2050")  # the number plan knows the new user: a call rings it
    try:
        alice = await login(sim, "alice", "1001")
        answer = await alice.post("/telephony/calls", json={"callee": "2050", "autoAnswer": True})
        assert answer.status_code == 201, answer.text
        [call] = (await jo.get("/telephony/calls")).json()["calls"]
        assert call["callRef"] == answer.json()
        await alice.aclose()
    finally:
        await jo.aclose()


async def test_modify_and_delete_with_events(admin, subscribe) -> None:
    reader = await subscribe(admin, names=["pbxManagement"])
    users = await subscribe(admin, names=["userManagement"])
    await admin.post(SUBSCRIBERS, json=attributes(Directory_Number="2050", Annu_Name="Doe"))
    changed = await admin.put(SUBSCRIBERS + "/2050", json=attributes(Annu_Name="Roe"))
    assert changed.status_code == 204
    doe = (await admin.get(SUBSCRIBERS + "/2050", params={"attributes": "Annu_Name"})).json()
    assert doe["attributes"] == [{"name": "Annu_Name", "value": ["Roe"]}]
    assert (await admin.get("/users/2050")).json()["lastName"] == "Roe"
    modified = await reader.wait_for("OnPbxObjectInstanceModified")
    assert modified["objectId"] == "2050" and modified["nodeId"] == "1"

    assert (await admin.delete(SUBSCRIBERS + "/2050")).status_code == 204
    assert_error(await admin.get(SUBSCRIBERS + "/2050"), 404, "NOT_FOUND")
    assert (await reader.wait_for("OnPbxObjectInstanceDeleted"))["objectId"] == "2050"
    assert await users.wait_for("OnUserDeleted") == {
        "eventName": "OnUserDeleted",
        "loginName": "2050",
    }
    assert_error(await admin.get("/users/2050"), 404, "NOT_FOUND")


async def test_deleting_a_users_subscriber_removes_the_user(admin) -> None:
    assert (await admin.delete(SUBSCRIBERS + "/2003")).status_code == 204
    assert_error(await admin.get("/users/carol"), 404, "NOT_FOUND")
    assert "2003" not in (await admin.get(SUBSCRIBERS)).json()["objectIds"]
    again = await admin.post(SUBSCRIBERS, json=attributes(Directory_Number="2003"))
    assert again.status_code == 201  # the number is free again


@pytest.mark.parametrize(("number", "why"), [("2002", "hunting group 2100"), ("2201", "ACD agent")])
async def test_users_in_a_group_or_the_acd_are_not_deleted(admin, number, why) -> None:
    assert_error(await admin.delete(SUBSCRIBERS + "/" + number), 403, "NOT_ALLOWED", why)
    assert number in (await admin.get(SUBSCRIBERS)).json()["objectIds"]


async def test_refused_creations(admin) -> None:
    for body, status, error_type in (
        (attributes(Directory_Number="2001"), 409, "NOT_EXPECTED"),  # exists
        (attributes(Directory_Number="3000"), 409, "NOT_EXPECTED"),  # the voicemail's number
        (attributes(Annu_Name="Nobody"), 400, "BAD_PARAMETER"),  # no id
        (attributes(Directory_Number="2051", Colour="blue"), 400, "BAD_PARAMETER"),
    ):
        assert_error(await admin.post(SUBSCRIBERS, json=body), status, error_type)
    assert (await admin.get(SUBSCRIBERS)).json()["objectIds"] == USERS
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
    renamed = await admin.put(SUBSCRIBERS + "/2001", json=attributes(Annu_Name="Dupont"))
    assert renamed.status_code == 204
    assert (await admin.get("/users/alice")).json()["lastName"] == "Dupont"
    event = await reader.wait_for("OnUserInfoChanged")
    assert event["loginName"] == "alice"
    assert event["user"]["lastName"] == "Dupont" and event["user"]["firstName"] == "Alice"

"""User information: logins, accounts, password change, preferences and languages."""

from __future__ import annotations

import httpx

from o2g_flows.sim import Simulator

from .conftest import assert_error


async def test_administrator_lists_logins_by_node_and_acd_role(session_of) -> None:
    admin = await session_of("admin")

    everyone = (await admin.get("/logins")).json()["loginNames"]
    assert {"alice", "reception", "agent1", "supervisor", "basic"} <= set(everyone)
    assert (await admin.get("/logins", params={"nodeIds": "1"})).json()["loginNames"] == everyone
    assert (await admin.get("/logins", params={"nodeIds": "7;8"})).json() == {"loginNames": []}
    acd = (await admin.get("/logins", params={"onlyACD": "true"})).json()["loginNames"]
    assert acd == ["agent1", "agent2", "agent3", "agent4", "supervisor"]
    assert_error(await admin.get("/logins", params={"nodeIds": "one"}), 400, "BAD_PARAMETER")


async def test_user_sees_only_own_login(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.get("/logins")).json() == {"loginNames": ["alice"]}
    assert_error(await alice.get("/logins", params={"onlyACD": "true"}), 403, "NOT_ALLOWED")


async def test_user_by_company_phone_shows_devices_to_owner_and_admin_only(session_of) -> None:
    alice, admin = await session_of("alice"), await session_of("admin")

    bob = (await alice.get("/users", params={"companyPhone": "2002"})).json()
    assert bob["loginName"] == "bob" and bob["lastName"] == "Bernard"
    assert "devices" not in bob
    seen_by_admin = (await admin.get("/users", params={"companyPhone": "2002"})).json()
    assert seen_by_admin["devices"] == [{"type": "DESKPHONE", "id": "2002"}]

    assert_error(await alice.get("/users", params={"companyPhone": "2999"}), 404, "NOT_FOUND")
    assert_error(await alice.get("/users"), 400, "BAD_PARAMETER", "companyPhone")


async def test_user_account(session_of) -> None:
    alice = await session_of("alice")
    me = (await alice.get("/users/alice")).json()
    assert me == {
        "companyPhone": "2001",
        "firstName": "Alice",
        "lastName": "Martin",
        "loginName": "alice",
        "nodeId": "1",
        "voicemail": {"number": "2001", "type": "VM_4635"},
        "devices": [{"type": "DESKPHONE", "id": "2001"}],
    }
    assert_error(await alice.get("/users/bob"), 403, "NOT_ALLOWED")
    admin = await session_of("admin")
    assert (await admin.get("/users/bob")).json()["companyPhone"] == "2002"
    assert_error(await admin.get("/users/nobody"), 404, "NOT_FOUND")


async def test_requests_without_a_session_are_refused(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url + "/api/rest/1.0") as anonymous:
        assert_error(await anonymous.get("/users/alice"), 403, "INVALID_SESSION")


async def test_password_change_applies_to_the_next_authentication(sim: Simulator, session_of):
    alice = await session_of("alice")
    wrong = await alice.put("/users/alice/password", json={"oldPassword": "x", "newPassword": "9"})
    assert_error(wrong, 403, "NOT_ALLOWED", "old password")
    empty = await alice.put(
        "/users/alice/password", json={"oldPassword": "1001", "newPassword": ""}
    )
    assert_error(empty, 400, "BAD_PARAMETER")
    assert_error(
        await alice.put("/users/alice/password", json={"oldPassword": "1001"}),
        400,
        "BAD_PARAMETER",
        "newPassword",
    )

    changed = await alice.put(
        "/users/alice/password", json={"oldPassword": "1001", "newPassword": "4242"}
    )
    assert changed.status_code == 204

    authenticate = sim.url + "/api/rest/authenticate?version=1.0"
    async with httpx.AsyncClient() as client:
        assert (await client.get(authenticate, auth=("alice", "1001"))).status_code == 401
        assert (await client.get(authenticate, auth=("alice", "4242"))).status_code == 200


async def test_preferences_change_with_event(session_of, subscribe) -> None:
    alice = await session_of("alice")
    reader = await subscribe(alice, names=["user"])
    preferences = "/users/alice/preferences"
    assert (await alice.get(preferences)).json() == {
        "guiLanguage": "en",
        "oxeLanguage": "Generic_English",
    }

    assert (await alice.post(preferences, json={"guiLanguage": "fr"})).status_code == 204
    assert (await alice.get(preferences)).json() == {"guiLanguage": "fr", "oxeLanguage": "French"}
    event = await reader.wait_for("OnPreferencesChanged")
    assert event == {
        "eventName": "OnPreferencesChanged",
        "loginName": "alice",
        "preferences": {"guiLanguage": "fr", "oxeLanguage": "French"},
    }

    assert (await alice.post(preferences, json={"oxeLanguage": "German_Swiss"})).status_code == 204
    assert (await alice.get(preferences)).json()["guiLanguage"] == "de-ch"


async def test_bad_preferences_carry_the_user_preferences_detail(session_of) -> None:
    alice = await session_of("alice")
    preferences = "/users/alice/preferences"
    for body in (
        {"guiLanguage": "klingon"},
        {"oxeLanguage": "Klingon"},
        {"guiLanguage": "fr", "oxeLanguage": "German"},
    ):
        error = assert_error(await alice.post(preferences, json=body), 400, "BAD_PARAMETER")
        assert error["userPreferences"] == {"errorType": "WRONG_VALUE", "parameter": "GUI_LANGUAGE"}
    assert_error(await alice.post(preferences, json={}), 400, "BAD_PARAMETER")
    assert_error(await alice.post(preferences, json={"theme": "dark"}), 400, "BAD_PARAMETER")
    assert (await alice.get(preferences)).json()["guiLanguage"] == "en"


async def test_supported_languages(session_of) -> None:
    alice = await session_of("alice")
    languages = (await alice.get("/users/alice/preferences/supportedLanguages")).json()
    assert {"en", "fr", "de", "zh-tw"} <= set(languages["supportedLanguages"])
    assert languages["supportedGuiLanguages"] == languages["supportedLanguages"]

"""The main operations of each service other than telephony, as a user would call them."""

from __future__ import annotations

import io
import wave

import pytest

from o2g_flows.client import BadParameterError, NotAllowedError
from o2g_flows.sim import Simulator

# -- users ---------------------------------------------------------------------------------------


async def test_users(connect) -> None:
    alice = await connect("alice")
    me = await alice.users.get_user("alice")
    assert (me["loginName"], me["firstName"], me["companyPhone"]) == ("alice", "Alice", "2001")
    assert (await alice.users.find_by_company_phone("2001"))["loginName"] == "alice"
    assert (await alice.users.get_logins())["loginNames"] == ["alice"]
    languages = await alice.users.get_supported_languages("alice")
    assert "en" in languages["supportedGuiLanguages"]
    await alice.users.set_preferences("alice", gui_language="fr")
    assert (await alice.users.get_preferences("alice"))["guiLanguage"] == "fr"


async def test_password_change(sim: Simulator, connect) -> None:
    alice = await connect("alice")
    await alice.users.change_password("alice", "1001", "secret-2")
    assert sim.pbx.users["alice"].password == "secret-2"
    assert (await connect("alice", "secret-2")).login == "alice"


async def test_administrator_lists_agents(connect) -> None:
    admin = await connect("admin")
    agents = (await admin.users.get_logins(only_acd=True))["loginNames"]
    assert {"agent1", "agent4", "supervisor"} <= set(agents) and "alice" not in agents


# -- routing -------------------------------------------------------------------------------------


async def test_forward_to_voicemail_and_back(connect, reader) -> None:
    alice = await connect("alice")
    events = reader(alice.events(await alice.subscribe(["routingManagement"])))
    assert await alice.routing.get_forward_route() is None
    await alice.routing.set_forward_route({"destinations": [{"type": "VOICEMAIL"}]})
    changed = await events.next("OnRoutingStateChanged")
    assert changed["routingState"]["forwardRoutes"][0]["destinations"][0]["type"] == "VOICEMAIL"
    assert (await alice.routing.get_forward_route())["destinations"][0]["type"] == "VOICEMAIL"
    await alice.routing.cancel_forward_route()
    assert await alice.routing.get_forward_route() is None


async def test_overflow_routes(connect) -> None:
    alice = await connect("alice")
    route = {"overflowType": "NO_ANSWER", "destinations": [{"type": "VOICEMAIL"}]}
    await alice.routing.set_overflow_routes([route])
    assert (await alice.routing.get_overflow_route())["overflowType"] == "NO_ANSWER"
    state = await alice.routing.get_state()
    assert state["overflowRoutes"][0]["overflowType"] == "NO_ANSWER"
    await alice.routing.cancel_overflow_routes()
    assert await alice.routing.get_overflow_route() is None


async def test_do_not_disturb_for_a_user_from_an_administrator(connect, reader) -> None:
    admin = await connect("admin")
    events = reader(admin.events(await admin.subscribe(["routingManagement"], ids=["bob"])))
    await admin.routing.activate_dnd(login_name="bob")
    assert await admin.routing.get_dnd_state(login_name="bob") == {"activate": True}
    assert (await events.next())["routingState"]["dndState"] == {"activate": True}
    await admin.routing.cancel_dnd(login_name="bob")
    await admin.routing.request_snapshot(login_name="bob")
    snapshot = await events.next()
    assert (snapshot["loginName"], snapshot["routingState"]["dndState"]) == (
        "bob",
        {"activate": False},
    )
    assert (await admin.routing.get_capabilities(login_name="bob"))["dnd"] is True


# -- event summary, maintenance ------------------------------------------------------------------


async def test_event_summary(sim: Simulator, connect) -> None:
    alice = await connect("alice")
    sim.pbx.messaging.deposit_voicemail("alice", sim.pbx.party("2002"), 2)
    counters = await alice.eventsummary.get()
    assert counters["voiceMessagesNb"] == 1


async def test_maintenance(connect) -> None:
    admin = await connect("admin")
    status = await admin.maintenance.get_system_status()
    assert status["pbxs"][0]["nodeId"] == 1
    assert await admin.maintenance.check_license("ROXE_API_TEL_ADVANCED") is None
    alice = await connect("alice")
    with pytest.raises(NotAllowedError, match="administrator"):
        await alice.maintenance.get_system_status()


# -- directory -----------------------------------------------------------------------------------


async def test_directory_search(connect) -> None:
    alice = await connect("alice")
    search = {"field": "lastName", "operation": "BEGIN_WITH", "operand": "ro"}
    await alice.directory.start_search(search)
    found = []
    while (page := await alice.directory.get_results())["resultCode"] != "FINISH":
        found += [c["lastName"] for e in page.get("resultElements", []) for c in e["contacts"]]
    assert found == ["Robert", "Roux"]
    await alice.directory.start_search_by_dtmf("7689", "ITU")  # R-O-U-X on a keypad
    await alice.directory.cancel_search()


# -- voicemail -----------------------------------------------------------------------------------


async def test_voicemail(sim: Simulator, connect) -> None:
    ids = [
        sim.pbx.messaging.deposit_voicemail("alice", sim.pbx.party(caller), 1)["voicemailId"]
        for caller in ("2002", "+33140000001")
    ]
    alice = await connect("alice")
    boxes = (await alice.messaging.get_mailboxes())["mailboxes"]
    box = boxes[0]["id"]
    info = await alice.messaging.connect_mailbox(box, "0000")
    assert info["newVoiceMsg"] == 2
    listed = (await alice.messaging.get_voicemails(box, new_only=True))["voicemails"]
    assert sorted(v["voicemailId"] for v in listed) == sorted(ids)
    audio = await alice.messaging.download_voicemail(box, ids[0])
    with wave.open(io.BytesIO(audio)) as wav:
        assert wav.getnframes() > 0
    await alice.messaging.delete_voicemail(box, ids[0])
    await alice.messaging.delete_voicemails(box, msg_ids=ids[1])
    assert (await alice.messaging.get_voicemails(box))["voicemails"] == []


# -- communication log ---------------------------------------------------------------------------


async def test_communication_log(sim: Simulator, connect) -> None:
    pbx = sim.pbx
    record = pbx.messaging.add_record(
        "alice",
        {
            "comRef": "ref-1",
            "participants": [
                {"role": "CALLEE", "answered": False, "identity": pbx.party("2001")},
                {"identity": pbx.party("+33140000001")},
            ],
            "beginDate": "2026-03-01T10:00:00.000Z",
            "endDate": "2026-03-01T10:00:00.000Z",
            "medias": ["AUDIO"],
        },
    )
    alice = await connect("alice")
    records = await alice.comlog.get_records(unanswered=True)
    assert [r["recordId"] for r in records["comHistoryRecords"]] == [record["recordId"]]
    assert (await alice.comlog.get_record_ids())["recordIds"] == [record["recordId"]]
    await alice.comlog.acknowledge_records(True, [record["recordId"]])
    assert (await alice.comlog.get_record(record["recordId"]))["acknowledged"] is True
    await alice.comlog.delete_record(record["recordId"])
    assert (await alice.comlog.get_records())["comHistoryRecords"] == []


# -- phone set programming -----------------------------------------------------------------------


async def test_phone_set_programming(connect) -> None:
    alice = await connect("alice")
    assert await alice.phoneset.get_devices("alice") == {
        "devices": [{"type": "DESKPHONE", "id": "2001"}]
    }
    await alice.phoneset.set_lock("alice", "2001", True)
    await alice.phoneset.set_associate("alice", "2001", "2002")
    state = await alice.phoneset.get_dynamic_state("alice", "2001")
    assert state["lock"] is True and state["associate"] == "2002"
    await alice.phoneset.set_programmable_key("alice", "2001", 3, number="2002", mnemonic="Bob")
    keys = (await alice.phoneset.get_programmable_keys("alice", "2001"))["pkeys"]
    assert {"position": 3, "number": "2002", "mnemonic": "Bob"}.items() <= next(
        k for k in keys if k["position"] == 3
    ).items()
    await alice.phoneset.delete_programmable_key("alice", "2001", 3)


# -- PBX management ------------------------------------------------------------------------------


async def test_pbx_objects(connect) -> None:
    admin = await connect("admin")
    assert await admin.pbx.get_pbxs() == {"nodeIds": ["1"]}
    model = await admin.pbx.get_object_model("1", "Subscriber")
    assert model["attributes"][0]["name"] == "Directory_Number"
    values = {"Directory_Number": "2999", "Annu_Name": "Doe", "Station_Type": "SIP_Extension"}
    attributes = [{"name": name, "value": [value]} for name, value in values.items()]
    await admin.pbx.create_object("1", "Subscriber", attributes)
    ids = await admin.pbx.get_object_ids("1", "Subscriber", filter="Directory_Number==2999")
    assert ids["objectIds"] == ["2999"]
    await admin.pbx.set_object(
        "1", "Subscriber", "2999", [{"name": "Annu_Name", "value": ["Dupont"]}]
    )
    got = await admin.pbx.get_object("1", "Subscriber", "2999", attributes="Annu_Name")
    assert got["attributes"] == [{"name": "Annu_Name", "value": ["Dupont"]}]
    await admin.pbx.delete_object("1", "Subscriber", "2999")


# -- call center agent ---------------------------------------------------------------------------


async def test_agent_day(connect, reader) -> None:
    agent = await connect("agent1")
    events = reader(agent.events(await agent.subscribe(["agent"])))
    assert (await agent.acd.get_config())["proacd"] == "2301"
    await agent.acd.logon("2301")
    assert (await events.next("OnAgentStateChanged"))["state"]["subState"] == "READY"
    await agent.acd.pause()
    assert (await agent.acd.get_state())["subState"] == "PAUSE"
    await agent.acd.ready()
    reasons = await agent.acd.get_withdraw_reasons("5100")
    await agent.acd.withdraw(reason_index=reasons["reasons"][0]["index"])
    assert (await agent.acd.get_state())["subState"] == "WITHDRAW"
    await agent.acd.ready()
    await agent.acd.wrap_up()
    await agent.acd.request_snapshot()
    while (await events.next("OnAgentStateChanged"))["state"].get("subState") != "WRAPUP":
        pass
    await agent.acd.logoff()
    assert (await agent.acd.get_state())["mainState"] == "LOG_OFF"


async def test_administrator_drives_an_agent(connect) -> None:
    admin = await connect("admin")
    await admin.acd.logon("2302", login_name="agent2")
    await admin.acd.pause(login_name="agent2")
    assert (await admin.acd.get_state(login_name="agent2"))["subState"] == "PAUSE"
    with pytest.raises(BadParameterError, match="loginName"):
        await admin.acd.ready()

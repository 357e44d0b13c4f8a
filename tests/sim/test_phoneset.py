"""Phone Set Programming: devices, lock/campon/associate, PIN, keys, remote extension, prefixes."""

from __future__ import annotations

import pytest

from o2g_flows.sim import PbxConfig, Simulator, load_pbx_file
from o2g_flows.sim.pbx.config import Device

from .conftest import assert_error

DEVICE = "/users/alice/devices/2001"


async def test_devices(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.get("/users/alice/devices")).json() == {
        "devices": [{"type": "DESKPHONE", "id": "2001"}]
    }
    assert (await alice.get(DEVICE)).json() == {"type": "DESKPHONE", "id": "2001"}
    assert_error(await alice.get("/users/alice/devices/2002"), 404, "NOT_FOUND")
    assert_error(await alice.get("/users/bob/devices"), 403, "NOT_ALLOWED")
    admin = await session_of("admin")
    assert (await admin.get("/users/bob/devices/2002")).json()["id"] == "2002"


async def test_lock_and_campon(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.get(DEVICE + "/dynamicState")).json() == {"lock": False, "campon": False}
    assert (await alice.put(DEVICE + "/lock", params={"activate": "true"})).status_code == 204
    assert (await alice.put(DEVICE + "/campon", params={"activate": "true"})).status_code == 204
    assert (await alice.get(DEVICE + "/dynamicState")).json() == {"lock": True, "campon": True}
    assert (await alice.put(DEVICE + "/lock", params={"activate": "false"})).status_code == 204
    assert (await alice.get(DEVICE + "/dynamicState")).json()["lock"] is False

    assert_error(await alice.put(DEVICE + "/lock"), 400, "BAD_PARAMETER", "activate")
    assert_error(
        await alice.put(DEVICE + "/campon", params={"activate": "yes"}), 400, "BAD_PARAMETER"
    )


async def test_associate(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.put(DEVICE + "/associate", json={"number": "2002"})).status_code == 204
    assert (await alice.get(DEVICE + "/dynamicState")).json()["associate"] == "2002"
    for number in ("+33612345678", "2001"):
        answer = await alice.put(DEVICE + "/associate", json={"number": number})
        assert_error(answer, 400, "BAD_PARAMETER", "internal number")
    assert (await alice.put(DEVICE + "/associate", json={})).status_code == 204  # cleared
    assert "associate" not in (await alice.get(DEVICE + "/dynamicState")).json()


async def test_pin(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.get(DEVICE + "/pin")).json() == {}
    pin = {
        "Pin_Number": "4321",
        "With_Secret_Code": True,
        "Pin_Type_Of_Control": "PIN_Restricted_To_Owner_Set",
        "Pin_Group": 2,
    }
    assert (await alice.put(DEVICE + "/pin", json=pin)).status_code == 204
    assert (await alice.put(DEVICE + "/pin", json={"Pin_Group": 3})).status_code == 204
    assert (await alice.put(DEVICE + "/pin", json={"Pin_Number": None})).status_code == 204
    assert (await alice.get(DEVICE + "/pin")).json() == {**pin, "Pin_Group": 3}

    for bad in ({"Pin_Number": "12"}, {"Pin_Type_Of_Control": "Nobody"}, {"Pin_Group": -1}):
        assert_error(await alice.put(DEVICE + "/pin", json=bad), 400, "BAD_PARAMETER")
    assert (await alice.get(DEVICE + "/pin")).json()["Pin_Number"] == "4321"


async def test_programmeable_keys(session_of) -> None:
    alice = await session_of("alice")
    keys = (await alice.get(DEVICE + "/programmeableKeys")).json()["pkeys"]
    assert keys == [{"position": n, "locked": False} for n in range(1, 11)]
    assert (await alice.get(DEVICE + "/programmedKeys")).json() == {"pkeys": []}

    key = {"position": 3, "number": "2002", "mnemonic": "Bob"}
    assert (await alice.put(DEVICE + "/programmeableKeys/3", json=key)).status_code == 204
    assert (await alice.get(DEVICE + "/programmedKeys")).json() == {
        "pkeys": [{**key, "locked": False}]
    }
    assert (await alice.get(DEVICE + "/programmeableKeys")).json()["pkeys"][2]["number"] == "2002"

    assert_error(
        await alice.put(DEVICE + "/programmeableKeys/4", json=key), 400, "BAD_PARAMETER", "position"
    )
    assert_error(await alice.put(DEVICE + "/programmeableKeys/11", json={}), 404, "NOT_FOUND")
    assert_error(await alice.delete(DEVICE + "/programmeableKeys/x"), 400, "BAD_PARAMETER")

    assert (await alice.delete(DEVICE + "/programmeableKeys/3")).status_code == 204
    assert (await alice.get(DEVICE + "/programmedKeys")).json() == {"pkeys": []}


async def test_keys_locked_by_the_administrator(session_of) -> None:
    admin, alice = await session_of("admin"), await session_of("alice")
    locked = {"number": "2000", "mnemonic": "Desk", "locked": True}
    assert (await admin.put(DEVICE + "/programmeableKeys/1", json=locked)).status_code == 204
    assert_error(
        await alice.put(DEVICE + "/programmeableKeys/1", json={"number": "2002"}),
        403,
        "NOT_ALLOWED",
        "locked",
    )
    assert_error(await alice.delete(DEVICE + "/programmeableKeys/1"), 403, "NOT_ALLOWED")
    assert_error(
        await alice.put(DEVICE + "/programmeableKeys/2", json={"locked": True}), 403, "NOT_ALLOWED"
    )
    assert (await admin.delete(DEVICE + "/programmeableKeys/1")).status_code == 204


async def test_soft_keys(session_of) -> None:
    alice = await session_of("alice")
    assert (await alice.get(DEVICE + "/softKeys")).json() == {"skeys": []}
    key = {"number": "3000", "mnemonic": "VM"}
    assert (await alice.put(DEVICE + "/softKeys/2", json=key)).status_code == 204
    assert (await alice.get(DEVICE + "/softKeys")).json() == {"skeys": [{"position": 2, **key}]}
    assert_error(await alice.put(DEVICE + "/softKeys/7", json=key), 404, "NOT_FOUND")
    assert (await alice.delete(DEVICE + "/softKeys/2")).status_code == 204
    assert (await alice.get(DEVICE + "/softKeys")).json() == {"skeys": []}


async def test_prefixes(session_of) -> None:
    alice = await session_of("alice")
    params = {"type": "General_Facility_Type", "value": "Group_call_pick_up"}
    assert (await alice.get("/users/alice/prefixes", params=params)).json() == {
        "value": "Group_call_pick_up",
        "number": "56",
    }
    unknown = {"type": "General_Facility_Type", "value": "group_call_pick_up"}
    assert_error(await alice.get("/users/alice/prefixes", params=unknown), 404, "NOT_FOUND")
    assert_error(
        await alice.get("/users/alice/prefixes", params={"type": "Local_Facility_Type"}),
        400,
        "BAD_PARAMETER",
    )


async def test_needs_the_phone_set_programming_licence(session_of) -> None:
    agent = await session_of("agent1")
    assert_error(await agent.get("/users/agent1/devices"), 403, "NOT_ALLOWED", "licenses")


def equipped_pbx() -> PbxConfig:
    """alice's desk phone has a 20-key add-on; she also has a remote extension (2801)."""
    config = load_pbx_file()
    alice = next(user for user in config.users if user.login == "alice")
    alice.devices[0].addons = ["ADDON_20_KEYS"]
    alice.devices.append(Device(id="2801", type="MOBILE"))
    return config


class TestEquippedSet:
    @pytest.fixture
    async def sim(self):
        async with Simulator(equipped_pbx(), timing={"keepalive_interval": 0.2}) as simulator:
            yield simulator

    async def test_addons_add_keys(self, session_of) -> None:
        alice = await session_of("alice")
        assert (await alice.get(DEVICE + "/addons")).json() == {"addonTypes": ["ADDON_20_KEYS"]}
        keys = (await alice.get(DEVICE + "/programmeableKeys")).json()["pkeys"]
        assert len(keys) == 30
        remote = "/users/alice/devices/2801/addons"
        assert (await alice.get(remote)).json() == {"addonTypes": ["NO_EXTENSIONS"]}

    async def test_remote_extension_activation(self, session_of, subscribe) -> None:
        alice = await session_of("alice")
        reader = await subscribe(alice, names=["routingManagement"])
        remote = "/users/alice/devices/2801"
        assert (await alice.get(remote + "/REActiveState")).json() == {"active": False}
        assert (await alice.put(remote + "/REActive", params={"activate": "true"})).is_success
        assert (await alice.get(remote + "/REActiveState")).json() == {"active": True}
        event = await reader.wait_for("OnRoutingStateChanged")
        mobile = event["routingState"]["presentationRoutes"][0]["destinations"][1]
        assert mobile == {"type": "MOBILE", "deviceId": "2801", "selected": True}

        assert_error(await alice.put(remote + "/REActive"), 400, "BAD_PARAMETER", "activate")
        desk = await alice.put(DEVICE + "/REActive", params={"activate": "true"})
        assert_error(desk, 400, "BAD_PARAMETER", "remote extension")
        assert_error(await alice.get(DEVICE + "/REActiveState"), 400, "BAD_PARAMETER")

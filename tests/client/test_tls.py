"""TLS: verification on by default, a CA bundle option, an explicit opt-out."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest

from o2g_flows.client import O2GClient, O2GConnectionError
from o2g_flows.sim import Simulator


@pytest.fixture
async def tls_sim() -> AsyncIterator[Simulator]:
    async with Simulator(tls=True, timing={"keepalive_interval": 0.2}) as simulator:
        yield simulator


async def test_the_simulator_certificate_as_ca_bundle(tls_sim: Simulator, connect, reader) -> None:
    assert tls_sim.url.startswith("https://")
    o2g = await connect("alice", "1001", url=tls_sim.url, verify=tls_sim.ca_file)
    assert (await o2g.users.get_user("alice"))["loginName"] == "alice"
    subscription = await o2g.subscribe(["telephony"])
    assert subscription.polling_url.startswith("https://")
    tls_sim.pbx.emit({"eventName": "OnUserStateModified", "loginName": "alice", "state": "BUSY"})
    assert (await reader(o2g.events(subscription)).next())["state"] == "BUSY"


async def test_an_ssl_context(tls_sim: Simulator, connect) -> None:
    context = ssl.create_default_context(cafile=str(tls_sim.ca_file))
    o2g = await connect("alice", "1001", url=tls_sim.url, verify=context)
    assert o2g.session["admin"] is False


async def test_unknown_certificate_is_refused_by_default(tls_sim: Simulator, connect) -> None:
    with pytest.raises(O2GConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        await connect("alice", "1001", url=tls_sim.url)


async def test_verification_can_be_turned_off(tls_sim: Simulator, connect) -> None:
    o2g = await connect("alice", "1001", url=tls_sim.url, verify=False)
    assert o2g.session["admin"] is False


def test_missing_ca_bundle_is_named(tmp_path) -> None:
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(ValueError, match="cannot load the CA bundle"):
        O2GClient("https://127.0.0.1:9", "alice", "1001", verify=missing)

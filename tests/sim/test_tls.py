"""HTTPS with a self-signed certificate made at start."""

from __future__ import annotations

import ssl

import httpx
import pytest

from o2g_flows.sim import Simulator


async def test_https_with_the_simulator_certificate() -> None:
    async with Simulator(tls=True) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        async with httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=sim.ca_file)
        ) as client:
            answer = await client.get(sim.url + "/api/rest")
            assert answer.status_code == 200
            assert answer.json()["versions"][0]["publicUrl"].startswith("https://")
        async with httpx.AsyncClient() as strict:  # system CAs do not know it
            with pytest.raises(httpx.ConnectError):
                await strict.get(sim.url + "/api/rest")

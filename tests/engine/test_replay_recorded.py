"""A log recorded by the client from the simulator replays with the timing it was recorded with."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from o2g_flows.client import O2GClient
from o2g_flows.engine import load_text, replay
from o2g_flows.sim import Simulator

FLOW = """\
flow: unanswered
users: [alice]
key: event.callRef
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  goto: ringing
states:
  ringing:
    after: {seconds: 0.2, goto: voicemail}
    on:
      OnCallRemoved: {goto: end}
  voicemail:
    enter:
      - redirect: {to: VOICEMAIL}
    goto: end
"""


async def test_recorded_ringing_time_drives_the_replayed_timer(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    async with Simulator() as sim, O2GClient(sim.url, "admin", "admin") as o2g:
        subscription = await o2g.subscribe(["telephony"], ids=["alice"])
        async with (
            o2g.events(subscription, record=log) as stream,
            httpx.AsyncClient(base_url=sim.url) as control,
        ):
            answer = await control.post("/sim/calls", json={"from": "+33140000099", "to": "2001"})
            answer.raise_for_status()
            async for event in stream:
                if event["eventName"] == "OnCallCreated":
                    await asyncio.sleep(0.5)  # alice lets it ring, then the caller gives up
                    await control.post("/sim/externals/+33140000099/hangup")
                if event["eventName"] == "OnCallRemoved":
                    break

    report = await replay(load_text(FLOW, "unanswered.yaml").flows, log, timezone="UTC")

    assert report.errors == []
    assert [(r.flow, r.action) for r in report.actions] == [("unanswered", "redirect")]

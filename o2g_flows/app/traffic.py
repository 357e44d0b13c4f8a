"""Demo traffic for the embedded simulator: calls and agent moves described in YAML.

Each step happens ``at`` seconds after the start, through the simulator's control API::

    - {at: 1, call: {from: "+33140000001", to: "2000"}, name: vip}   # POST /sim/calls
    - {at: 3, answer: {device: "2001"}}             # /sim/devices/2001/answer
    - {at: 5, hangup: {device: "2001", call: vip}}  # optional call: a name given above
    - {at: 5, hangup: {external: "+33140000001"}}   # /sim/externals/{number}/hangup
    - {at: 2, dial: {device: "2001", to: "2002"}}   # the user dials by hand
    - {at: 0, logon: {agent: agent1}}               # /sim/agents/agent1/logon (ready, pause,
                                                    #  logoff likewise)
    - {at: 9, event: {eventName: ..., ...}}         # POST /sim/events
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from .._yaml import Location, SourceError, load_yaml, location_of

__all__ = ["DEMO_TRAFFIC", "TrafficStep", "load_traffic", "play"]

log = logging.getLogger("o2g_flows.engine")

DEMO_TRAFFIC = "demo_traffic.yaml"
_KINDS = ("call", "answer", "hangup", "dial", "logon", "ready", "pause", "logoff", "event")


@dataclass(frozen=True, slots=True)
class TrafficStep:
    """One step of a traffic file: ``kind`` (call, answer...) and its ``args``, at ``at`` s."""

    at: float
    kind: str
    args: dict[str, Any]
    name: str | None
    location: Location


def load_traffic(path: str | Path | None = None) -> list[TrafficStep]:
    """Steps of a traffic file (the packaged demo when ``path`` is None), sorted by time."""
    if path is None:
        text = resources.files(__package__).joinpath(DEMO_TRAFFIC).read_text("utf-8")
        file = DEMO_TRAFFIC
    else:
        text, file = Path(path).read_text("utf-8"), str(path)
    data = load_yaml(text, file)
    if not isinstance(data, list):
        raise SourceError(Location(file, 1, 1), "a traffic file is a list of steps")
    steps = []
    for index, item in enumerate(data):
        where = location_of(data, file, index)
        if not isinstance(item, dict):
            raise SourceError(where, "a step is a mapping like {at: 1, call: {...}}")
        kinds = [key for key in item if key in _KINDS]
        unknown = [key for key in item if key not in (*_KINDS, "at", "name")]
        if len(kinds) != 1 or unknown:
            raise SourceError(where, f"a step has at:, name: and one of {', '.join(_KINDS)}")
        args = item[kinds[0]] or {}
        at = item.get("at", 0)
        if not isinstance(args, dict) or not isinstance(at, int | float):
            raise SourceError(where, "at: is a number of seconds and the step takes a mapping")
        steps.append(TrafficStep(float(at), kinds[0], dict(args), item.get("name"), where))
    return sorted(steps, key=lambda step: step.at)


async def play(steps: list[TrafficStep], sim_url: str) -> None:
    """Perform the steps on the simulator at ``sim_url``, in time."""
    calls: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
        for step in steps:
            await asyncio.sleep(max(0.0, started + step.at - loop.time()))
            try:
                await _perform(http, step, calls)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                log.warning("traffic %s (%s) failed: %s", step.kind, step.location, exc)


async def _perform(http: httpx.AsyncClient, step: TrafficStep, calls: dict[str, str]) -> None:
    args = dict(step.args)
    if isinstance(args.get("call"), str):
        args["call"] = calls.get(args["call"], args["call"])
    body: dict[str, Any] = {"callRef": args["call"]} if args.get("call") else {}
    kind = step.kind
    if kind == "call":
        log.info("traffic  %s calls %s", args["from"], args["to"])
        answer = await http.post(
            "/sim/calls", json={"from": str(args["from"]), "to": str(args["to"])}
        )
    elif kind in ("answer", "hangup"):
        who = (
            f"/sim/externals/{args['external']}"
            if "external" in args
            else f"/sim/devices/{args['device']}"
        )
        log.info(
            "traffic  %s %s",
            args.get("external") or args.get("device"),
            "answers" if kind == "answer" else "hangs up",
        )
        answer = await http.post(f"{who}/{kind}", json=body)
    elif kind == "dial":
        log.info("traffic  %s dials %s", args["device"], args["to"])
        answer = await http.post(
            f"/sim/devices/{args['device']}/dial", json={"to": str(args["to"])}
        )
    elif kind == "event":
        answer = await http.post("/sim/events", json=args)
    else:
        agent = args.pop("agent")
        log.info("traffic  agent %s %s", agent, kind)
        answer = await http.post(
            f"/sim/agents/{agent}/{kind}", json={k: str(v) for k, v in args.items()}
        )
    if answer.status_code >= 400:
        raise ValueError(f"{answer.status_code} {answer.text}")
    if step.name and answer.content:
        reference = answer.json().get("callRef")
        if reference:
            calls[step.name] = reference

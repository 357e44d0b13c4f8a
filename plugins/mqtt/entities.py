"""The Home Assistant entities the bridge exposes: their topics and discovery configs.

Every topic is under ``BASE`` (``base_topic``, default ``o2g``); discovery configs are
retained at ``PREFIX/COMPONENT/NODE/OBJECT/config`` (``PREFIX`` is ``discovery_prefix``,
``NODE`` the base topic made an identifier):

| entity | component | state topic | command topic |
|---|---|---|---|
| presence of a user | sensor | ``BASE/user/LOGIN/presence`` (idle, ringing, on_call) | |
| DND of a user | switch | ``BASE/user/LOGIN/dnd`` (ON, OFF) | ``BASE/user/LOGIN/dnd/set`` |
| forward of a user | sensor | ``BASE/user/LOGIN/forward`` (none, voicemail, a number) | |
| forward choice | select | ``BASE/user/LOGIN/forward`` | ``BASE/user/LOGIN/forward/set`` |
| ACD agent state | select | ``BASE/agent/LOGIN/state`` | ``BASE/agent/LOGIN/state/set`` |
| calls waiting at a pilot | sensor | ``BASE/pilot/NUMBER/waiting`` | |

Attributes (JSON) are at ``.../presence/attributes`` (``remote``: the other party's number,
``calls``) and ``.../forward/attributes`` (``type``, ``destination``).
``BASE/status`` is the availability topic (``online``; ``offline`` as the last will),
``BASE/error`` carries refused commands (JSON ``{"topic", "payload", "error"}``, not
retained).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGENT_COMMANDS",
    "AGENT_STATES",
    "Entity",
    "Topics",
    "discovery",
]

#: The agent states the select shows (the sub-state of a logged-on agent, or logged_off).
AGENT_STATES = ("ready", "busy", "pause", "withdraw", "wrap_up", "out_of_pg", "logged_off")
#: The states the hub may ask for, and the client method that asks the PBX.
AGENT_COMMANDS = {
    "ready": "ready",
    "pause": "pause",
    "withdraw": "withdraw",
    "wrap_up": "wrap_up",
    "logged_off": "logoff",
}
PRESENCE = ("idle", "ringing", "on_call")


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic layout under one base topic."""

    base: str
    prefix: str

    @property
    def node(self) -> str:
        """The discovery node id: the base topic as an identifier."""
        return _ident(self.base)

    @property
    def availability(self) -> str:
        """``online`` / ``offline`` (the last will)."""
        return f"{self.base}/status"

    @property
    def error(self) -> str:
        """Refused commands."""
        return f"{self.base}/error"

    def user(self, login: str, what: str) -> str:
        """``BASE/user/LOGIN/WHAT``."""
        return f"{self.base}/user/{login}/{what}"

    def agent(self, login: str) -> str:
        """``BASE/agent/LOGIN/state``."""
        return f"{self.base}/agent/{login}/state"

    def pilot(self, number: str) -> str:
        """``BASE/pilot/NUMBER/waiting``."""
        return f"{self.base}/pilot/{number}/waiting"

    def commands(self) -> list[str]:
        """The filters the bridge subscribes to for commands."""
        return [f"{self.base}/user/+/+/set", f"{self.base}/agent/+/state/set"]

    def config(self, component: str, object_id: str) -> str:
        """Where a discovery config is retained."""
        return f"{self.prefix}/{component}/{self.node}/{object_id}/config"


@dataclass(frozen=True, slots=True)
class Entity:
    """One discovery config: its topic and payload."""

    topic: str
    payload: dict[str, Any]


def discovery(
    topics: Topics,
    users: tuple[str, ...],
    agents: tuple[str, ...],
    pilots: tuple[str, ...],
    forward_numbers: tuple[str, ...],
) -> list[Entity]:
    """Every discovery config for the exposed users, agents and pilots."""
    node = topics.node
    entities: list[Entity] = []

    def add(component: str, object_id: str, device: dict[str, Any], **fields: Any) -> None:
        unique = f"{node}_{object_id}"
        payload = {
            "unique_id": unique,
            "object_id": unique,
            "availability_topic": topics.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": {"name": "o2g-flows"},
            **fields,
        }
        entities.append(Entity(topics.config(component, object_id), payload))

    for login in users:
        device = _device(node, f"user_{login}", f"{login} (OmniPCX)", "User")
        ident = _ident(login)
        add(
            "sensor",
            f"{ident}_presence",
            device,
            name="Telephony",
            state_topic=topics.user(login, "presence"),
            json_attributes_topic=topics.user(login, "presence/attributes"),
            device_class="enum",
            options=list(PRESENCE),
            icon="mdi:phone",
        )
        add(
            "switch",
            f"{ident}_dnd",
            device,
            name="Do not disturb",
            state_topic=topics.user(login, "dnd"),
            command_topic=topics.user(login, "dnd/set"),
            payload_on="ON",
            payload_off="OFF",
            icon="mdi:phone-off",
        )
        add(
            "sensor",
            f"{ident}_forward",
            device,
            name="Forward",
            state_topic=topics.user(login, "forward"),
            json_attributes_topic=topics.user(login, "forward/attributes"),
            icon="mdi:phone-forward",
        )
        add(
            "select",
            f"{ident}_forward_select",
            device,
            name="Forward to",
            state_topic=topics.user(login, "forward"),
            command_topic=topics.user(login, "forward/set"),
            options=["none", "voicemail", *forward_numbers],
            icon="mdi:phone-forward",
        )
    for login in agents:
        device = _device(node, f"user_{login}", f"{login} (OmniPCX)", "User")
        add(
            "select",
            f"{_ident(login)}_agent",
            device,
            name="Agent state",
            state_topic=topics.agent(login),
            command_topic=f"{topics.agent(login)}/set",
            options=list(AGENT_STATES),
            icon="mdi:headset",
        )
    for number in pilots:
        device = _device(node, f"pilot_{number}", f"Pilot {number} (OmniPCX)", "ACD pilot")
        add(
            "sensor",
            f"pilot_{_ident(number)}_waiting",
            device,
            name="Calls waiting",
            state_topic=topics.pilot(number),
            state_class="measurement",
            unit_of_measurement="calls",
            icon="mdi:phone-in-talk",
        )
    return entities


def _device(node: str, ident: str, name: str, model: str) -> dict[str, Any]:
    return {
        "identifiers": [f"{node}_{_ident(ident)}"],
        "name": name,
        "manufacturer": "Alcatel-Lucent Enterprise",
        "model": f"OmniPCX {model} (o2g-flows)",
    }


def _ident(text: str) -> str:
    """``text`` as a discovery id (letters, digits, ``_``, ``-``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)

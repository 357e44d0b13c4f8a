"""Communication log records written when a user's part in a call ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .calls_state import Call, Party
from .messaging import iso_now

__all__ = ["com_record"]


def com_record(
    call: Call, owner: Party, identity: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    """The ComHistoryRecord of ``owner`` (who just left ``call``), without its recordId.

    The owner carries ``role`` and ``answered`` (and ``reason`` when the call was re-routed
    away from it). The others are the parties that were in the call at the same time; a
    party the call was re-routed away from is left out when the call reached someone else,
    who then carries ``initialCalled`` (spec: "the record shows A and C, initialCalled=B").
    """
    overlapping = [p for p in call.history if p is not owner and _overlap(p, owner)]
    kept = [p for p in overlapping if not p.diverted and p.kind != "pilot"] or overlapping[:1]
    owner_entry: dict[str, Any] = {
        "role": owner.role,
        "answered": owner.answered,
        "identity": identity(owner.pid),
        "anonymous": False,
    }
    if owner.reason:
        owner_entry["reason"] = owner.reason
    participants = [owner_entry]
    seen = {owner.pid}
    for party in kept:
        if party.pid in seen:
            continue
        seen.add(party.pid)
        entry: dict[str, Any] = {
            "identity": identity(party.pid),
            "anonymous": call.anonymous and party.role == "CALLER",
        }
        if party.rerouted and party.pid != call.initial_called:
            entry["initialCalled"] = identity(call.initial_called)
        participants.append(entry)
    return {
        "comRef": call.ref,
        "participants": participants,
        "beginDate": owner.joined,
        "endDate": iso_now(),
        "medias": ["AUDIO"],
    }


def _overlap(party: Party, owner: Party) -> bool:
    owner_left = owner.left_seq if owner.left_seq is not None else 1 << 62
    return party.seq < owner_left and (party.left_seq is None or party.left_seq > owner.seq)

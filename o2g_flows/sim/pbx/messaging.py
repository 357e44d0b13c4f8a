"""Voicemail boxes, communication log, callback requests, mini-messages and event summaries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Pbx

__all__ = ["Inbox", "Messaging", "iso_now"]


def iso_now() -> str:
    """The current time in the spec's ``yyyy-MM-ddTHH:mm:ss.SSSZ`` form."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(eq=False)
class Inbox:
    """Everything waiting for one user."""

    voicemails: list[dict[str, Any]] = field(default_factory=list)  # Voicemail objects
    records: list[dict[str, Any]] = field(default_factory=list)  # ComHistoryRecord objects
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # Callback objects
    mini_messages: list[dict[str, Any]] = field(default_factory=list)  # MiniMessage, newest last
    read_mini_messages: int = 0


class Messaging:
    """Per-user inboxes; changes that move a counter emit OnEventSummaryUpdated."""

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self._inboxes = {login: Inbox() for login in pbx.users}
        self._ids = itertools.count(1)

    def inbox(self, login: str) -> Inbox:
        return self._inboxes[login]

    def next_id(self) -> int:
        """A fresh identifier for a record, voicemail or callback."""
        return next(self._ids)

    # -- voicemail ------------------------------------------------------------------------------

    def deposit_voicemail(
        self, login: str, caller: dict[str, Any], duration: int, *, high_priority: bool = False
    ) -> dict[str, Any]:
        """Leave a message in ``login``'s box from ``caller`` (a PartyInfo)."""
        message = {
            "voicemailId": str(self.next_id()),
            "from": caller,
            "duration": duration,
            "date": iso_now(),
            "unread": True,
            "highPriority": high_priority,
        }
        self._inboxes[login].voicemails.append(message)
        self.publish_summary(login)
        return message

    # -- communication log ----------------------------------------------------------------------

    def add_record(self, login: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a ComHistoryRecord (``recordId`` is assigned) and emit OnComRecordCreated."""
        record = {"recordId": self.next_id(), "acknowledged": False, **record}
        self._inboxes[login].records.append(record)
        self._pbx.emit({"eventName": "OnComRecordCreated", "loginName": login, "record": record})
        if _is_missed(record):
            self.publish_summary(login)
        return record

    # -- callbacks and mini-messages ------------------------------------------------------------

    def add_callback(self, login: str, caller: dict[str, Any]) -> dict[str, Any]:
        """Record a callback request left for ``login`` by ``caller`` (a PartyInfo)."""
        callback = {"callbackId": str(self.next_id()), "partyInfo": caller}
        self._inboxes[login].callbacks.append(callback)
        self.publish_summary(login)
        return callback

    def send_mini_message(self, sender: str, recipient: str, text: str) -> dict[str, Any]:
        """Deliver a mini-message from ``sender`` (a login or number) to ``recipient``."""
        message = {"sender": sender, "date": iso_now(), "message": text}
        self._inboxes[recipient].mini_messages.append(message)
        self.publish_summary(recipient)
        return message

    # -- event summary --------------------------------------------------------------------------

    def summary(self, login: str) -> dict[str, Any]:
        """The EventSummary counters of ``login``."""
        inbox = self._inboxes[login]
        unread = sum(1 for vm in inbox.voicemails if vm["unread"])
        new_texts = len(inbox.mini_messages) - inbox.read_mini_messages
        return {
            "missedCallsNb": sum(1 for record in inbox.records if _is_missed(record)),
            "voiceMessagesNb": unread,
            "callBackRequestsNb": len(inbox.callbacks),
            "faxNb": 0,
            "newTextNb": new_texts,
            "oldTextNb": inbox.read_mini_messages,
            "eventWaiting": unread > 0 or new_texts > 0,
        }

    def publish_summary(self, login: str) -> None:
        self._pbx.emit(
            {
                "eventName": "OnEventSummaryUpdated",
                "loginName": login,
                "eventSummary": self.summary(login),
            }
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            login: {
                "voicemails": inbox.voicemails,
                "records": inbox.records,
                "callbacks": inbox.callbacks,
                "miniMessages": inbox.mini_messages,
            }
            for login, inbox in self._inboxes.items()
            if _not_empty(inbox)
        }


def _is_missed(record: dict[str, Any]) -> bool:
    """An incoming record the owner did not answer and has not acknowledged."""
    if record.get("acknowledged"):
        return False
    owner = next((p for p in record.get("participants", []) if "role" in p), None)
    return owner is not None and owner["role"] == "CALLEE" and not owner.get("answered", False)


def _not_empty(inbox: Inbox) -> bool:
    return bool(inbox.voicemails or inbox.records or inbox.callbacks or inbox.mini_messages)

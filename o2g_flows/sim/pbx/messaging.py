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

    def add_user(self, login: str) -> None:
        """An empty inbox for a new user."""
        self._inboxes[login] = Inbox()

    def remove_user(self, login: str) -> None:
        """Forget a removed user's inbox."""
        del self._inboxes[login]

    def inbox(self, login: str) -> Inbox:
        """What waits for ``login`` (read it; change it through the methods below)."""
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

    def mark_voicemail_read(self, login: str, voicemail_id: str) -> None:
        """The message has been listened to: it is no longer unread."""
        for message in self._inboxes[login].voicemails:
            if message["voicemailId"] == voicemail_id and message["unread"]:
                message["unread"] = False
                self.publish_summary(login)

    def delete_voicemails(self, login: str, voicemail_ids: set[str] | None = None) -> list[str]:
        """Delete these messages (all when None); return the deleted ids.

        Emits OnEventSummaryUpdated when something was deleted.
        """
        inbox = self._inboxes[login]
        deleted, inbox.voicemails = _split(inbox.voicemails, "voicemailId", voicemail_ids)
        if deleted:
            self.publish_summary(login)
        return deleted

    # -- communication log ----------------------------------------------------------------------

    def add_record(self, login: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a ComHistoryRecord (``recordId`` is assigned) and emit OnComRecordCreated."""
        record = {"recordId": self.next_id(), "acknowledged": False, **record}
        self._inboxes[login].records.append(record)
        self._pbx.emit({"eventName": "OnComRecordCreated", "loginName": login, "record": record})
        if _is_missed(record):
            self.publish_summary(login)
        return record

    def acknowledge_records(
        self, login: str, record_ids: list[int], acknowledged: bool
    ) -> list[int]:
        """Set ``acknowledged`` on these records; return the ids whose state changed.

        Emits OnComRecordModified for each changed record, then OnComRecordsAck (or
        OnComRecordsUnAck) with their ids, then OnEventSummaryUpdated if a counter moved.
        """
        before = self.summary(login)
        wanted = set(record_ids)
        changed = []
        for record in self._inboxes[login].records:
            if record["recordId"] in wanted and record.get("acknowledged") != acknowledged:
                record["acknowledged"] = acknowledged
                changed.append(record["recordId"])
                self._pbx.emit(
                    {
                        "eventName": "OnComRecordModified",
                        "loginName": login,
                        "record": {
                            "recordId": record["recordId"],
                            "comRef": record["comRef"],
                            "acknowledged": acknowledged,
                        },
                    }
                )
        if changed:
            name = "OnComRecordsAck" if acknowledged else "OnComRecordsUnAck"
            self._pbx.emit({"eventName": name, "loginName": login, "recordIds": changed})
            self._publish_if_moved(login, before)
        return changed

    def delete_records(self, login: str, record_ids: set[int] | None = None) -> list[int]:
        """Delete these records (all when None); return the deleted ids.

        Emits OnComRecordsDeleted (without ``recordIds`` when every record went) and
        OnEventSummaryUpdated if a counter moved.
        """
        inbox = self._inboxes[login]
        before = self.summary(login)
        deleted, inbox.records = _split(inbox.records, "recordId", record_ids)
        if not deleted:
            return []
        event: dict[str, Any] = {"eventName": "OnComRecordsDeleted", "loginName": login}
        if record_ids is not None:
            event["recordIds"] = deleted
        self._pbx.emit(event)
        self._publish_if_moved(login, before)
        return deleted

    # -- callbacks and mini-messages ------------------------------------------------------------

    def add_callback(self, login: str, caller: dict[str, Any]) -> dict[str, Any]:
        """Record a callback request left for ``login`` by ``caller`` (a PartyInfo)."""
        callback = {"callbackId": str(self.next_id()), "partyInfo": caller}
        self._inboxes[login].callbacks.append(callback)
        self.publish_summary(login)
        return callback

    def delete_callbacks(self, login: str, callback_ids: set[str] | None = None) -> list[str]:
        """Delete these callback requests (all when None); return the deleted ids.

        Emits OnEventSummaryUpdated when something was deleted.
        """
        inbox = self._inboxes[login]
        deleted, inbox.callbacks = _split(inbox.callbacks, "callbackId", callback_ids)
        if deleted:
            self.publish_summary(login)
        return deleted

    def send_mini_message(self, sender: str, recipient: str, text: str) -> dict[str, Any]:
        """Deliver a mini-message from ``sender`` (a login or number) to ``recipient``."""
        message = {"sender": sender, "date": iso_now(), "message": text}
        self._inboxes[recipient].mini_messages.append(message)
        self.publish_summary(recipient)
        return message

    def read_mini_message(self, login: str) -> dict[str, Any] | None:
        """The newest unread mini-message, now read (None when there is none).

        Read messages are kept before the unread ones; OnEventSummaryUpdated is emitted.
        """
        inbox = self._inboxes[login]
        if len(inbox.mini_messages) <= inbox.read_mini_messages:
            return None
        message = inbox.mini_messages.pop()
        inbox.mini_messages.insert(inbox.read_mini_messages, message)
        inbox.read_mini_messages += 1
        self.publish_summary(login)
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

    def _publish_if_moved(self, login: str, before: dict[str, Any]) -> None:
        if self.summary(login) != before:
            self.publish_summary(login)

    def publish_summary(self, login: str) -> None:
        """Emit OnEventSummaryUpdated with the counters of ``login``."""
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


def _split(
    items: list[dict[str, Any]], key: str, ids: set[Any] | None
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The ids (``item[key]``) of the items named in ``ids`` (all when None), and the others."""
    deleted = [item[key] for item in items if ids is None or item[key] in ids]
    kept = [item for item in items if ids is not None and item[key] not in ids]
    return deleted, kept


def _not_empty(inbox: Inbox) -> bool:
    return bool(inbox.voicemails or inbox.records or inbox.callbacks or inbox.mini_messages)

"""Voicemail: the user's mailbox, connection, message list, deletion and WAV download."""

from __future__ import annotations

import io
import math
import re
import struct
import wave
from typing import Any
from weakref import WeakKeyDictionary

from aiohttp import web

from ..api import ApiRequest, endpoint
from ..errors import RestError
from ..pbx.config import User
from ..sessions import Session

#: Mailboxes each session has connected to (POST /messaging/mailboxes/{id}): (login, box).
_connected: WeakKeyDictionary[Session, set[tuple[str, str]]] = WeakKeyDictionary()

_RATE = 8000  # telephony audio: 8 kHz, 16-bit mono PCM
_TONE = 400  # Hz: a whole period is 20 samples at 8 kHz
_PERIOD = struct.pack(
    f"<{_RATE // _TONE}h",
    *(round(6000 * math.sin(2 * math.pi * i * _TONE / _RATE)) for i in range(_RATE // _TONE)),
)
_CAPABILITIES = {
    "listMessages": True,
    "getMessages": True,
    "getRecord": False,
    "play": False,
    "pause": False,
    "hangup": False,
    "record": False,
    "resume": False,
    "cancel": False,
    "forward": False,
    "callback": False,
    "send": False,
    "events": True,
}


@endpoint("GET /messaging/mailboxes")
async def mailboxes(request: ApiRequest) -> dict[str, Any]:
    user = request.user
    if not user.voicemail:
        return {"mailboxes": []}
    box = {"id": user.voicemail, "name": user.display_name, "capabilities": _CAPABILITIES}
    return {"mailboxes": [box]}


@endpoint("POST /messaging/mailboxes/{mailboxId}")
async def connect(request: ApiRequest) -> dict[str, Any]:
    """Open the mailbox with the given password, or with the login one (``withUserPwd``).

    The mailbox has its own password: ``withUserPwd`` only works where the PBX file
    makes it the user's password, as the OXE administrator would.
    """
    user = _mailbox_owner(request)
    if "withUserPwd" in request.query:
        given = user.password
    else:
        given = (request.body or {}).get("password")
        if given is None:
            raise RestError.bad_parameter("a ConnectRequest password (or withUserPwd) is required")
    if given != user.mailbox_password:
        raise RestError.not_allowed(f"Wrong password for mailbox {user.voicemail}")
    _connected.setdefault(request.session, set()).add((user.login, user.voicemail))
    voicemails = request.pbx.messaging.inbox(user.login).voicemails
    return {
        "totalVoiceMsg": len(voicemails),
        "newVoiceMsg": sum(1 for vm in voicemails if vm["unread"]),
        "storageUsage": -1,
    }


@endpoint("GET /messaging/mailboxes/{mailboxId}/voicemails")
async def list_voicemails(request: ApiRequest) -> dict[str, Any]:
    """Messages newest first; ``newOnly`` keeps the unread ones; ``limit`` -1 means all."""
    user = _connected_owner(request)
    offset, limit = request.query.get("offset", 0), request.query.get("limit", -1)
    if offset < 0 or limit < -1:
        raise RestError.bad_parameter("offset must be >= 0 and limit >= -1")
    messages = list(reversed(request.pbx.messaging.inbox(user.login).voicemails))
    if request.query.get("newOnly"):
        messages = [vm for vm in messages if vm["unread"]]
    page = messages[offset:] if limit == -1 else messages[offset : offset + limit]
    return {"voicemails": [_voicemail_json(vm) for vm in page]}


@endpoint("DELETE /messaging/mailboxes/{mailboxId}/voicemails")
async def delete_voicemails(request: ApiRequest) -> None:
    """Delete the ``msgIds`` messages (all without it); unknown ids are ignored."""
    user = _connected_owner(request)
    ids = request.query.get("msgIds")
    wanted = {item for item in re.split(r"[,;]", ids) if item.strip()} if ids else None
    request.pbx.messaging.delete_voicemails(user.login, wanted)


@endpoint("DELETE /messaging/mailboxes/{mailboxId}/voicemails/{voicemailId}")
async def delete_voicemail(request: ApiRequest) -> None:
    user = _connected_owner(request)
    message = _voicemail(request, user)
    request.pbx.messaging.delete_voicemails(user.login, {message["voicemailId"]})


@endpoint("GET /messaging/mailboxes/{mailboxId}/voicemails/{voicemailId}")
async def download(request: ApiRequest) -> web.Response:
    """The message as a WAV file (a byte range when asked); it is read from now on."""
    user = _connected_owner(request)
    message = _voicemail(request, user)
    audio = _wav(message["duration"])
    request.pbx.messaging.mark_voicemail_read(user.login, message["voicemailId"])
    headers = {
        "Content-Disposition": f'attachment; filename="{message["voicemailId"]}.wav"',
        "Accept-Ranges": "bytes",
    }
    wanted = _range(request.http.headers.get("Range", ""), len(audio))
    if wanted is None:
        return web.Response(body=audio, content_type="application/octet-stream", headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{len(audio)}"
    return web.Response(
        status=206,
        body=audio[start : end + 1],
        content_type="application/octet-stream",
        headers=headers,
    )


def _mailbox_owner(request: ApiRequest) -> User:
    user, box = request.user, request.path["mailboxId"]
    if not user.voicemail or box != user.voicemail:
        raise RestError.not_found(f"{user.login} has no mailbox {box}")
    return user


def _connected_owner(request: ApiRequest) -> User:
    """The mailbox's owner, once this session has connected to the mailbox."""
    user = _mailbox_owner(request)
    if (user.login, user.voicemail) not in _connected.get(request.session, set()):
        raise RestError.not_allowed(
            f"Connect to mailbox {user.voicemail} first: POST /messaging/mailboxes/{user.voicemail}"
        )
    return user


def _voicemail(request: ApiRequest, user: User) -> dict[str, Any]:
    ident = request.path["voicemailId"]
    for message in request.pbx.messaging.inbox(user.login).voicemails:
        if message["voicemailId"] == ident:
            return message
    raise RestError.not_found(f"No voicemail {ident} in mailbox {user.voicemail}")


def _voicemail_json(message: dict[str, Any]) -> dict[str, Any]:
    """A Voicemail of this service: its PartyInfo has no ``type``."""
    body = dict(message)
    if isinstance(body.get("from"), dict):
        body["from"] = {k: v for k, v in body["from"].items() if k != "type"}
    return body


def _wav(seconds: float) -> bytes:
    """A tone as long as the message, as an 8 kHz 16-bit mono WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_RATE)
        out.writeframes(_PERIOD * round(seconds * _TONE))
    return buffer.getvalue()


def _range(header: str, size: int) -> tuple[int, int] | None:
    """First and last byte of a single ``bytes=`` range inside the file, or None."""
    found = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if found is None or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if not first:  # the last N bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None

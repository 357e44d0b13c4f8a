"""Authentication tokens and O2G sessions (user, administrator, supervised)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ErrorType, RestError
from .pbx import Pbx

__all__ = ["Session", "Sessions"]


@dataclass(eq=False)
class Session:
    """An open session. ``login`` is whom it acts for (the user when supervised)."""

    credential: str
    login: str
    admin: bool
    application: str
    jsessionid: str
    ttl: float
    supervisor: str | None = None
    account: str = ""  # the authenticated login (the supervisor's for a supervised session)
    expires_at: float = 0.0
    subscriptions: set[str] = field(default_factory=set)
    _timer: asyncio.TimerHandle | None = None


class Sessions:
    """Issues credentials and keeps the open sessions, one per credential.

    A credential opens a session within ``session_ttl`` of its issue, then it is purged; an
    account keeps at most ``max_sessions`` credentials (a new one evicts the oldest) and at
    most ``max_sessions`` open sessions (opening one more expires the oldest, whose
    subscriptions close).
    """

    def __init__(
        self, pbx: Pbx, on_close: Callable[[Session], None], max_sessions: int = 20
    ) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, not {max_sessions}")
        self._pbx = pbx
        self._on_close = on_close
        self._max_sessions = max_sessions
        self._secret = secrets.token_bytes(32)
        # credential -> (login, deadline to open a session), oldest first
        self._credentials: dict[str, tuple[str, float]] = {}
        self._issued: dict[str, deque[str]] = {}  # login -> its credentials, oldest first
        self._sessions: dict[str, Session] = {}  # credential -> session
        self._by_account: dict[str, list[Session]] = {}  # authenticated login -> its sessions

    # -- authentication -------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> tuple[str, str]:
        """Check a Basic ``Authorization`` header; return ``(login, credential)``."""
        login, password = _basic_credentials(authorization)
        user = self._pbx.users.get(login)
        admin = self._pbx.administrators.get(login)
        expected = user.password if user else admin.password if admin else None
        if expected is None or not hmac.compare_digest(expected, password):
            raise RestError(
                ErrorType.NOT_ALLOWED, "Authentication failed: bad login or password", status=401
            )
        self._purge_credentials()
        credential = self._token(login)
        self._credentials[credential] = (login, time.monotonic() + self._pbx.timing.session_ttl)
        issued = self._issued.setdefault(login, deque())
        issued.append(credential)
        if len(issued) > self._max_sessions:
            del self._credentials[issued.popleft()]
        return login, credential

    def _purge_credentials(self) -> None:
        """Forget the credentials whose time to open a session is over (oldest first)."""
        now = time.monotonic()
        while self._credentials:
            credential, (login, deadline) = next(iter(self._credentials.items()))
            if deadline > now:
                break
            del self._credentials[credential]
            issued = self._issued[login]
            issued.popleft()  # the same order: it is the login's oldest
            if not issued:
                del self._issued[login]

    @property
    def credential_count(self) -> int:
        """Credentials issued and not yet purged."""
        return len(self._credentials)

    def _token(self, login: str) -> str:
        """A JWT (HS256) ``{"sub": login, "iat": now}``, as the real gateway issues."""
        header = _b64(json.dumps({"alg": "HS256"}, separators=(",", ":")).encode())
        payload = _b64(
            json.dumps(
                {"sub": login, "iat": int(time.time()), "jti": secrets.token_hex(4)},
                separators=(",", ":"),
            ).encode()
        )
        signature = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{_b64(signature.digest())}"

    # -- sessions -------------------------------------------------------------------------------

    def open(self, credential: str | None, body: dict[str, Any]) -> Session:
        """Open the session of ``credential`` (403 if it is already open)."""
        login, deadline = self._credentials.get(credential or "", ("", 0.0))
        if credential in self._sessions:
            raise RestError(ErrorType.NOT_ALLOWED, "A session is already open for this credential")
        if deadline <= time.monotonic():
            raise RestError.invalid_session("Unknown, expired or missing AlcUserId credential")
        account = login
        admin = login in self._pbx.administrators
        supervisor = None
        supervised = body.get("supervisedAccount")
        if supervised is not None:
            if not admin or not self._pbx.administrators[login].supervisor:
                raise RestError.not_allowed(f"{login} may not open a supervised session")
            supervisor, login, admin = login, self._supervised_login(supervised), False
        session = Session(
            credential=credential,
            login=login,
            admin=admin,
            application=body["applicationName"],
            supervisor=supervisor,
            jsessionid=secrets.token_hex(16).upper() + ".tomcat",
            ttl=self._pbx.timing.session_ttl,
        )
        opened = self._by_account.setdefault(account, [])
        while len(opened) >= self._max_sessions:
            self.close(opened[0])  # the oldest session expires
        opened.append(session)
        session.account = account
        self._sessions[credential] = session
        self.touch(session)
        return session

    def _supervised_login(self, account: dict[str, Any]) -> str:
        ident, kind = account.get("id"), account.get("type", "LOGIN_NAME")
        if kind == "PHONE_NUMBER":
            user = self._pbx.user_by_number(ident)
            if user is None:
                raise RestError.not_found(f"No user with phone number {ident}")
            return user.login
        if ident in self._pbx.users or ident in self._pbx.administrators:
            return ident
        raise RestError.not_found(f"Unknown supervised account {ident}")

    def get(self, credential: str | None, jsessionid: str | None) -> Session:
        """The live session for a request, with its timer restarted; else INVALID_SESSION."""
        session = self._sessions.get(credential or "")
        if session is None or session.expires_at <= time.monotonic():
            if session is not None:
                self.close(session)
            raise RestError.invalid_session()
        if jsessionid is not None and jsessionid != session.jsessionid:
            raise RestError.invalid_session("JSESSIONID does not belong to this session")
        self.touch(session)
        return session

    def touch(self, session: Session) -> None:
        """Restart the session timer (every request does)."""
        session.expires_at = time.monotonic() + session.ttl
        if session._timer is None:
            session._timer = asyncio.get_running_loop().call_later(
                session.ttl, self._expire, session
            )

    def _expire(self, session: Session) -> None:
        left = session.expires_at - time.monotonic()
        if left > 0:
            session._timer = asyncio.get_running_loop().call_later(left, self._expire, session)
        else:
            session._timer = None
            self.close(session)

    def close(self, session: Session) -> None:
        """End a session: its subscriptions close too."""
        if self._sessions.pop(session.credential, None) is None:
            return
        opened = self._by_account.get(session.account, [])
        if session in opened:
            opened.remove(session)
        if not opened:
            self._by_account.pop(session.account, None)
        if session._timer is not None:
            session._timer.cancel()
            session._timer = None
        self._on_close(session)

    def close_all(self) -> None:
        for session in list(self._sessions.values()):
            self.close(session)

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "login": s.login,
                "admin": s.admin,
                "application": s.application,
                "supervisor": s.supervisor,
                "subscriptions": sorted(s.subscriptions),
            }
            for s in self._sessions.values()
        ]


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    if not authorization or not authorization.lower().startswith("basic "):
        raise RestError(ErrorType.NOT_ALLOWED, "Basic authentication required", status=401)
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise RestError(ErrorType.NOT_ALLOWED, "Malformed Basic credentials", status=401) from None
    login, sep, password = decoded.partition(":")
    if not sep:
        raise RestError(ErrorType.NOT_ALLOWED, "Malformed Basic credentials", status=401)
    return login, password


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

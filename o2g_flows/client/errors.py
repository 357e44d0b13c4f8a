"""Errors raised by the client.

``O2GError`` is the root. A non-2xx answer carrying a RestErrorInfo body raises
the subclass for its ``type`` (``NotReadyError``, ``InvalidSessionError``...), with
every field of the body as attributes and the request's method and URL.
``O2GConnectionError`` is a transport failure (nothing usable came back);
``O2GProtocolError`` an answer that is not JSON or not the expected shape.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "AuthenticationError",
    "BadParameterError",
    "InvalidSessionError",
    "NotAllowedError",
    "NotExpectedError",
    "NotFoundError",
    "NotReadyError",
    "NotSupportedError",
    "O2GConnectionError",
    "O2GError",
    "O2GProtocolError",
    "ServerProblemError",
    "SubscriptionRefusedError",
    "error_from_answer",
]

_QUOTE_LIMIT = 500


class O2GError(Exception):
    """Base of every client error. RestErrorInfo fields are None when the server sent none."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.status_code = status_code
        #: The RestErrorInfo body as received (``{}`` when there was none).
        self.info: dict[str, Any] = info or {}
        info = self.info
        self.http_status: str | None = info.get("httpStatus")
        self.code: int | None = info.get("code")
        self.type: str | None = info.get("type")
        self.help_message: str | None = info.get("helpMessage")
        self.inner_message: str | None = info.get("innerMessage")
        self.can_retry: bool | None = info.get("canRetry")
        self.telephony: dict[str, Any] | None = info.get("telephony")
        self.routing: dict[str, Any] | None = info.get("routing")
        self.user_preferences: dict[str, Any] | None = _user_preferences(info)


class NotReadyError(O2GError):
    """NOT_READY (1000): the server is starting; retry later."""


class InvalidSessionError(O2GError):
    """INVALID_SESSION (1001): no live session for the credential."""


class NotAllowedError(O2GError):
    """NOT_ALLOWED (1002): insufficient rights or bad credentials."""


class NotFoundError(O2GError):
    """NOT_FOUND (1003): an unknown resource or parameter."""


class NotExpectedError(O2GError):
    """NOT_EXPECTED (1004): the request does not fit the user's current state."""


class NotSupportedError(O2GError):
    """NOT_SUPPORTED (1005): the operation is not supported."""


class BadParameterError(O2GError):
    """BAD_PARAMETER (1006): request parameters are not correct."""


class ServerProblemError(O2GError):
    """SERVER_PROBLEM (1007): a general server failure."""


class AuthenticationError(O2GError):
    """The gateway refused the login and password (the authenticate request failed)."""


class SubscriptionRefusedError(O2GError):
    """The gateway answered a subscription with ``status: REFUSED`` (``message`` says why)."""


class O2GConnectionError(O2GError):
    """The request did not get an answer: connection refused, reset, timed out, TLS failure."""


class O2GProtocolError(O2GError):
    """The answer is not JSON or not the expected shape; ``text`` is what came back."""

    def __init__(self, message: str, *, text: str = "", **context: Any) -> None:
        super().__init__(f"{message}: {_quote(text)}", **context)
        self.text = text


_BY_TYPE: dict[str, type[O2GError]] = {
    "NOT_READY": NotReadyError,
    "INVALID_SESSION": InvalidSessionError,
    "NOT_ALLOWED": NotAllowedError,
    "NOT_FOUND": NotFoundError,
    "NOT_EXPECTED": NotExpectedError,
    "NOT_SUPPORTED": NotSupportedError,
    "BAD_PARAMETER": BadParameterError,
    "SERVER_PROBLEM": ServerProblemError,
}
_BY_CODE = {code: _BY_TYPE[name] for code, name in enumerate(_BY_TYPE, start=1000)}


def error_from_answer(
    method: str,
    url: str,
    status_code: int,
    content: bytes,
    error_class: type[O2GError] | None = None,
) -> O2GError:
    """The error for a non-2xx answer: its RestErrorInfo subclass, else ``O2GProtocolError``.

    ``error_class`` overrides the subclass (``AuthenticationError`` for a refused login).
    """
    context: dict[str, Any] = {"method": method, "url": url, "status_code": status_code}
    text = content.decode("utf-8", "replace")
    try:
        info = json.loads(content) if content.strip() else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or not ("type" in info or "code" in info):
        cls = error_class or O2GProtocolError
        if cls is O2GProtocolError:
            return O2GProtocolError(
                f"{method} {url} answered {status_code} without a RestErrorInfo body",
                text=text or "(empty body)",
                **context,
            )
        return cls(f"{method} {url} answered {status_code}: {_quote(text)}", **context)
    cls = error_class or _BY_TYPE.get(info.get("type", "")) or _BY_CODE.get(info.get("code"))
    return (cls or O2GError)(_describe(method, url, status_code, info), info=info, **context)


def _describe(method: str, url: str, status_code: int, info: dict[str, Any]) -> str:
    parts = [f"{method} {url} -> {status_code} {info.get('type', '?')} ({info.get('code', '?')})"]
    message = info.get("innerMessage") or info.get("helpMessage")
    if message:
        parts.append(f": {message}")
    for key in ("telephony", "routing"):
        detail = info.get(key)
        if isinstance(detail, dict):
            fields = "/".join(str(v) for k, v in detail.items() if k != "message")
            parts.append(f" [{key}: {fields}]")
    return "".join(parts)


def _user_preferences(info: dict[str, Any]) -> dict[str, Any] | None:
    """The userPreferences detail, under the spec's name or the SDKs' spellings."""
    if "userPreferences" in info:
        return info["userPreferences"]
    legacy = {
        "errorType": info.get("userPreferencesErrorTypeDTO", info.get("userPreferencesError")),
        "parameter": info.get("userPreferencesParameterDTO", info.get("userPreferencesParameter")),
    }
    return {k: v for k, v in legacy.items() if v is not None} or None


def _quote(text: str) -> str:
    if len(text) > _QUOTE_LIMIT:
        return repr(text[:_QUOTE_LIMIT]) + f" ... ({len(text)} characters)"
    return repr(text)

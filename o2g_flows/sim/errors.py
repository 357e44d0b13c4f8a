"""RestErrorInfo answers: the simulator raises ``RestError`` and the router renders it."""

from __future__ import annotations

from enum import Enum
from http import HTTPStatus
from typing import Any

__all__ = ["ErrorType", "RestError"]


class ErrorType(Enum):
    """The O2G error types with their code, default HTTP status, canRetry and help text."""

    NOT_READY = (
        1000,
        503,
        True,
        "The server is not yet available. Please retry later if the "
        "initialization is not finished.",
    )
    INVALID_SESSION = (
        1001,
        403,
        True,
        "No valid session found for the given identifier. Please "
        "logout and login with correct credentials.",
    )
    NOT_ALLOWED = (
        1002,
        403,
        False,
        "The operation is not allowed, because of insufficient rights "
        "or bad credential. Please contact the administrator to fix the problem.",
    )
    NOT_FOUND = (
        1003,
        404,
        True,
        "Missing or bad parameter sent by a request on a service. Fix the problem and retry.",
    )
    NOT_EXPECTED = (
        1004,
        400,
        True,
        "The request can not be performed due to current user's "
        "state.Check the state or fix your request before sending it back.",
    )
    NOT_SUPPORTED = (
        1005,
        400,
        False,
        "This operation is not supported. Please check the documentation.",
    )
    BAD_PARAMETER = (
        1006,
        400,
        True,
        "Request parameters are not correct. Please fix the problem and send the request back.",
    )
    SERVER_PROBLEM = (
        1007,
        500,
        False,
        "Server general problem. Please contact the administrator to fix the problem.",
    )

    @property
    def code(self) -> int:
        return self.value[0]


class RestError(Exception):
    """An O2G error answer. ``telephony``/``routing``/``user_preferences`` are the 2.1 details."""

    def __init__(
        self,
        error_type: ErrorType,
        inner_message: str,
        *,
        status: int | None = None,
        telephony: dict[str, Any] | None = None,
        routing: dict[str, Any] | None = None,
        user_preferences: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(inner_message)
        self.error_type = error_type
        self.inner_message = inner_message
        self.status = status if status is not None else error_type.value[1]
        self.telephony = telephony
        self.routing = routing
        self.user_preferences = user_preferences

    def body(self) -> dict[str, Any]:
        """The RestErrorInfo JSON body."""
        code, _, can_retry, help_message = self.error_type.value
        body: dict[str, Any] = {
            "httpStatus": HTTPStatus(self.status).name,
            "code": code,
            "helpMessage": help_message,
            "type": self.error_type.name,
            "innerMessage": self.inner_message,
            "canRetry": can_retry,
        }
        if self.telephony is not None:
            body["telephony"] = self.telephony
        if self.routing is not None:
            body["routing"] = self.routing
        if self.user_preferences is not None:
            body["userPreferences"] = self.user_preferences
        return body

    # Constructors for the answers the simulator gives most often.

    @classmethod
    def bad_parameter(cls, message: str, **details: Any) -> RestError:
        return cls(ErrorType.BAD_PARAMETER, message, **details)

    @classmethod
    def not_found(cls, message: str, **details: Any) -> RestError:
        return cls(ErrorType.NOT_FOUND, message, **details)

    @classmethod
    def not_allowed(cls, message: str, **details: Any) -> RestError:
        return cls(ErrorType.NOT_ALLOWED, message, **details)

    @classmethod
    def not_expected(cls, message: str, **details: Any) -> RestError:
        """A request that does not fit the current state (400 NOT_EXPECTED)."""
        return cls(ErrorType.NOT_EXPECTED, message, **details)

    @classmethod
    def invalid_session(
        cls, message: str = "No framework session with this identifier"
    ) -> RestError:
        return cls(ErrorType.INVALID_SESSION, message)

    @classmethod
    def incompatible_state(cls, message: str, cause: str = "INVALID_CONNECTION_STATE") -> RestError:
        """An operation refused because of the call or user state (telephony detail included)."""
        return cls.not_expected(
            message,
            telephony={
                "errorType": "INCOMPATIBLE_WITH_STATE",
                "errorCause": cause,
                "message": message,
            },
        )

    @classmethod
    def bad_value(cls, message: str, cause: str = "UNKNOWN") -> RestError:
        """BAD_PARAMETER with the telephony detail BAD_PARAMETER_VALUE and ``cause``."""
        return cls.bad_parameter(
            message,
            telephony={"errorType": "BAD_PARAMETER_VALUE", "errorCause": cause, "message": message},
        )

    @classmethod
    def unauthorized(cls, message: str, cause: str = "UNKNOWN") -> RestError:
        """A telephony request refused for this user (TelephonyErrorType UNAUTHORIZED)."""
        return cls.not_allowed(
            message,
            telephony={"errorType": "UNAUTHORIZED", "errorCause": cause, "message": message},
        )

    @classmethod
    def unknown_call(cls, call_ref: str) -> RestError:
        return cls(
            ErrorType.NOT_FOUND,
            f"Unknown call reference {call_ref}",
            telephony={
                "errorType": "CALL_REFERENCE_NOT_FOUND",
                "errorCause": "INVALID_CALL_ID",
                "message": f"Unknown call reference {call_ref}",
            },
        )

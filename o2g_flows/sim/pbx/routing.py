"""Per-user routing: DND, forward and overflow routes, as the call model applies them.

Routes set through the REST API are checked here (``validate_forward``,
``validate_overflow``) and refused with the spec's RoutingErrorInfo details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ErrorType, RestError
from .config import Device, User

if TYPE_CHECKING:
    from .core import Pbx

__all__ = ["PHONE_NUMBER", "RoutingBook", "RoutingState", "Situation", "routing_error"]

Situation = Literal["immediate", "busy", "no_answer"]

_APPLIES = {
    "immediate": (None,),
    "busy": ("BUSY", "BUSY_NO_ANSWER"),
    "no_answer": ("NO_ANSWER", "BUSY_NO_ANSWER"),
}


@dataclass(eq=False)
class RoutingState:
    """One user's routes. ``forward``/``overflow`` hold the spec's route objects or None."""

    office_device: str
    dnd: bool = False
    forward: dict[str, Any] | None = None
    overflow: dict[str, Any] | None = None
    mobile: Device | None = None  # the user's remote extension (MOBILE device), if any

    @property
    def ringing_mobile(self) -> str | None:
        """The MOBILE device that rings with the office set: selected in the presentation route
        (the remote extension is active)."""
        mobile = self.mobile
        return mobile.id if mobile is not None and mobile.remote_extension_active else None

    def as_json(self) -> dict[str, Any]:
        """The RoutingState representation."""
        destinations = [{"type": "OFFICE", "deviceId": self.office_device, "selected": True}]
        if self.mobile is not None:
            destinations.append(
                {
                    "type": "MOBILE",
                    "deviceId": self.mobile.id,
                    "selected": self.mobile.remote_extension_active,
                }
            )
        return {
            "presentationRoutes": [{"destinations": destinations}],
            "forwardRoutes": [self.forward] if self.forward else [],
            "overflowRoutes": [self.overflow] if self.overflow else [],
            "dndState": {"activate": self.dnd},
        }


class RoutingBook:
    """The routing state of every user; every change emits OnRoutingStateChanged."""

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self._states: dict[str, RoutingState] = {}
        for user in pbx.users.values():
            self.add_user(user)

    def add_user(self, user: User) -> None:
        """A fresh routing state for a new user."""
        mobile = next((d for d in user.devices if d.type == "MOBILE"), None)
        self._states[user.login] = RoutingState(office_device=user.number, mobile=mobile)

    def remove_user(self, login: str) -> None:
        """Forget a removed user's routing."""
        del self._states[login]

    def state(self, login: str) -> RoutingState:
        """The routing state of ``login`` (read it; change it through the setters)."""
        return self._states[login]

    def set_dnd(self, login: str, active: bool) -> None:
        """Activate or cancel do-not-disturb (OnRoutingStateChanged)."""
        self._states[login].dnd = active
        self.publish(login)

    def set_forward(self, login: str, route: dict[str, Any] | None) -> None:
        """Set a checked forward route (``validate_forward``), None to cancel it."""
        self._states[login].forward = route
        self.publish(login)

    def set_overflow(self, login: str, route: dict[str, Any] | None) -> None:
        """Set a checked overflow route (``validate_overflow``), None to cancel it."""
        self._states[login].overflow = route
        self.publish(login)

    def publish(self, login: str) -> None:
        """Emit OnRoutingStateChanged with the user's whole routing state."""
        self._pbx.emit(
            {
                "eventName": "OnRoutingStateChanged",
                "loginName": login,
                "routingState": self._states[login].as_json(),
            }
        )

    def divert(self, login: str, situation: Situation) -> dict[str, Any] | None:
        """Where a call to ``login`` goes instead of ringing or staying, or None.

        ``immediate`` applies an immediate forward; ``busy`` and ``no_answer`` apply a
        forward of that kind first, then an overflow. The answer is one Destination
        (``{"type": "VOICEMAIL"}`` or ``{"type": "NUMBER", "number": ...}``).
        """
        state = self._states[login]
        kinds = _APPLIES[situation]
        if state.forward and state.forward.get("forwardType") in kinds:
            return _first_destination(state.forward)
        if (
            situation != "immediate"
            and state.overflow
            and state.overflow.get("overflowType") in kinds
        ):
            return _first_destination(state.overflow)
        return None

    def snapshot(self) -> dict[str, Any]:
        return {login: state.as_json() for login, state in self._states.items()}

    # -- routes set through the REST API ---------------------------------------------------------

    def capabilities(self, login: str) -> dict[str, bool]:
        """What the user may manage (Capabilities): presentation only with a remote extension."""
        return {
            "presentationRoute": self._states[login].mobile is not None,
            "forwardRoute": True,
            "overflowRoute": True,
            "dnd": True,
        }

    def set_remote_extension(self, login: str, active: bool) -> None:
        """Select or deselect the MOBILE destination (activate the remote extension)."""
        self._set_mobile(login, active)
        self.publish(login)

    def set_routes(
        self, login: str, *, forward: dict[str, Any] | None, remote_extension: bool | None
    ) -> None:
        """Apply a checked SetRoutesRequest at once (one OnRoutingStateChanged).

        ``forward`` None leaves the forward as it is, ``{}`` cancels it; ``remote_extension``
        None leaves the MOBILE destination as it is.
        """
        if remote_extension is not None:
            self._set_mobile(login, remote_extension)
        if forward is not None:
            self._states[login].forward = forward or None
        self.publish(login)

    def _set_mobile(self, login: str, active: bool) -> None:
        state = self._states[login]
        if state.mobile is None:
            raise routing_error(
                "INVALID_OPERATION", "MOBILE", "UNKNOWN", f"{login} has no remote extension"
            )
        state.mobile.remote_extension_active = active

    def validate_forward(self, login: str, route: dict[str, Any]) -> dict[str, Any]:
        """A ForwardRoute checked for ``login``, as it will be stored; else a routing error."""
        invalid = "INVALID_FORWARD_ROUTE"
        destination = _single_destination(route, invalid)
        target = self._target(login, destination, destination["type"], invalid, "a forward")
        if target["type"] == "NUMBER":
            self._check_forward_loop(login, target["number"])
        checked: dict[str, Any] = {"destinations": [target]}
        if route.get("forwardType"):
            checked["forwardType"] = route["forwardType"]
        return checked

    def validate_overflow(self, login: str, route: dict[str, Any]) -> dict[str, Any]:
        """An OverflowRoute checked for ``login``; UNKNOWN destinations are resolved."""
        invalid = "INVALID_OVERFLOW_ROUTE"
        destination = _single_destination(route, invalid)
        kind = destination["type"]
        if kind == "UNKNOWN":
            number = destination.get("number") or ""
            kind = "VOICEMAIL" if number == self._pbx.config.voicemail_service else "NUMBER"
        target = self._target(login, destination, kind, invalid, "an overflow")
        return {"overflowType": route["overflowType"], "destinations": [target]}

    def _target(
        self, login: str, destination: dict[str, Any], kind: str, invalid: str, route_name: str
    ) -> dict[str, Any]:
        """A ``kind`` destination of ``login``'s route (``route_name``: "a forward", "an
        overflow"), checked, as it is stored; ``invalid`` is the route's RoutingErrorCause."""
        if kind == "VOICEMAIL":
            self._check_voicemail(login)
            return {"type": "VOICEMAIL"}
        if kind == "NUMBER":
            return {"type": "NUMBER", "number": self._check_number(login, destination, invalid)}
        raise routing_error(
            "BAD_PARAMETER_VALUE",
            kind,
            invalid,
            f"{route_name} destination must be VOICEMAIL or NUMBER, not {kind}",
        )

    def _check_voicemail(self, login: str) -> None:
        if not self._pbx.users[login].voicemail:
            raise routing_error(
                "UNAUTHORIZED",
                "VOICEMAIL",
                "UNAUTHORIZED_PHONE_NUMBER",
                f"{login} has no voicemail",
            )

    def _check_number(self, login: str, destination: dict[str, Any], invalid: str) -> str:
        """The destination's number, if the dial plan accepts it for ``login``."""
        number = destination.get("number")
        if not number:
            raise routing_error(
                "BAD_PARAMETER_VALUE",
                "NUMBER",
                "NULL_OR_EMPTY_PARAMETER",
                "a NUMBER destination needs a number",
            )
        if not PHONE_NUMBER.fullmatch(number):
            raise routing_error(
                "BAD_PARAMETER_VALUE",
                "NUMBER",
                "BAD_PHONE_NUMBER_FORMAT",
                f"{number!r} is not a phone number",
            )
        endpoint = self._pbx.resolve(number)
        if endpoint.user is not None and endpoint.user.login == login:
            raise routing_error(
                "UNAUTHORIZED",
                "NUMBER",
                "UNAUTHORIZED_PHONE_NUMBER",
                f"{number} is one of {login}'s own devices",
            )
        if endpoint.kind == "voicemail":
            raise routing_error(
                "UNAUTHORIZED",
                "NUMBER",
                "UNAUTHORIZED_PHONE_NUMBER",
                f"{number} is a service number: use a VOICEMAIL destination",
            )
        if endpoint.kind == "external" and endpoint.external is None and number[0] not in "+0":
            raise routing_error(
                "UNKNOWN_PHONE_NUMBER",
                "NUMBER",
                invalid,
                f"{number} is not in the dial plan (outside numbers start with + or 0)",
            )
        return number

    def _check_forward_loop(self, login: str, number: str) -> None:
        """Refuse a forward whose chain of immediate forwards comes back to ``login``."""
        seen = {login}
        endpoint = self._pbx.resolve(number)
        while endpoint.user is not None:
            if endpoint.user.login in seen:
                raise routing_error(
                    "BAD_PARAMETER_VALUE",
                    "NUMBER",
                    "INVALID_FORWARD_ROUTE",
                    f"forwarding {login} to {number} makes a loop",
                )
            seen.add(endpoint.user.login)
            forward = self._states[endpoint.user.login].forward
            if not forward or forward.get("forwardType"):
                return
            target = _first_destination(forward) or {}
            if target.get("type") != "NUMBER":
                return
            endpoint = self._pbx.resolve(target["number"])


def _first_destination(route: dict[str, Any]) -> dict[str, Any] | None:
    destinations = route.get("destinations") or []
    return destinations[0] if destinations else None


#: The spec's phone number expression (a number failing it: BAD_PHONE_NUMBER_FORMAT).
PHONE_NUMBER = re.compile(r"[+]?[0-9A-D*#() ]{1,49}")


def _single_destination(route: dict[str, Any], invalid: str) -> dict[str, Any]:
    destinations = route.get("destinations") or []
    if len(destinations) != 1:
        raise routing_error(
            "BAD_PARAMETER_VALUE",
            None,
            invalid,
            f"a route takes exactly one destination, not {len(destinations)}",
        )
    return destinations[0]


def routing_error(error_type: str, destination: str | None, cause: str, message: str) -> RestError:
    """A routing refusal: 403 NOT_ALLOWED when unauthorized, else 400 BAD_PARAMETER."""
    detail = {"errorType": error_type, "errorCause": cause, "message": message}
    if destination is not None:
        detail["destinationType"] = destination
    kind = ErrorType.NOT_ALLOWED if error_type == "UNAUTHORIZED" else ErrorType.BAD_PARAMETER
    return RestError(kind, message, routing=detail)

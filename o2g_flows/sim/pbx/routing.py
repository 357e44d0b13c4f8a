"""Per-user routing: DND, forward and overflow routes, as the call model applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .core import Pbx

__all__ = ["RoutingBook", "RoutingState"]

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
    remote_extension: bool = False
    presentation: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The RoutingState representation."""
        presentation = self.presentation or [
            {"destinations": [{"type": "OFFICE", "deviceId": self.office_device, "selected": True}]}
        ]
        return {
            "presentationRoutes": presentation,
            "forwardRoutes": [self.forward] if self.forward else [],
            "overflowRoutes": [self.overflow] if self.overflow else [],
            "dndState": {"activate": self.dnd},
        }


class RoutingBook:
    """The routing state of every user; every change emits OnRoutingStateChanged."""

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self._states = {
            login: RoutingState(office_device=user.number) for login, user in pbx.users.items()
        }

    def state(self, login: str) -> RoutingState:
        return self._states[login]

    def set_dnd(self, login: str, active: bool) -> None:
        self._states[login].dnd = active
        self.publish(login)

    def set_forward(self, login: str, route: dict[str, Any] | None) -> None:
        self._states[login].forward = route
        self.publish(login)

    def set_overflow(self, login: str, route: dict[str, Any] | None) -> None:
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


def _first_destination(route: dict[str, Any]) -> dict[str, Any] | None:
    destinations = route.get("destinations") or []
    return destinations[0] if destinations else None

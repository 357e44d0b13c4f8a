"""Hunting groups: membership, the members' log-on state and which member a call rings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import RestError

if TYPE_CHECKING:
    from .core import Pbx

__all__ = ["HuntingGroups"]


class HuntingGroups:
    """Members per group (a user belongs to one group at most) and who is logged on.

    Members start logged on. A call to a group rings the first free, logged-on member in
    the group's order who is not in do-not-disturb.
    """

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self._members: dict[str, list[str]] = {
            group.number: list(group.members) for group in pbx.config.hunting_groups
        }
        self._logged_off: set[str] = set()

    def numbers(self) -> list[str]:
        """The hunting group numbers of the PBX."""
        return list(self._members)

    def current(self, login: str) -> str | None:
        """The group ``login`` belongs to, if any."""
        return next((number for number, m in self._members.items() if login in m), None)

    def is_logged_on(self, login: str) -> bool:
        """Whether ``login`` takes its group's calls (an error if it is in no group)."""
        self._require_member(login)
        return login not in self._logged_off

    def set_logged_on(self, login: str, logon: bool) -> None:
        """Log the user on or off its group; OnDynamicStateChanged when it changes."""
        self._require_member(login)
        if logon == (login not in self._logged_off):
            return
        if logon:
            self._logged_off.discard(login)
        else:
            self._logged_off.add(login)
        self._pbx.emit(
            {
                "eventName": "OnDynamicStateChanged",
                "loginName": login,
                "huntingGroupState": {"logon": logon},
            }
        )

    def join(self, login: str, number: str) -> None:
        """Make ``login`` a member of group ``number`` (leaving its previous group)."""
        members = self._group(number)
        if login in members:
            return
        for others in self._members.values():
            if login in others:
                others.remove(login)
        members.append(login)

    def leave(self, login: str, number: str) -> None:
        """``login`` is no longer a member of group ``number``."""
        members = self._group(number)
        if login in members:
            members.remove(login)

    def pick(self, number: str, is_free: Callable[[str], bool], skip: set[str]) -> str | None:
        """The first logged-on member of ``number`` for whom ``is_free`` holds, not in ``skip``."""
        for login in self._members.get(number, ()):
            if login not in self._logged_off and login not in skip and is_free(login):
                return login
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            number: {"members": members, "loggedOff": sorted(set(members) & self._logged_off)}
            for number, members in self._members.items()
        }

    def _group(self, number: str) -> list[str]:
        try:
            return self._members[number]
        except KeyError:
            raise RestError.not_found(f"Unknown hunting group {number}") from None

    def _require_member(self, login: str) -> None:
        if self.current(login) is None:
            raise RestError.incompatible_state(
                f"{login} is not a member of a hunting group", cause="INVALID_DEVICE_STATE"
            )

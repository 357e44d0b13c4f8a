"""What every generated service class shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..connection import Connection

__all__ = ["Service", "endpoint"]

_F = TypeVar("_F", bound=Callable[..., Any])


def endpoint(endpoint_id: str) -> Callable[[_F], _F]:
    """Mark a method as the client side of a catalogue endpoint (``"POST /telephony/calls"``)."""

    def mark(method: _F) -> _F:
        method.endpoint = endpoint_id  # type: ignore[attr-defined]
        return method

    return mark


class Service:
    """One O2G service on a connection; its methods are generated from the catalogue."""

    __slots__ = ("_request",)

    #: The catalogue's name for the service, e.g. ``"Call control"``.
    catalogue_name = ""

    def __init__(self, connection: Connection) -> None:
        self._request = connection.request

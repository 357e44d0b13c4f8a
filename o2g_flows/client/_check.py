"""Argument checks and request building used by the generated service methods.

Every check raises before any request is sent, naming the method and the
parameter (``label`` is ``"telephony.answer: device_id"``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import quote

__all__ = [
    "boolean",
    "choice",
    "compact",
    "integer",
    "items",
    "mapping",
    "query",
    "segment",
    "text",
]


def _describe(value: object) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{type(value).__name__} {shown}"


def _missing(label: str) -> TypeError:
    return TypeError(f"{label} is required, got None")


def _typed(label: str, value: object, kind: type, what: str, optional: bool) -> None:
    """``value`` must be a ``kind`` (``what`` in the message), or None when ``optional``."""
    if isinstance(value, kind) or (value is None and optional):
        return
    if value is None:
        raise _missing(label)
    raise TypeError(f"{label} must be {what}, not {_describe(value)}")


def segment(label: str, value: object, safe: str = "") -> str:
    """A path parameter (a non-empty str, or an int), percent-encoded for the URL."""
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{label} must not be empty")
        return quote(value, safe=safe)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None:
        raise _missing(label)
    raise TypeError(f"{label} must be a str, not {_describe(value)}")


def text(label: str, value: object, optional: bool = False) -> None:
    """A string parameter."""
    _typed(label, value, str, "a str", optional)


def boolean(label: str, value: object, optional: bool = False) -> None:
    """A boolean parameter (``True``/``False`` only, not 0/1)."""
    _typed(label, value, bool, "a bool", optional)


def integer(label: str, value: object, optional: bool = False, minimum: int | None = None) -> None:
    """An integer parameter (bools are refused)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if minimum is not None and value < minimum:
            raise ValueError(f"{label} must be >= {minimum}, got {value}")
        return
    if value is None:
        if optional:
            return
        raise _missing(label)
    raise TypeError(f"{label} must be an int, not {_describe(value)}")


def choice(label: str, value: object, allowed: Collection[str], optional: bool = False) -> None:
    """A string parameter restricted to the values of a catalogue enum."""
    if isinstance(value, str) and value in allowed:
        return
    if value is None:
        if optional:
            return
        raise _missing(label)
    if not isinstance(value, str):
        raise TypeError(f"{label} must be a str, not {_describe(value)}")
    raise ValueError(f"{label} must be one of {', '.join(sorted(allowed))}; got {value!r}")


def mapping(label: str, value: object, optional: bool = False) -> None:
    """A JSON object parameter (a dict)."""
    _typed(label, value, dict, "a dict (a JSON object)", optional)


_ITEM_NAMES = {str: "a str", int: "an int", bool: "a bool", dict: "a dict"}


def items(label: str, value: object, kind: type, optional: bool = False) -> None:
    """A list parameter whose items are all of ``kind`` (str, int, bool or dict)."""
    if value is None:
        if optional:
            return
        raise _missing(label)
    if not isinstance(value, list | tuple):
        raise TypeError(f"{label} must be a list, not {_describe(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
            raise TypeError(
                f"{label}[{index}] must be {_ITEM_NAMES.get(kind, kind.__name__)}, "
                f"not {_describe(item)}"
            )


def compact(body: dict[str, Any]) -> dict[str, Any]:
    """A JSON body without the fields left to None."""
    return {key: value for key, value in body.items() if value is not None}


def query(params: dict[str, Any]) -> dict[str, str] | None:
    """Query parameters without the None ones, booleans as ``true``/``false``."""
    result = {}
    for key, value in params.items():
        if value is None:
            continue
        if value is True:
            value = "true"
        elif value is False:
            value = "false"
        result[key] = str(value)
    return result or None

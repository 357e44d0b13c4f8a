"""Parsing request bodies as JSON within the limits a gateway can serve.

A Jackson-based gateway refuses nesting beyond a depth and integers beyond 64 bits with
a 400; so does the simulator, instead of failing later in a handler.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import RestError

__all__ = ["MAX_DEPTH", "parse_json"]

#: Deepest nesting of objects and lists accepted in a body.
MAX_DEPTH = 32
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def parse_json(raw: bytes) -> Any:
    """The JSON value of ``raw``, or BAD_PARAMETER naming what is wrong with it."""
    _check_depth(raw)
    try:
        return json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RestError.bad_parameter(f"malformed JSON body: {exc}") from None


def _check_depth(raw: bytes) -> None:
    """Refuse nesting deeper than MAX_DEPTH (brackets inside strings do not count)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                raise RestError.bad_parameter(
                    f"malformed JSON body: nested deeper than {MAX_DEPTH} levels"
                )
        elif byte in (0x5D, 0x7D):
            depth -= 1


def _int(text: str) -> int:
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        shown = text if len(text) <= 24 else f"{text[:24]}..."
        raise ValueError(f"the integer {shown} exceeds 64 bits")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:24]} is out of range")
    return value


def _constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")

"""The control API (``/sim/...``): tests and demos act as the outside world.

Each module of this package defines ``routes``, an ``aiohttp.web.RouteTableDef``;
all of them are mounted by the server, whose middleware renders a ``RestError`` raised
by a handler as its RestErrorInfo answer.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from aiohttp import web

from ..errors import RestError
from ..jsonbody import parse_json

__all__ = ["control_routes", "read_json"]


def control_routes() -> list[web.AbstractRouteDef]:
    """The routes of every control module."""
    table: list[web.AbstractRouteDef] = []
    for module in pkgutil.iter_modules(__path__):
        table.extend(importlib.import_module(f"{__name__}.{module.name}").routes)
    return table


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty), or BAD_PARAMETER."""
    raw = await request.read()
    if not raw.strip():
        return {}
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise RestError.bad_parameter("the body must be a JSON object")
    return body

"""The control API (``/sim/...``): tests and demos act as the outside world.

Each module of this package defines ``routes``, an ``aiohttp.web.RouteTableDef``;
all of them are mounted by the server.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any

from aiohttp import web

from ..api import error_response
from ..errors import RestError

__all__ = ["control_routes", "read_json", "rest_errors"]


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
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise RestError.bad_parameter(f"malformed JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise RestError.bad_parameter("the body must be a JSON object")
    return body


def rest_errors(handler):  # type: ignore[no-untyped-def]
    """Decorator: a ``RestError`` raised by a control handler becomes its JSON answer."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RestError as error:
            return error_response(error)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper

"""Routing management: capabilities, remote extension, DND, forward and overflow routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..api import ApiRequest, endpoint
from ..pbx.routing import RoutingBook, routing_error


def _book(request: ApiRequest) -> RoutingBook:
    return request.pbx.routing


@endpoint("GET /routing")
async def capabilities(request: ApiRequest) -> dict[str, Any]:
    return _book(request).capabilities(request.user.login)


@endpoint("POST /routing")
async def set_routes(request: ApiRequest) -> None:
    """Select the MOBILE destination (remote extension) and/or set the forward route."""
    login, body = request.user.login, request.body or {}
    book = _book(request)
    remote_extension = None
    presentation = body.get("presentationRoutes") or []
    if len(presentation) > 1:
        raise routing_error(
            "BAD_PARAMETER_VALUE", None, "UNKNOWN", "only one presentation route can be set"
        )
    destinations = (presentation[0].get("destinations") or []) if presentation else []
    for destination in destinations:
        selected = destination.get("selected", True)
        if destination["type"] == "MOBILE":
            remote_extension = selected
        elif destination["type"] != "OFFICE" or not selected:
            raise routing_error(
                "BAD_PARAMETER_VALUE",
                destination["type"],
                "UNKNOWN",
                "a presentation route selects MOBILE or not; OFFICE is always selected",
            )
    forward = None
    if body.get("forwardRoutes") is not None:
        routes = body["forwardRoutes"]
        if len(routes) > 1:
            raise routing_error(
                "BAD_PARAMETER_VALUE",
                None,
                "INVALID_FORWARD_ROUTE",
                "only one forward route can be set",
            )
        forward = book.validate_forward(login, routes[0]) if routes else {}
    book.set_routes(login, forward=forward, remote_extension=remote_extension)


@endpoint("GET /routing/dnd")
async def get_dnd(request: ApiRequest) -> dict[str, Any]:
    return {"activate": _book(request).state(request.user.login).dnd}


@endpoint("POST /routing/dnd")
async def activate_dnd(request: ApiRequest) -> None:
    _book(request).set_dnd(request.user.login, True)


@endpoint("DELETE /routing/dnd")
async def cancel_dnd(request: ApiRequest) -> None:
    _book(request).set_dnd(request.user.login, False)


@endpoint("GET /routing/forwardroute")
async def get_forward(request: ApiRequest) -> dict[str, Any] | web.Response:
    """The forward route; 204 without content when none is set (as the SDKs expect)."""
    forward = _book(request).state(request.user.login).forward
    return forward if forward else web.Response(status=204)


@endpoint("POST /routing/forwardroute")
async def set_forward(request: ApiRequest) -> None:
    """Activate the forward route, or cancel it when the request gives none."""
    login, route = request.user.login, (request.body or {}).get("forwardRoute")
    book = _book(request)
    if route and route.get("destinations"):
        book.set_forward(login, book.validate_forward(login, route))
    else:
        book.set_forward(login, None)


@endpoint("DELETE /routing/forwardroute")
async def cancel_forward(request: ApiRequest) -> None:
    _book(request).set_forward(request.user.login, None)


@endpoint("GET /routing/overflowroute")
async def get_overflow(request: ApiRequest) -> dict[str, Any] | web.Response:
    """The overflow route; 204 without content when none is set."""
    overflow = _book(request).state(request.user.login).overflow
    return overflow if overflow else web.Response(status=204)


@endpoint("POST /routing/overflowroute")
async def set_overflow(request: ApiRequest) -> None:
    login, routes = request.user.login, request.body.get("overflowRoutes") or []
    if len(routes) != 1:
        raise routing_error(
            "BAD_PARAMETER_VALUE",
            None,
            "INVALID_OVERFLOW_ROUTE",
            f"exactly one overflow route can be set, not {len(routes)}",
        )
    book = _book(request)
    book.set_overflow(login, book.validate_overflow(login, routes[0]))


@endpoint("DELETE /routing/overflowroute")
async def cancel_overflow(request: ApiRequest) -> None:
    _book(request).set_overflow(request.user.login, None)


@endpoint("GET /routing/state")
async def get_state(request: ApiRequest) -> dict[str, Any]:
    return _book(request).state(request.user.login).as_json()


@endpoint("POST /routing/state/snapshot")
async def snapshot(request: ApiRequest) -> None:
    """OnRoutingStateChanged for the user, or for every user (administrator, no loginName)."""
    book = _book(request)
    if request.session.admin and request.login is None:
        for login in request.pbx.users:
            book.publish(login)
        return
    book.publish(request.user.login)

"""The /api/rest/1.0 router: every catalogue endpoint, its checks, and its handler.

Handlers are plain async functions registered with ``@endpoint("METHOD /path")``
in the modules of ``o2g_flows.sim.services``. The router matches the path,
answers 404/405 as RestErrorInfo, checks the session, the ``loginName`` rule,
the licence, query parameter types and the JSON body against the catalogue,
then calls the handler with an ``ApiRequest``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from o2g_flows.spec import API_PREFIX, endpoints, find_type

from .errors import ErrorType, RestError
from .jsonbody import parse_json
from .pbx import Pbx
from .pbx.config import User
from .schema import parse_query_value, validate_body
from .sessions import Session

if TYPE_CHECKING:
    from .server import Gateway

__all__ = ["ApiRequest", "Router", "endpoint", "error_response", "handlers"]

log = logging.getLogger(__name__)

Handler = Callable[["ApiRequest"], Awaitable[Any]]
_HANDLERS: dict[str, tuple[Handler, bool]] = {}


def endpoint(endpoint_id: str, *, session: bool = True) -> Callable[[Handler], Handler]:
    """Register the handler of a catalogue endpoint, e.g. ``"POST /telephony/calls"``."""

    def register(handler: Handler) -> Handler:
        if endpoint_id in _HANDLERS:
            raise ValueError(f"two handlers for {endpoint_id}")
        _HANDLERS[endpoint_id] = (handler, session)
        return handler

    return register


def handlers() -> dict[str, Handler]:
    """Every registered handler by endpoint id (importing all service modules first)."""
    from . import services  # noqa: F401  (registers the handlers)

    return {key: value[0] for key, value in _HANDLERS.items()}


@dataclass(slots=True)
class ApiRequest:
    """What a handler gets: the checked request and the simulator state."""

    http: web.Request
    gateway: Gateway
    session: Session
    path: dict[str, str]
    query: dict[str, Any]
    body: Any
    login: str | None  # the user the request is about (None: an administrator, no loginName)

    @property
    def pbx(self) -> Pbx:
        return self.gateway.pbx

    @property
    def user(self) -> User:
        """The user the request acts for; BAD_PARAMETER if an administrator named none."""
        if self.login is None or self.login not in self.pbx.users:
            raise RestError.bad_parameter("loginName is mandatory for an administrator session")
        return self.pbx.users[self.login]

    def require_admin(self) -> None:
        """NOT_ALLOWED unless the session is an administrator's."""
        if not self.session.admin:
            raise RestError.not_allowed("This operation needs an administrator session")


@dataclass(slots=True)
class _Route:
    endpoint: dict[str, Any]
    pattern: re.Pattern[str]
    handler: Handler
    needs_session: bool
    query_types: dict[str, str]
    success: int
    body_required: bool

    @property
    def has_login_param(self) -> bool:
        return "loginName" in self.query_types


class Router:
    """Matches /api/rest/1.0 requests to catalogue endpoints and runs their checks."""

    def __init__(self) -> None:
        handlers()  # import the service modules
        registered = dict(_HANDLERS)
        missing = [item["id"] for item in endpoints() if item["id"] not in registered]
        if missing:
            raise RuntimeError(f"no simulator handler for {', '.join(missing)}")
        # Routes by (first segment, number of segments): a request meets only a few patterns.
        self._routes: dict[tuple[str, int], list[_Route]] = {}
        for item in endpoints():
            handler, needs_session = registered[item["id"]]
            route = _Route(
                endpoint=item,
                pattern=re.compile(_path_regex(item["path"])),
                handler=handler,
                needs_session=needs_session,
                query_types={q["name"]: q["type"] for q in item["query_params"]},
                success=min((r["code"] for r in item["responses"] if r["code"] < 300), default=204),
                body_required=_body_required(item["body"]),
            )
            self._routes.setdefault(_route_key(item["path"]), []).append(route)
        for routes in self._routes.values():  # literal segments win over parameters
            routes.sort(key=lambda r: r.endpoint["path"].count("{"))

    async def __call__(self, request: web.Request, gateway: Gateway) -> web.StreamResponse:
        try:
            return await self._dispatch(request, gateway)
        except RestError as error:
            return error_response(error)

    async def _dispatch(self, request: web.Request, gateway: Gateway) -> web.StreamResponse:
        path = request.path[len(API_PREFIX) :] or "/"
        candidates = [
            (route, match)
            for route in self._routes.get(_route_key(path), ())
            if (match := route.pattern.fullmatch(path))
        ]
        if not candidates:
            raise RestError.not_found(f"No resource at {request.path}")
        chosen = next(
            ((r, m) for r, m in candidates if r.endpoint["method"] == request.method), None
        )
        if chosen is None:
            allowed = sorted({r.endpoint["method"] for r, _ in candidates})
            raise RestError(
                ErrorType.NOT_SUPPORTED,
                f"{request.method} is not allowed on {request.path} "
                f"(allowed: {', '.join(allowed)})",
                status=405,
            )
        route, match = chosen
        if not gateway.ready:
            raise RestError(ErrorType.NOT_READY, "The gateway is starting")
        session = None
        if route.needs_session:
            session = gateway.sessions.get(
                request.cookies.get("AlcUserId"), request.cookies.get("JSESSIONID")
            )
        query = self._query(request, route)
        path = match.groupdict()
        login = _target_login(route, session, query, path, gateway.pbx) if session else None
        if session is not None and login is not None:
            licenses = route.endpoint["licenses"]["names"]
            if not gateway.pbx.has_license(gateway.pbx.users[login], licenses):
                raise RestError.not_allowed(
                    f"{login} holds none of the licenses {', '.join(licenses)}"
                )
        body = await _body(request, route, gateway)
        api_request = ApiRequest(
            http=request,
            gateway=gateway,
            session=session,
            path=path,
            query=query,
            body=body,
            login=login,
        )
        result = await route.handler(api_request)
        return _render(result, route)

    def _query(self, request: web.Request, route: _Route) -> dict[str, Any]:
        query: dict[str, Any] = {}
        for name, raw in request.query.items():
            if name not in route.query_types:
                continue  # unknown query parameters are ignored, as by the real gateway
            query[name] = parse_query_value(name, raw, route.query_types[name])
        return query


def _route_key(path: str) -> tuple[str, int]:
    segments = path.split("/")
    return segments[1], len(segments)


def _path_regex(path: str) -> str:
    return re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))


def _target_login(
    route: _Route, session: Session, query: dict[str, Any], path: dict[str, str], pbx: Pbx
) -> str | None:
    """Whom the request is about, applying the loginName rules of the spec."""
    if "loginName" in path:
        login = path["loginName"]
        if not session.admin and login != session.login:
            raise RestError.not_allowed(f"{session.login} may not access {login}")
        pbx.user(login)
        return login
    if not session.admin:
        return session.login if session.login in pbx.users else None
    if route.has_login_param:
        login = query.get("loginName")
        if login is None:
            # Snapshots without loginName are for every user (spec: one event per user).
            if route.endpoint["licenses"]["names"] and not route.endpoint["path"].endswith(
                "/snapshot"
            ):
                raise RestError.bad_parameter("loginName is mandatory for an administrator session")
            return None
        pbx.user(login)
        return login
    return None


async def _body(request: web.Request, route: _Route, gateway: Gateway) -> Any:
    body_spec = route.endpoint["body"]
    if body_spec is None:
        return None
    raw = await request.read() if request.can_read_body else b""
    if not raw.strip():
        if route.body_required:
            raise RestError.bad_parameter(f"a {body_spec['type']} body is required")
        return None
    body = parse_json(raw)
    lenient = validate_body(
        body, body_spec["type"], route.endpoint["service"], strict=gateway.strict
    )
    for item in lenient:
        log.debug("%s: %s", route.endpoint["id"], item)
        gateway.count_lenient(f"{route.endpoint['id']} {item}")
    return body


def _body_required(body_spec: dict[str, Any] | None) -> bool:
    """Whether the endpoint's body type has a required field (an empty body is refused)."""
    definition = find_type(body_spec["type"]) if body_spec is not None else None
    return bool(definition and any(f["required"] for f in definition.get("fields", [])))


def _render(result: Any, route: _Route) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=204)
    return web.Response(
        status=route.success if route.success != 204 else 200,
        body=json.dumps(result, separators=(",", ":")).encode(),
        content_type="application/json",
    )


def error_response(error: RestError) -> web.Response:
    """A RestErrorInfo answer."""
    headers = {"WWW-Authenticate": 'Basic realm="O2G"'} if error.status == 401 else None
    return web.Response(
        status=error.status,
        body=json.dumps(error.body()).encode(),
        content_type="application/json",
        headers=headers,
    )

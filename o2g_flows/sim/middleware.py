"""Middlewares of the simulator's application: path normalisation, control API access,
and a RestErrorInfo JSON body for every error, aiohttp's own ones included."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from . import CONTROL_TOKEN_HEADER
from .api import error_response
from .errors import ErrorType, RestError

__all__ = [
    "CONTROL_TOKEN_HEADER",
    "JsonErrorRunner",
    "control_guard",
    "is_loopback",
    "normalise_path",
    "rest_errors",
]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


_ERROR_TYPES = {
    400: ErrorType.BAD_PARAMETER,
    401: ErrorType.NOT_ALLOWED,
    403: ErrorType.NOT_ALLOWED,
    404: ErrorType.NOT_FOUND,
    405: ErrorType.NOT_SUPPORTED,
    503: ErrorType.NOT_READY,
}


def _normal(path: str) -> str:
    path = re.sub("//+", "/", path)
    return path.rstrip("/") or "/"


@web.middleware
async def normalise_path(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A trailing or doubled slash routes like the plain path (the real gateway's Jersey
    does so; ``POST .../subscriptions/`` answers 200 there)."""
    path = _normal(request.path)
    if path != request.path:
        url = request.rel_url.with_path(path).with_query(request.rel_url.query)
        clean = request.clone(rel_url=url)
        match = await request.app.router.resolve(clean)
        match.add_app(request.app)
        clean._match_info = match  # as aiohttp's own normalize_path_middleware does
        return await match.handler(clean)
    return await handler(request)


@web.middleware
async def rest_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's 404/405/413... and unexpected failures answer a RestErrorInfo body."""
    try:
        return await handler(request)
    except RestError as error:
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http(exc, request))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(
            RestError(ErrorType.SERVER_PROBLEM, f"{request.method} {request.path} failed")
        )


def _from_http(exc: web.HTTPException, request: web.Request) -> RestError:
    error_type = _ERROR_TYPES.get(exc.status, ErrorType.BAD_PARAMETER)
    if exc.status == 404:
        message = f"No resource at {request.path}"
    elif exc.status == 405:
        message = f"{request.method} is not allowed on {request.path}"
    else:
        message = exc.text or HTTPStatus(exc.status).phrase
    return RestError(error_type, message, status=exc.status)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def control_guard(token: str | None) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuse ``/sim`` requests without ``token`` in X-Control-Token (None: no check)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is not None and (request.path == "/sim" or request.path.startswith("/sim/")):
            given = request.headers.get(CONTROL_TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                raise RestError(
                    ErrorType.NOT_ALLOWED,
                    f"the control API needs the --control-token in {CONTROL_TOKEN_HEADER}",
                )
        return await handler(request)

    return guard


class _JsonErrorHandler(RequestHandler):
    """aiohttp's connection handler, whose answers to unparsable requests (a bad request
    line or header: 400 before any route) and to failures outside the middlewares are
    RestErrorInfo bodies too."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if already sent
        if status == 400:
            detail = str(exc or message or "").strip().splitlines()
            text = "malformed HTTP request" + (f": {detail[0]}" if detail else "")
        else:
            text = HTTPStatus(status).phrase
        error_type = _ERROR_TYPES.get(status, ErrorType.SERVER_PROBLEM)
        response = error_response(RestError(error_type, text, status=status))
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        # As aiohttp's own ``Server.__call__`` (aiohttp 3.x), with the handler above.
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorRunner(web.AppRunner):
    """An ``AppRunner`` whose connections answer malformed HTTP with RestErrorInfo."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # the same object, with the handler factory above
        return server

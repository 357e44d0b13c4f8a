"""The simulator's HTTP server: O2G bootstrap, REST API, event channel and control API."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import signal
import tempfile
from collections import Counter
from dataclasses import fields, replace
from pathlib import Path

from aiohttp import web

from o2g_flows.spec import API_PREFIX

from .api import Router, error_response
from .errors import ErrorType, RestError
from .eventing import EventHub
from .middleware import (
    JsonErrorRunner,
    control_guard,
    is_loopback,
    normalise_path,
    rest_errors,
)
from .openapi import OPENAPI_PATH, openapi_document
from .pbx import Pbx, PbxConfig, Timing, load_pbx_file
from .sessions import Sessions
from .tls import make_self_signed, server_context

__all__ = ["Gateway", "Simulator"]

#: Distinct leniency descriptions kept in ``/sim/state``.
LENIENT_KINDS = 1000
PRODUCT_VERSION = {"major": "2.3", "minor": "000.041"}


class Gateway:
    """Everything one running simulator holds: PBX, sessions, subscriptions, router."""

    def __init__(
        self, config: PbxConfig, router: Router, *, strict: bool = False, max_sessions: int = 20
    ) -> None:
        self.pbx = Pbx(config)
        self.hub = EventHub(self.pbx, config.timing)
        self.sessions = Sessions(self.pbx, self.hub.session_closed, max_sessions)
        self.router = router
        self.ready = True
        self.strict = strict  # refuse unknown body fields and numbers given as strings
        #: What a lenient body check let through, counted by description.
        self.lenient: Counter[str] = Counter()

    def count_lenient(self, description: str) -> None:
        """Count one leniency; past LENIENT_KINDS descriptions they are counted together
        (a fuzzer's random field names must not grow the counter without end)."""
        if description not in self.lenient and len(self.lenient) >= LENIENT_KINDS:
            description = "(other leniencies)"
        self.lenient[description] += 1

    async def close(self) -> None:
        """Close every session and subscription and cancel the PBX timers."""
        self.sessions.close_all()
        await self.hub.close()
        self.pbx.close()


class Simulator:
    """An O2G gateway with a simulated PBX, on 127.0.0.1, as an async context manager.

    ``pbx`` is a PBX file path, a parsed ``PbxConfig`` or None for the default PBX;
    ``timing`` (a ``Timing`` or a dict of its fields) overrides the file's durations.
    ``strict`` refuses unknown body fields and numbers sent as strings (a real gateway
    accepts both); ``max_sessions`` caps the open sessions of one account;
    ``control_token``, when set, must be sent in X-Control-Token on every ``/sim`` request;
    it is required with a ``host`` other than loopback.
    """

    def __init__(
        self,
        pbx: str | Path | PbxConfig | None = None,
        *,
        timing: Timing | dict[str, float] | None = None,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        strict: bool = False,
        max_sessions: int = 20,
        control_token: str | None = None,
    ) -> None:
        if control_token is None and not is_loopback(host):
            raise ValueError(
                f"host {host!r} is not loopback: give a control_token to protect the /sim API"
            )
        self._pbx_source = pbx
        self._timing = timing
        self._tls = tls
        self._host = host
        self._port = port
        self._strict = strict
        self._max_sessions = max_sessions
        self._control_token = control_token
        self._router: Router | None = None
        self._runner: web.AppRunner | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._key_file: Path | None = None
        self.gateway: Gateway | None = None
        self.ca_file: Path | None = None
        self.url = ""

    @property
    def pbx(self) -> Pbx:
        """The running PBX (its state is what the REST API serves)."""
        assert self.gateway is not None, "the simulator is not running"
        return self.gateway.pbx

    @property
    def ready(self) -> bool:
        """Whether the REST API serves requests (False: 503 NOT_READY, as a starting gateway)."""
        return self.gateway is not None and self.gateway.ready

    @ready.setter
    def ready(self, value: bool) -> None:
        assert self.gateway is not None, "the simulator is not running"
        self.gateway.ready = value

    async def __aenter__(self) -> Simulator:
        try:
            await self.start()
        except BaseException:
            await self.close()  # a failed start leaves no listener and no TLS key folder
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _config(self) -> PbxConfig:
        source = self._pbx_source
        config = copy.deepcopy(source) if isinstance(source, PbxConfig) else load_pbx_file(source)
        if isinstance(self._timing, Timing):
            config.timing = replace(self._timing)
        elif self._timing:
            known = {f.name for f in fields(Timing)}
            unknown = set(self._timing) - known
            if unknown:
                raise ValueError(f"unknown timing field(s): {', '.join(sorted(unknown))}")
            config.timing = replace(config.timing, **self._timing)
        return config

    async def start(self) -> None:
        """Start listening (on the same port again after a ``stop``)."""
        if self._router is None:
            self._router = Router()
        self.gateway = Gateway(
            self._config(), self._router, strict=self._strict, max_sessions=self._max_sessions
        )
        app = build_app(self.gateway, self._control_token)
        self._runner = JsonErrorRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        await self._runner.setup()
        ssl_context = None
        if self._tls:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="o2g-sim-")
                self.ca_file, self._key_file = make_self_signed(Path(self._tmp.name), self._host)
            ssl_context = server_context(self.ca_file, self._key_file)
        site = web.TCPSite(
            self._runner, self._host, self._port, ssl_context=ssl_context, reuse_address=True
        )
        await site.start()
        if self._port == 0:
            self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if self._tls else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"{scheme}://{host}:{self._port}"

    async def stop(self) -> None:
        """Stop listening; open sessions, subscriptions and calls are lost."""
        if self.gateway is not None:
            await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        """Stop, then start on the same port with a fresh PBX (a gateway restart)."""
        await self.stop()
        await self.start()

    async def close(self) -> None:
        """Stop, and remove the self-signed certificate of a TLS simulator."""
        await self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


GATEWAY = web.AppKey("gateway", Gateway)


def build_app(gateway: Gateway, control_token: str | None = None) -> web.Application:
    """The aiohttp application serving one gateway (``/sim`` guarded by ``control_token``)."""
    from .control import control_routes

    app = web.Application(
        client_max_size=4 * 1024 * 1024,
        middlewares=[rest_errors, control_guard(control_token), normalise_path],
    )
    app[GATEWAY] = gateway
    app.router.add_route("*", "/api/rest", _descriptor)
    app.router.add_get(OPENAPI_PATH, _openapi)
    app.router.add_route("*", "/api/rest/authenticate", _authenticate)
    app.router.add_route("*", API_PREFIX + "/{tail:.*}", _api)
    app.router.add_route("*", "/OTEvents", _events)
    app.router.add_routes(control_routes())
    return app


async def _descriptor(request: web.Request) -> web.StreamResponse:
    if request.method != "GET":
        return error_response(
            RestError(ErrorType.NOT_SUPPORTED, "Only GET is allowed on /api/rest", status=405)
        )
    gateway = request.app[GATEWAY]
    if not gateway.ready:
        return error_response(RestError(ErrorType.NOT_READY, "The gateway is starting"))
    origin = str(request.url.origin())
    url = f"{origin}/api/rest/authenticate?version=1.0"
    return web.json_response(
        {
            "serverInfo": {
                "productName": "O2G Solution",
                "productType": "O2G",
                "productVersion": PRODUCT_VERSION,
                "haMode": False,
            },
            "versions": [{"id": "1.0", "status": "CURRENT", "publicUrl": url, "internalUrl": url}],
            "custoFeatures": [],
        }
    )


async def _openapi(request: web.Request) -> web.StreamResponse:
    """The simulator's OpenAPI 3.1 document (no session needed)."""
    return web.Response(text=openapi_document(), content_type="application/json")


async def _authenticate(request: web.Request) -> web.StreamResponse:
    try:
        if request.method != "GET":
            raise RestError(ErrorType.NOT_SUPPORTED, "Only GET is allowed", status=405)
        if request.query.get("version", "1.0") != "1.0":
            raise RestError.not_found(f"Unknown API version {request.query['version']}")
        gateway = request.app[GATEWAY]
        if not gateway.ready:
            raise RestError(ErrorType.NOT_READY, "The gateway is starting")
        _, credential = gateway.sessions.authenticate(request.headers.get("Authorization"))
    except RestError as error:
        return error_response(error)
    sessions_url = f"{request.url.origin()}{API_PREFIX}/sessions"
    response = web.json_response(
        {"credential": credential, "publicUrl": sessions_url, "internalUrl": sessions_url}
    )
    response.set_cookie("AlcUserId", credential, path="/")
    return response


async def _api(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    return await gateway.router(request, gateway)


async def _events(request: web.Request) -> web.StreamResponse:
    """The chunk channel of a subscription (POST, or GET as browsers do)."""
    gateway = request.app[GATEWAY]
    if request.method not in ("GET", "POST"):
        return error_response(RestError(ErrorType.NOT_SUPPORTED, "Use GET or POST", status=405))
    subscription = gateway.hub.get(request.query.get("subscriptionId", ""))
    if subscription is None:
        return error_response(RestError.not_found("Unknown subscription"))
    return await gateway.hub.serve_channel(request, subscription)


async def run_standalone(simulator: Simulator, source: str | Path | None) -> None:
    """Serve until interrupted or terminated (``o2g-flows sim``); the TLS key folder is
    removed however the simulator stops, a failed start included."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    for stop in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, AttributeError):  # not on Windows
            loop.add_signal_handler(stop, main.cancel)
    try:
        await simulator.start()
        print(
            f"O2G simulator listening on {simulator.url}  (PBX: {source or 'default'})", flush=True
        )
        if simulator.ca_file:
            print(f"self-signed certificate: {simulator.ca_file}", flush=True)
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        pass
    finally:
        await simulator.close()

"""A read-only status server for a running engine: JSON API, Prometheus metrics, a web page.

    app = status_app(engine, watcher=watcher, metrics=metrics, token=None)
    runner = await serve(app, "127.0.0.1", 8181)   # ... await runner.cleanup()

| request | answer |
|---|---|
| ``GET /`` | the status page (one HTML file, no build step, no CDN) |
| ``GET /api/status`` | flows, broken files, counts, upcoming schedules, plugin services |
| ``GET /api/executions[?flow=NAME]`` | live executions: state, key, age, timer deadlines |
| ``GET /api/executions/{id}`` | one live execution with its trace (404 once it ended) |
| ``GET /api/traces[?flow=NAME&failed=1&limit=N]`` | finished executions, newest first |
| ``GET /api/traces/{id}`` | one trace, every step |
| ``GET /api/drops`` | the last events flows listened to and dropped, and why |
| ``GET /api/flows/{name}/graph`` | the flow's machine as Mermaid ``stateDiagram-v2`` |
| ``GET /metrics`` | Prometheus text format |

With a ``token``, every request must carry it (``Authorization: Bearer TOKEN``, or
``?token=TOKEN`` for the page); without one the server must only listen on loopback.
Nothing served holds a password, token or session cookie.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from ..engine import Engine, Store
from ..engine.graph import mermaid
from ..engine.reload import FlowWatcher
from .metrics import Metrics

__all__ = ["StatusBoard", "serve", "status_app"]


@dataclass
class StatusBoard:
    """What the status server shows: the engine while this instance is active (None while
    it waits as standby on a shared store), its watcher and metrics, and its store."""

    engine: Engine | None = None
    watcher: FlowWatcher | None = None
    metrics: Metrics | None = None
    store: Store | None = None
    services: dict[str, dict[str, Any]] = field(default_factory=dict)


_BOARD = web.AppKey("board", StatusBoard)
_TOKEN = web.AppKey("token", object)
_PAGE = web.AppKey("page", bytes)


class _Standby(Exception):
    """Asked for what only an active instance has."""


def status_app(
    source: Engine | StatusBoard,
    *,
    watcher: FlowWatcher | None = None,
    metrics: Metrics | None = None,
    token: str | None = None,
) -> web.Application:
    """The status server's application for an engine (and its watcher and metrics), or for
    a ``StatusBoard`` the runner updates as the instance becomes active or standby."""
    board = source
    if isinstance(source, Engine):
        board = StatusBoard(source, watcher, metrics, source.store)
    app = web.Application(middlewares=[_authorise])
    app[_BOARD] = board  # type: ignore[assignment]
    app[_TOKEN] = token
    app[_PAGE] = resources.files(__package__).joinpath("status.html").read_bytes()
    app.router.add_get("/", _page)
    app.router.add_get("/api/status", _status)
    app.router.add_get("/api/executions", _executions)
    app.router.add_get("/api/executions/{id}", _execution)
    app.router.add_get("/api/traces", _traces)
    app.router.add_get("/api/traces/{id}", _trace)
    app.router.add_get("/api/drops", _drops)
    app.router.add_get("/api/flows/{name}/graph", _graph)
    app.router.add_get("/metrics", _metrics)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving ``app``; returns the runner (``await runner.cleanup()`` stops it)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return runner


@web.middleware
async def _authorise(request: web.Request, handler: Any) -> web.StreamResponse:
    token = request.app[_TOKEN]
    if token is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        given = given or request.query.get("token", "")
        if not hmac.compare_digest(given.encode(), str(token).encode()):
            return _json({"error": "a valid token is required"}, status=401)
    try:
        return await handler(request)
    except _Standby:
        return _json({"error": _standby_text(request.app[_BOARD])}, status=503)


def _standby_text(board: StatusBoard) -> str:
    holder = getattr(board.store, "holder", None)
    if holder:
        return f"this instance is standby: {holder[0]} is active (token {holder[1]})"
    return "this instance is standby: no engine runs here now"


def _engine(request: web.Request) -> Engine:
    engine = request.app[_BOARD].engine
    if engine is None:
        raise _Standby
    return engine


def _json(value: Any, status: int = 200) -> web.Response:
    body = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    return web.Response(body=body, status=status, content_type="application/json")


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


async def _page(request: web.Request) -> web.Response:
    return web.Response(body=request.app[_PAGE], content_type="text/html", charset="utf-8")


async def _status(request: web.Request) -> web.Response:
    board = request.app[_BOARD]
    engine, watcher = board.engine, board.watcher
    if engine is None:
        return _json(
            {"role": "standby", "active": _standby_text(board), "store": _store_view(board.store)}
        )
    flows = []
    for name, runtime in sorted(engine.flows.items()):
        flow = runtime.flow
        flows.append(
            {
                "name": name,
                "file": flow.file,
                "kind": "rule" if flow.is_rule else "machine",
                "states": list(flow.states),
                "live": len(runtime.runs()),
                "version": flow.digest,
            }
        )
    pending = getattr(engine.timers, "pending", None)
    return _json(
        {
            "now": _iso(engine.clock.time()),
            "flows": flows,
            "broken": [str(error) for error in watcher.errors] if watcher is not None else [],
            "executions": sum(flow["live"] for flow in flows),
            "timers": pending() if pending is not None else None,
            "finished": len(engine.traces),
            "failed": len(engine.traces.query(failed=True)),
            "dropped": engine.traces.drop_count,
            "schedules": [
                {"flow": flow, "schedule": name, "next": _iso(due)}
                for flow, name, due in engine.schedules.upcoming()
            ],
            "store": _store_view(engine.store),
            "services": board.services,
        }
    )


def _store_view(store: Store | None) -> dict[str, Any]:
    """Where the state is kept and, for a shared store, this instance's lease."""
    if store is None:
        return {}
    view: dict[str, Any] = {"kind": type(store).__name__, "durable": store.durable}
    if hasattr(store, "token"):
        holder = getattr(store, "holder", None)
        view.update(role="standby" if holder else "active", token=store.token)
        view.update(takeovers=store.takeovers, refused=store.refused)
        if holder:
            view["holder"] = {"name": holder[0], "token": holder[1]}
    return view


def _execution_view(engine: Engine, execution: Any) -> dict[str, Any]:
    now = engine.clock.time()
    return {
        "id": execution.id,
        "flow": execution.flow,
        "key": execution.key,
        "state": execution.state,
        "started": _iso(execution.started),
        "age": round(now - execution.started, 3),
        "timers": [_iso(due) for due in execution.deadlines or () if due is not None],
        "planned": len(execution.plan),
    }


async def _executions(request: web.Request) -> web.Response:
    engine = _engine(request)
    flow = request.query.get("flow")
    if flow is not None and flow not in engine.flows:
        return _json({"error": f"no flow {flow!r} is loaded"}, status=404)
    found = sorted(engine.executions(flow), key=lambda execution: execution.id)
    return _json([_execution_view(engine, execution) for execution in found])


def _ident(request: web.Request) -> int | None:
    try:
        return int(request.match_info["id"])
    except ValueError:
        return None


async def _execution(request: web.Request) -> web.Response:
    engine = _engine(request)
    ident = _ident(request)
    for execution in engine.executions():
        if execution.id == ident:
            view = _execution_view(engine, execution)
            view["trace"] = engine.traces.current(execution).to_dict(engine.traces.redact_numbers)
            return _json(view)
    if any(trace.serial == ident for trace in engine.traces):
        return _json(
            {"error": f"execution {ident} has ended", "trace": f"/api/traces/{ident}"},
            status=404,
        )
    return _json({"error": f"no execution {request.match_info['id']!r}"}, status=404)


async def _traces(request: web.Request) -> web.Response:
    engine = _engine(request)
    failed = request.query.get("failed") in ("1", "true", "yes")
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "100"))))
    except ValueError:
        return _json({"error": "limit must be a number"}, status=400)
    traces = engine.traces.query(flow=request.query.get("flow"), failed=failed or None)
    return _json(
        [
            {
                "id": trace.serial,
                "flow": trace.flow,
                "key": trace.key,
                "outcome": trace.outcome,
                "failed": trace.failed,
                "started": _iso(trace.started),
                "ended": _iso(trace.ended),
                "states": trace.states(),
            }
            for trace in reversed(traces[-limit:])
        ]
    )


async def _trace(request: web.Request) -> web.Response:
    engine = _engine(request)
    ident = _ident(request)
    for trace in engine.traces:
        if trace.serial == ident:
            return _json(trace.to_dict())  # kept traces are already redacted if asked
    return _json({"error": f"no finished execution {request.match_info['id']!r}"}, status=404)


async def _drops(request: web.Request) -> web.Response:
    engine = _engine(request)
    return _json(
        [
            {"at": _iso(drop.at), "flow": drop.flow, "event": drop.name, "reason": drop.reason}
            for drop in reversed(engine.traces.drops())
        ]
    )


async def _graph(request: web.Request) -> web.Response:
    engine = _engine(request)
    runtime = engine.flows.get(request.match_info["name"])
    if runtime is None:
        return _json({"error": f"no flow {request.match_info['name']!r} is loaded"}, status=404)
    states = {execution.state for execution in engine.executions(runtime.flow.name)}
    return web.Response(text=mermaid(runtime.flow, active=states), content_type="text/plain")


async def _metrics(request: web.Request) -> web.Response:
    metrics = request.app[_BOARD].metrics
    if request.app[_BOARD].engine is None:
        raise _Standby
    if metrics is None:
        return _json({"error": "metrics are off"}, status=404)
    return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8")

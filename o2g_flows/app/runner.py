"""``o2g-flows run``: the engine against a gateway, or against the embedded simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..client import O2GClient
from ..engine.gateway import LiveGateway
from ..engine.live import LiveRun
from ..engine.model import Flow
from ..engine.observer import LogObserver
from ..engine.registry import PluginSettings, Registry, ServiceContext
from ..engine.reload import FlowWatcher
from ..engine.runtime import Engine
from ..engine.store import (
    FencingError,
    Restored,
    SqliteStore,
    Store,
    StoreError,
    default_state_path,
    open_store,
)
from ..engine.trace import TraceStore
from ..plugins import discover
from .console import describe_event
from .traffic import play

if TYPE_CHECKING:
    from aiohttp import web

    from ..engine.store.postgres import PostgresStore
    from .metrics import Metrics
    from .status import StatusBoard

__all__ = ["check_plugin_settings", "run_flows"]

log = logging.getLogger("o2g_flows.engine")


async def run_flows(args: argparse.Namespace, registry: Registry, flows: list[Flow]) -> int:
    """Run ``flows`` until SIGINT/SIGTERM or ``args.duration`` has passed; the exit status.

    On a shared (PostgreSQL) store the instance waits as standby until it holds the lease,
    and goes back to waiting when another instance takes the lease over.
    """
    problems = check_plugin_settings(registry, getattr(args, "plugin_settings", {}))
    for problem in problems:
        log.error("%s", problem)
    if problems:
        return 2
    address = None
    if args.status:
        address = _status_address(args.status, args.status_token)
        if address is None:
            return 4
    store = open_store(_state_place(args), lease=args.lease)
    board: StatusBoard | None = None
    status = None
    if address is not None:  # served as standby too: it says which instance is active
        from .status import StatusBoard

        board = StatusBoard(store=store)
        status = await _serve_status(address, args.status_token, board)
        if status is None:
            return 4
    ending = [asyncio.create_task(_signalled())]  # a signal, or the duration is over
    if args.duration is not None:
        ending.append(asyncio.create_task(asyncio.sleep(args.duration)))
    try:
        if store.shared:
            await store.connect()  # unreachable or refused: one line, exit 3
        while True:
            opening = asyncio.create_task(store.open())  # a standby waits here
            comparing = None
            if store.shared:
                comparing = asyncio.create_task(_compare_flows(store, flows))
            await asyncio.wait([opening, *ending], return_when=asyncio.FIRST_COMPLETED)
            if comparing is not None:
                comparing.cancel()
                await asyncio.gather(comparing, return_exceptions=True)
            if not opening.done():
                opening.cancel()
                await asyncio.gather(opening, return_exceptions=True)
                _stopping(ending[0])
                return 0
            restored = opening.result()
            where = store.path if isinstance(store, SqliteStore) else getattr(store, "where", "")
            if store.durable:
                log.info("state    %s: %d execution(s) to restore", where, len(restored.executions))
            try:
                return await _serve(args, registry, flows, store, restored, ending, board)
            except FencingError:
                log.info("standby  waiting to take the lease again")
    except StoreError as exc:
        log.error("%s", exc)
        return 3
    finally:
        for task in ending:
            task.cancel()
        await asyncio.gather(*ending, return_exceptions=True)
        await store.close()
        if status is not None:
            await status.cleanup()


async def _serve(
    args: argparse.Namespace,
    registry: Registry,
    flows: list[Flow],
    store: Store,
    restored: Restored,
    ending: list[asyncio.Task[Any]],
    board: StatusBoard | None,
) -> int:
    """Log in, run the engine on ``store`` until one of ``ending`` is done; the exit status.
    Raises ``FencingError`` when another instance took the store over."""
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(store.close)
        sim = None
        if args.server is None:
            from ..sim import Simulator

            sim = await stack.enter_async_context(Simulator(args.sim_pbx, port=args.sim_port))
            url, login, password = sim.url, args.login or "admin", args.password or "admin"
            pbx = args.sim_pbx or "default PBX"
            log.info("embedded simulator on %s (%s), logging in as %s", url, pbx, login)
        else:
            if not (args.login and args.password):
                log.error("--server needs --login and --password (or $O2G_LOGIN/$O2G_PASSWORD)")
                return 2
            url, login, password = args.server, args.login, args.password
        verify: Any = False if args.insecure else (args.ca or True)
        client = await stack.enter_async_context(
            O2GClient(url, login, password, secondary_url=args.secondary, verify=verify)
        )
        gateway = LiveGateway(client, admin=bool(client.session.get("admin")))
        stack.push_async_callback(gateway.aclose)
        engine = Engine(
            flows,
            gateway,
            registry=registry,
            store=store,
            observers=[LogObserver()],
            timezone=args.timezone,
            grace=args.grace,
            traces=TraceStore(redact_numbers=args.redact),
        )
        for flow in flows:
            kind = "rule" if flow.is_rule else f"machine ({', '.join(flow.states)})"
            log.info(
                "flow     %s: %s, key %s, mode %s", flow.name, kind, flow.key.source, flow.mode
            )
        sources = [
            source
            for source in registry.sources.values()
            if set(source.events) & engine.event_names()
        ]
        metrics = None
        if board is not None:
            from .metrics import Metrics

            metrics = Metrics(engine)
        live_run = LiveRun(
            engine, client, record=args.record, sources=sources, on_event=_echo(engine, metrics)
        )
        watcher = FlowWatcher(
            engine,
            args.paths,
            registry=registry,
            plugin_folders=args.plugin_folders,
            plugins=lambda: discover(args.plugin_folders)[0],
            on_update=lambda _: _after_reload(live_run),
        )
        if metrics is not None:
            metrics.watch_client(client)
            metrics.watch_reloads(watcher)
        contexts = [
            ServiceContext(name, client, section, engine.emit)
            for name, section in getattr(args, "plugin_settings", {}).items()
            if name in registry.services
        ]
        if board is not None:
            board.engine, board.watcher, board.metrics = engine, watcher, metrics
            board.services = {context.name: context.status for context in contexts}
            stack.callback(_standing_by, board)
        ready = asyncio.Event()
        running = asyncio.create_task(live_run.run(ready, restored))
        tasks = [running, asyncio.create_task(_reload_on_hangup(watcher))]
        tasks.append(asyncio.create_task(_freeze_start_up(ready)))
        tasks += [asyncio.create_task(_service(registry, context, ready)) for context in contexts]
        if args.reload:
            tasks.append(asyncio.create_task(watcher.run()))
        if sim is not None and args.steps:
            tasks.append(asyncio.create_task(_traffic(ready, args.steps, sim.url)))
        try:
            await asyncio.wait([running, *ending], return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                running.result()  # raises what stopped it (FencingError: stepped down)
            _stopping(ending[0])
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        _summary(engine, args.show_traces)
    return 0


def check_plugin_settings(registry: Registry, sections: dict[str, PluginSettings]) -> list[str]:
    """What is wrong with the ``plugin_settings`` sections: a section no loaded plugin runs,
    and each service's own ``check``; one located line each."""
    problems = []
    for name, section in sections.items():
        service = registry.services.get(name)
        if service is None:
            known = ", ".join(sorted(registry.services)) or "none loaded"
            problems.append(f"{section.where()}: no plugin service named {name!r} ({known})")
        elif service.check is not None:
            problems.extend(service.check(section))
    return problems


async def _service(registry: Registry, context: ServiceContext, ready: asyncio.Event) -> None:
    """Run a plugin service once the engine is subscribed; a failure is logged, not fatal."""
    await ready.wait()
    try:
        await registry.services[context.name].run(context)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("service %s stopped", context.name)
        context.status["stopped"] = "failed (see the log)"


def _echo(engine: Engine, metrics: Metrics | None) -> Callable[[dict[str, Any]], None]:
    """A line on the console for each O2G event some flow listens to; each event counted."""

    def echo(event: dict[str, Any]) -> None:
        if metrics is not None:
            metrics.received(event)
        if engine.listens_to(event.get("eventName", "")) and log.isEnabledFor(logging.INFO):
            log.info("event    %s", describe_event(event), extra={"event": event["eventName"]})

    return echo


def _status_address(text: str, token: str | None) -> tuple[str, int] | None:
    """``--status HOST:PORT`` as ``(host, port)``; None (and a line) if it cannot be used."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        log.error("--status %s: give HOST:PORT, e.g. 127.0.0.1:8181", text)
        return None
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        log.error(
            "--status %s is not loopback: set $O2G_STATUS_TOKEN (or status.token_file) so "
            "that only those who hold it can look inside",
            text,
        )
        return None
    return host, int(port)


async def _serve_status(
    address: tuple[str, int], token: str | None, board: StatusBoard
) -> web.AppRunner | None:
    """Start the status server; None (and a line) if it cannot listen."""
    from .status import serve, status_app

    host, port = address
    app = status_app(board, token=token)
    try:
        runner = await serve(app, host, port)
    except OSError as exc:
        log.error("--status %s:%d: cannot listen there (%s)", host, port, exc.strerror or exc)
        return None
    log.info("status   http://%s:%d/ (API under /api, metrics at /metrics)", host, port)
    return runner


def _standing_by(board: StatusBoard) -> None:
    """The engine stopped (or stepped down): the status server shows no engine."""
    board.engine = board.watcher = board.metrics = None
    board.services = {}


async def _freeze_start_up(ready: asyncio.Event) -> None:
    """Once running, keep what start-up made (modules, flows, restored executions) out of the
    garbage collector's full passes: each then costs what the run adds since, not 30 ms and
    more for the imported libraries alone. Refcounting still frees frozen objects."""
    await ready.wait()
    gc.collect()
    gc.freeze()


async def _after_reload(live_run: LiveRun) -> None:
    """Follow the new flows' subscription needs; freeze again without the replaced flows."""
    await live_run.follow_flows()
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def _reload_on_hangup(watcher: FlowWatcher) -> None:
    """SIGHUP reloads the flows and plugins (as an edit would, ``--no-reload`` or not)."""
    loop = asyncio.get_running_loop()
    hangups: asyncio.Queue[None] = asyncio.Queue()
    loop.add_signal_handler(signal.SIGHUP, hangups.put_nowait, None)
    try:
        while True:
            await hangups.get()
            log.info("SIGHUP: reloading flows and plugins")
            await watcher.reload(plugins_changed=True)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


async def _compare_flows(store: PostgresStore, flows: list[Flow]) -> None:
    """While standby: say (once per change) how the active's flows differ from these."""
    mine = {flow.name: flow.digest for flow in flows if flow.enabled}
    said: str | None = None
    while True:
        theirs = await store.peek_meta("flows")
        if theirs is not None and theirs != said:
            said = theirs
            active = orjson.loads(theirs)
            differ = [
                f"{name} ({_difference(name in mine, name in active)})"
                for name in sorted(set(mine) | set(active))
                if mine.get(name) != active.get(name)
            ]
            if differ:
                log.warning(
                    "standby  the active runs other flows (its own rule until this instance "
                    "takes over): %s",
                    ", ".join(differ),
                )
        await asyncio.sleep(2)


def _difference(here: bool, there: bool) -> str:
    return "another version" if here and there else "only here" if here else "only on the active"


def _stopping(signalled: asyncio.Task[str]) -> None:
    if signalled.done() and not signalled.cancelled():
        log.info("%s: stopping", signalled.result())


def _state_place(args: argparse.Namespace) -> str | None:
    """``--state``; by default none on the embedded simulator (each run starts a new PBX),
    else one file per gateway in the user's state folder."""
    if args.state is not None:
        return args.state
    if args.server is None:
        return None
    return str(default_state_path(args.server))


async def _signalled() -> str:
    """Wait for SIGINT or SIGTERM; returns the signal's name."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[str] = loop.create_future()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(
            sig, lambda name=sig.name: received.done() or received.set_result(name)
        )
    try:
        return await received
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _traffic(ready: asyncio.Event, steps: list[Any], url: str) -> None:
    await ready.wait()
    await play(steps, url)
    log.info("traffic  done; the flows keep running (Ctrl-C to stop)")


def _summary(engine: Engine, show: bool) -> None:
    traces = list(engine.traces)
    failed = engine.traces.query(failed=True)
    kept = sum(1 for trace in traces if trace.outcome == "suspended")
    log.info(
        "stopped: %d execution(s) finished, %d with errors%s",
        len(traces) - kept,
        len(failed),
        f"; {kept} kept in the state file for the next start" if kept else "",
    )
    if show:
        for trace in traces:
            print(trace.format(engine.traces.redact_numbers))

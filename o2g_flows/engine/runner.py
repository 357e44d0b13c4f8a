"""``o2g-flows run``: the engine against a gateway, or against the embedded simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import Any

from ..client import O2GClient
from . import live
from .gateway import LiveGateway
from .model import Flow
from .registry import Registry
from .runtime import Engine
from .trace import TraceStore
from .traffic import play

__all__ = ["run_flows"]

log = logging.getLogger("o2g_flows.engine")


async def run_flows(args: argparse.Namespace, registry: Registry, flows: list[Flow]) -> int:
    """Run ``flows`` until interrupted or ``args.duration`` has passed; the exit status."""
    async with contextlib.AsyncExitStack() as stack:
        sim = None
        if args.server is None:
            from ..sim import Simulator

            sim = await stack.enter_async_context(Simulator())
            url, login, password = sim.url, args.login or "admin", args.password or "admin"
            log.info("embedded simulator on %s (default PBX), logged in as %s", url, login)
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
            timezone=args.timezone,
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
        ready = asyncio.Event()
        running = asyncio.create_task(
            live.run(engine, client, record=args.record, sources=sources, ready=ready, echo=True)
        )
        ending = [running]  # the engine stops, or the duration is over
        if args.duration is not None:
            ending.append(asyncio.create_task(asyncio.sleep(args.duration)))
        tasks = list(ending)
        if sim is not None and args.steps:
            tasks.append(asyncio.create_task(_traffic(ready, args.steps, sim.url)))
        try:
            done, _ = await asyncio.wait(ending, return_when=asyncio.FIRST_COMPLETED)
            if running in done:
                running.result()  # raises what stopped it
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        _summary(engine, args.show_traces)
    return 0


async def _traffic(ready: asyncio.Event, steps: list[Any], url: str) -> None:
    await ready.wait()
    await play(steps, url)
    log.info("traffic  done; the flows keep running (Ctrl-C to stop)")


def _summary(engine: Engine, show: bool) -> None:
    traces = list(engine.traces)
    failed = engine.traces.query(failed=True)
    log.info("stopped: %d execution(s) finished, %d with errors", len(traces), len(failed))
    if show:
        for trace in traces:
            print(trace.format(engine.traces.redact_numbers))

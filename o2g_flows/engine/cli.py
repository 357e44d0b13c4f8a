"""``o2g-flows run | validate | test``: the engine on the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .._yaml import SourceError
from ..plugins import discover
from .loader import LoadResult, load_flows
from .registry import Registry
from .traffic import load_traffic
from .webhook import DEFAULT_HOST, DEFAULT_PORT, WEBHOOK_EVENT, WebhookServer, webhook_source

__all__ = ["register"]

log = logging.getLogger("o2g_flows.engine")


def register(subparsers: Any) -> None:
    """Add the ``run``, ``validate`` and ``test`` subcommands."""
    run = subparsers.add_parser(
        "run",
        help="run flows (on the embedded simulator unless --server is given)",
        description="Run the flows of FLOW_DIR... on O2G events. Without --server an "
        "embedded simulator (default PBX) is started, logged in as admin, and demo calls "
        "are placed so the flows can be seen at work (--traffic FILE places yours).",
    )
    _paths(run)
    run.add_argument("--server", metavar="URL", help="O2G gateway, e.g. https://o2g.example.com")
    run.add_argument("--secondary", metavar="URL", help="the secondary gateway of an HA pair")
    run.add_argument(
        "--login",
        default=os.environ.get("O2G_LOGIN"),
        help="login (default $O2G_LOGIN; admin on the embedded simulator)",
    )
    run.add_argument(
        "--password",
        default=os.environ.get("O2G_PASSWORD"),
        help="password (default $O2G_PASSWORD)",
    )
    run.add_argument("--ca", metavar="FILE", help="CA bundle to verify the gateway with")
    run.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    run.add_argument(
        "--traffic",
        metavar="FILE",
        help="calls to place on the embedded simulator (YAML, see examples/)",
    )
    run.add_argument(
        "--no-traffic", action="store_true", help="place no demo calls on the embedded simulator"
    )
    run.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this long (default: run until interrupted)",
    )
    run.add_argument("--record", metavar="FILE", help="append every event to FILE (JSON lines)")
    run.add_argument("--timezone", help="time zone of now in expressions (default: local)")
    run.add_argument(
        "--state",
        metavar="FILE",
        help="where executions and timers are kept across restarts (SQLite; ':memory:' for "
        "nowhere). Default: none on the embedded simulator, else "
        "$XDG_STATE_HOME/o2g-flows/HOST.sqlite (~/.local/state/...)",
    )
    run.add_argument(
        "--grace",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how late a timer or schedule that came due while stopped may still fire at "
        "start (default 300)",
    )
    run.add_argument(
        "--no-reload", action="store_true", help="do not watch the flow and plugin folders"
    )
    run.add_argument(
        "--webhook",
        metavar="HOST:PORT",
        default=f"{DEFAULT_HOST}:{DEFAULT_PORT}",
        help="where POST /hooks/NAME is received when a flow listens to OnWebhook (default "
        f"{DEFAULT_HOST}:{DEFAULT_PORT}; elsewhere than loopback needs "
        "$O2G_FLOWS_WEBHOOK_TOKEN)",
    )
    run.add_argument("--redact", action="store_true", help="mask phone numbers in kept traces")
    run.add_argument(
        "--show-traces", action="store_true", help="print the kept traces when stopping"
    )
    run.set_defaults(handler=_run)

    validate = subparsers.add_parser(
        "validate", help="check flows and report every error (exit 1 if any)"
    )
    _paths(validate)
    validate.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 1 on any)"
    )
    validate.set_defaults(handler=_validate)

    test = subparsers.add_parser(
        "test", help="run the flows' tests offline, or replay an event log (exit 1 on failure)"
    )
    _paths(test)
    test.add_argument("--replay", metavar="LOG", help="replay a recorded event log (JSON lines)")
    test.add_argument("--timezone", help="time zone of now in expressions (default: local)")
    test.set_defaults(handler=_test)


def _paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="FLOW_DIR", help="flow files or folders")
    parser.add_argument(
        "--plugins",
        action="append",
        metavar="DIR",
        help="plugin folder (default: ./plugins if present); repeatable",
    )


def _load(args: argparse.Namespace) -> tuple[Registry, LoadResult]:
    """The plugins (their errors printed as warnings) and the flows of ``args.paths``."""
    if args.handler is not _run and logging.getLogger().level > logging.DEBUG:
        log.setLevel(logging.WARNING)  # offline runs report results, not every step
    folders = args.plugins if args.plugins else ["plugins"]
    args.plugin_folders = [folder for folder in folders if Path(folder).is_dir()]
    registry, plugin_errors = discover(folders)
    for error in plugin_errors:
        print(f"warning: {error}", file=sys.stderr)
    for name in registry.plugins:
        log.debug("plugin loaded: %s", name)
    return registry, load_flows(args.paths, registry)


def _validate(args: argparse.Namespace) -> int:
    _, result = _load(args)
    if not result.files and not result.errors:
        print(f"no flow files (*.yaml, *.yml) in {', '.join(args.paths)}")
        return 1
    for error in result.errors:
        print(error)
    _print_warnings(result)
    warned = f", {len(result.warnings)} warning(s)" if result.warnings else ""
    print(
        f"{len(result.flows)} flow(s) valid, {len(result.errors)} error(s){warned} in "
        f"{len(result.files)} file(s)"
    )
    return 1 if result.errors or (args.strict and result.warnings) else 0


def _print_warnings(result: LoadResult) -> None:
    for warning in result.warnings:
        print(f"{warning.location}: warning: {warning.message}")


def _test(args: argparse.Namespace) -> int:
    from .testing import replay, run_tests

    registry, result = _load(args)
    if not result.files and not result.errors:
        print(f"no flow files (*.yaml, *.yml) in {', '.join(args.paths)}")
        return 1
    for error in result.errors:
        print(error)
    _print_warnings(result)
    if args.replay:
        report = asyncio.run(replay(result.flows, args.replay, registry, args.timezone))
        print(report.report())
        return 1 if result.errors or report.errors else 0
    results = asyncio.run(run_tests(result.flows, registry, args.timezone))
    failed = [r for r in results if not r.passed]
    for item in results:
        print(item.report())
    untested = [flow.name for flow in result.flows if not flow.tests]
    if untested:
        print(f"flows without tests: {', '.join(untested)}")
    print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed"
        + (f", {len(result.errors)} load error(s)" if result.errors else "")
    )
    return 1 if failed or result.errors else 0


def _run(args: argparse.Namespace) -> int:
    from .console import setup_console
    from .runner import run_flows

    setup_console(verbose=logging.getLogger().level <= logging.DEBUG)
    registry, result = _load(args)
    for error in result.errors:
        log.error("%s", error)
    if not result.flows:
        log.error("no valid flow to run")
        return 1
    if any(WEBHOOK_EVENT in flow.events() for flow in result.flows):
        try:  # bound now: a port in use stops here, in one line, not a deaf engine later
            host, _, port = args.webhook.rpartition(":")
            server = WebhookServer(host, int(port), os.environ.get("O2G_FLOWS_WEBHOOK_TOKEN", ""))
            registry.sources["webhook"] = webhook_source(server.bind())
        except (OSError, ValueError) as exc:
            log.error("%s", exc)
            return 2
    args.steps = []
    if args.server is None and not args.no_traffic:
        if args.traffic and not Path(args.traffic).is_file():
            log.error("--traffic %s: no such file", args.traffic)
            return 1
        try:
            args.steps = load_traffic(args.traffic)
        except SourceError as exc:
            log.error("%s", exc)
            return 1
    return asyncio.run(run_flows(args, registry, result.flows))

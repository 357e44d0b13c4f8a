"""``o2g-flows run | validate | test``: the engine on the command line.

Each command imports what it uses when it runs: ``validate`` loads flows without the
client, the simulator or an HTTP server; ``--help`` imports none of them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.webhook import DEFAULT_HOST, DEFAULT_PORT
from . import reports

if TYPE_CHECKING:
    from ..client import O2GError
    from ..engine.loader import LoadResult
    from ..engine.registry import Registry

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
    run.add_argument(
        "paths", nargs="*", metavar="FLOW_DIR", help="flow files or folders (default: flows)"
    )
    run.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: o2g-flows.yaml if present); every setting also "
        "from O2G_* variables; flags win (o2g-flows config check shows the result)",
    )
    run.add_argument("--plugins", action="append", metavar="DIR", help="plugin folder")
    run.add_argument("--server", metavar="URL", help="O2G gateway, e.g. https://o2g.example.com")
    run.add_argument("--secondary", metavar="URL", help="the secondary gateway of an HA pair")
    run.add_argument("--login", help="login ($O2G_LOGIN; admin on the embedded simulator)")
    run.add_argument(
        "--password",
        help="password (better: $O2G_PASSWORD, $O2G_PASSWORD_FILE or the configuration)",
    )
    run.add_argument("--ca", metavar="FILE", help="CA bundle to verify the gateway with")
    run.add_argument(
        "--insecure", action="store_true", default=None, help="do not verify TLS certificates"
    )
    run.add_argument(
        "--status",
        metavar="HOST:PORT",
        help="serve the status page, API and /metrics there (e.g. 127.0.0.1:8181); off "
        "by default; a host other than loopback needs $O2G_STATUS_TOKEN",
    )
    run.add_argument(
        "--traffic",
        metavar="FILE",
        help="calls to place on the embedded simulator (YAML, see examples/; also "
        "simulator.traffic in the configuration)",
    )
    run.add_argument(
        "--no-traffic", action="store_true", help="place no demo calls on the embedded simulator"
    )
    run.add_argument(
        "--sim-port", type=int, default=0, metavar="PORT", help="the embedded simulator's port"
    )
    run.add_argument(
        "--sim-pbx",
        metavar="FILE",
        help="the embedded simulator's PBX file (see o2g-flows sim; also simulator.pbx)",
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
        metavar="FILE|URL",
        help="where executions and timers are kept across restarts: a SQLite file, or a "
        "postgresql:// URL that several instances share, one active at a time (':memory:' "
        "for nowhere). Default: none on the embedded simulator, else "
        "$XDG_STATE_HOME/o2g-flows/HOST.sqlite (~/.local/state/...)",
    )
    run.add_argument(
        "--lease",
        type=float,
        metavar="SECONDS",
        help="with a PostgreSQL --state: how long the active instance may go without "
        "renewing its lease before a standby takes over (default 4; a killed active is "
        "replaced within half a second)",
    )
    run.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="how late a timer or schedule that came due while stopped may still fire at "
        "start (default 300)",
    )
    run.add_argument(
        "--no-reload",
        dest="reload",
        action="store_false",
        default=None,
        help="do not watch the flow and plugin folders (SIGHUP still reloads)",
    )
    run.add_argument(
        "--webhook",
        metavar="HOST:PORT",
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
    validate.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text for people (default), json, or github (Actions annotations)",
    )
    validate.set_defaults(handler=_validate)

    schema = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of a flow file, with the actions of the plugins given",
    )
    schema.add_argument("--plugins", action="append", metavar="DIR", help="plugin folder")
    schema.set_defaults(handler=_schema)

    test = subparsers.add_parser(
        "test", help="run the flows' tests offline, or replay an event log (exit 1 on failure)"
    )
    _paths(test)
    test.add_argument("--replay", metavar="LOG", help="replay a recorded event log (JSON lines)")
    test.add_argument("--timezone", help="time zone of now in expressions (default: local)")
    test.add_argument(
        "--format",
        choices=reports.FORMATS,
        default="text",
        help="text for people (default), json, junit (XML for CI reports), or github",
    )
    test.set_defaults(handler=_test)


#: ``run`` flags that are settings of the configuration too (``o2g_flows.app.config``).
_SETTING_FLAGS = (
    "server",
    "secondary",
    "login",
    "password",
    "ca",
    "insecure",
    "plugins",
    "state",
    "lease",
    "grace",
    "reload",
    "timezone",
    "status",
    "webhook",
    "sim_pbx",
    "traffic",
)


def _paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="FLOW_DIR", help="flow files or folders")
    parser.add_argument(
        "--plugins",
        action="append",
        metavar="DIR",
        help="plugin folder (none unless given: nothing is imported implicitly); repeatable",
    )


def _load(args: argparse.Namespace) -> tuple[Registry, LoadResult]:
    """The plugins (their errors printed as warnings) and the flows of ``args.paths``."""
    from ..engine.loader import load_flows
    from ..plugins import discover

    offline = args.handler is not _run and logging.getLogger().level > logging.DEBUG
    # offline runs report results, not every step; run says what happens
    log.setLevel(logging.WARNING if offline else logging.NOTSET)
    folders = args.plugins or []
    args.plugin_folders = [folder for folder in folders if Path(folder).is_dir()]
    for folder in folders:
        if folder not in args.plugin_folders:
            print(f"warning: plugin folder {folder} is not a folder; nothing loaded from it",
                  file=sys.stderr)  # fmt: skip
    registry, plugin_errors = discover(folders)
    for error in plugin_errors:
        print(f"warning: {error}", file=sys.stderr)
    for name in registry.plugins:
        log.debug("plugin loaded: %s", name)
    return registry, load_flows(args.paths, registry)


def _schema(args: argparse.Namespace) -> int:
    from ..engine.schema import flow_schema
    from ..plugins import discover

    registry, plugin_errors = discover(args.plugins or [])
    for error in plugin_errors:
        print(f"warning: {error}", file=sys.stderr)
    print(json.dumps(flow_schema(registry), indent=2, sort_keys=False))
    return 0


def _validate(args: argparse.Namespace) -> int:
    _, result = _load(args)
    if not result.files and not result.errors:
        print(f"no flow files (*.yaml, *.yml) in {', '.join(args.paths)}")
        return 1
    failed = bool(result.errors or (args.strict and result.warnings))
    if args.format != "text":
        print(reports.json_report(result) if args.format == "json" else reports.github(result))
        return 1 if failed else 0
    _print_problems(result)
    warned = f", {len(result.warnings)} warning(s)" if result.warnings else ""
    print(
        f"{len(result.flows)} flow(s) valid, {len(result.errors)} error(s){warned} in "
        f"{len(result.files)} file(s)"
    )
    return 1 if result.errors or (args.strict and result.warnings) else 0


def _print_problems(result: LoadResult) -> None:
    for error in result.errors:
        print(error)
    for warning in result.warnings:
        print(f"{warning.location}: warning: {warning.message}")


def _test(args: argparse.Namespace) -> int:
    import asyncio

    from ..engine.testing import replay, run_tests

    registry, result = _load(args)
    if not result.files and not result.errors:
        print(f"no flow files (*.yaml, *.yml) in {', '.join(args.paths)}")
        return 1
    if args.replay:
        _print_problems(result)
        report = asyncio.run(replay(result.flows, args.replay, registry, args.timezone))
        print(report.report())
        return 1 if result.errors or report.errors else 0
    results = asyncio.run(run_tests(result.flows, registry, args.timezone))
    failed = [r for r in results if not r.passed]
    if args.format != "text":
        formats = {"json": reports.json_report, "junit": reports.junit, "github": reports.github}
        print(formats[args.format](result, results))
        return 1 if failed or result.errors else 0
    _print_problems(result)
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
    import asyncio

    from .._yaml import SourceError
    from ..client import O2GError
    from ..engine.webhook import WEBHOOK_EVENT, WebhookServer, webhook_source
    from .config import ConfigError, load_settings
    from .console import setup_console
    from .runner import run_flows
    from .traffic import load_traffic

    flags = {name: getattr(args, name) for name in _SETTING_FLAGS}
    flags["paths"] = args.paths or None
    try:
        settings = load_settings(args.config, flags)
        password = settings.secret("password")
        status_token = settings.secret("status_token")
        webhook_token = settings.secret("webhook_token")
    except ConfigError as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        return 2
    if not (args.verbose or args.quiet) and "log_level" in settings.origin:
        setup_console({"warning": -1, "info": 0}.get(settings.log_level, 1),
                      json_lines=settings.log_format == "json")  # fmt: skip
    elif settings.log_format == "json" and args.log_format != "json":
        setup_console(1 if args.verbose else -1 if args.quiet else 0, json_lines=True)
    for name in _SETTING_FLAGS:
        setattr(args, name, getattr(settings, name))
    args.paths, args.password, args.status_token = settings.paths, password, status_token
    args.plugins = settings.plugins or None
    args.plugin_settings = settings.plugin_settings
    registry, result = _load(args)
    for error in result.errors:
        log.error("%s", error)
    if not result.flows:
        log.error("no valid flow to run")
        return 1
    if any(WEBHOOK_EVENT in flow.events() for flow in result.flows):
        try:  # bound now: a port in use stops here, in one line, not a deaf engine later
            host, _, port = args.webhook.rpartition(":")
            server = WebhookServer(host, int(port), webhook_token or "")
            registry.sources["webhook"] = webhook_source(server.bind())
        except (OSError, ValueError) as exc:
            log.error("%s", exc)
            return 2
    args.steps = []
    if args.server is None and args.sim_pbx is not None:
        problem = _pbx_problem(args.sim_pbx, settings.origin.get("sim_pbx"))
        if problem is not None:
            log.error("%s", problem)
            return 2
    if args.server is None and not args.no_traffic:
        if args.traffic and not Path(args.traffic).is_file():
            where = settings.origin.get("traffic", "flag")
            named = "--traffic" if where == "flag" else f"{where}: simulator.traffic"
            log.error("%s %s: no such file", named, args.traffic)
            return 1
        try:
            args.steps = load_traffic(args.traffic)
        except SourceError as exc:
            log.error("%s", exc)
            return 1
    try:
        return asyncio.run(run_flows(args, registry, result.flows))
    except O2GError as exc:
        if args.debug:
            raise
        code, message = _gateway_failure(exc, args)
        log.error("%s", message)
        return code


def _pbx_problem(path: str, where: str | None) -> str | None:
    """Why the embedded simulator's PBX file ``path`` cannot be used, if it cannot."""
    from .._yaml import SourceError
    from ..sim.pbx.config import load_pbx_file

    named = "--sim-pbx" if where in (None, "flag") else f"{where}: simulator.pbx"
    try:
        load_pbx_file(path)
    except FileNotFoundError:
        return f"{named} {path}: no such file"
    except (OSError, UnicodeDecodeError) as exc:
        return f"{named} {path}: cannot read it ({exc})"
    except SourceError as exc:
        return str(exc)
    return None


def _gateway_failure(exc: O2GError, args: argparse.Namespace) -> tuple[int, str]:
    """The exit status and one line for a gateway that could not be used."""
    from ..client import AuthenticationError, O2GConnectionError

    server = args.server or "the embedded simulator"
    text = str(exc)
    if isinstance(exc, O2GConnectionError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
            return 7, (
                f"cannot verify the TLS certificate of {server} ({text}): give its CA with "
                "--ca FILE (or gateway.ca), or --insecure on a test bench"
            )
        return 5, f"cannot reach the O2G gateway {server} ({text}): check --server and the network"
    if isinstance(exc, AuthenticationError):
        return (
            6,
            f"{server} refused the credentials of {args.login!r}: check the login and password",
        )
    return 8, f"the O2G gateway {server} answered with an error: {text} (--debug for details)"

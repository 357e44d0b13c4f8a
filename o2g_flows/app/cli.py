"""``o2g-flows status | trace | graph``: looking inside a running engine, from its status API.

``status`` and ``trace`` read a running engine's status server (``run --status``; the
default address is ``DEFAULT_STATUS``); ``graph`` draws a flow's machine as Mermaid, from
the flow files, or from the running engine with the states executions are in highlighted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # each command imports what it uses when it runs
    from importlib.resources.abc import Traversable

    import httpx

__all__ = ["DEFAULT_STATUS", "register"]

#: Where ``run --status`` listens unless told otherwise.
DEFAULT_STATUS = "127.0.0.1:8181"
#: The self-contained folders of ``examples/`` that ``init --example`` writes.
EXAMPLES = ("reception", "after-hours", "contact-centre")


def register(subparsers: Any) -> None:
    """Add the ``init``, ``status``, ``trace``, ``graph`` and ``config check`` subcommands."""
    init = subparsers.add_parser(
        "init", help="write a starter folder: a configuration, flows with tests, demo calls"
    )
    init.add_argument("folder", help="where to write it (created if needed)")
    init.add_argument(
        "--example",
        choices=EXAMPLES,
        help="write this example folder instead (configuration, flows with tests, PBX, calls)",
    )
    init.add_argument(
        "--plugins", action="store_true", help="also write the shipped plugins in FOLDER/plugins"
    )
    init.set_defaults(handler=_init)

    config = subparsers.add_parser("config", help="the configuration")
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="print the effective settings (secrets masked) and where each comes from"
    )
    check.add_argument("--config", metavar="FILE", help="configuration file (o2g-flows.yaml)")
    check.set_defaults(handler=_config_check)

    status = subparsers.add_parser("status", help="what a running engine is doing")
    _server(status)
    status.set_defaults(handler=_status)

    trace = subparsers.add_parser(
        "trace", help="a running engine's recent executions, or one execution step by step"
    )
    trace.add_argument("id", nargs="?", type=int, help="an execution number (#N)")
    trace.add_argument("--flow", help="only this flow's executions")
    trace.add_argument("--failed", action="store_true", help="only executions with errors")
    _server(trace)
    trace.set_defaults(handler=_trace)

    graph = subparsers.add_parser("graph", help="a flow's machine as a Mermaid state diagram")
    graph.add_argument("flow", help="the flow's name")
    graph.add_argument("paths", nargs="*", metavar="FLOW_DIR", help="flow files or folders")
    graph.add_argument(
        "--live", action="store_true", help="from the running engine, live states highlighted"
    )
    graph.add_argument("--plugins", action="append", metavar="DIR", help="plugin folder")
    _server(graph)
    graph.set_defaults(handler=_graph)


def _init(args: argparse.Namespace) -> int:
    from importlib import resources

    target = Path(args.folder)
    source = _shipped("examples").joinpath(args.example) if args.example else None
    files = dict(_tree(source or resources.files(__package__).joinpath("starter")))
    if args.plugins:
        files.update(_tree(_shipped("plugins"), Path("plugins")))
    existing = sorted(name for name in files if (target / name).exists())
    if existing:
        taken = ", ".join(existing)
        print(f"error: {target} already has {taken}; nothing written", file=sys.stderr)
        return 1
    for name, source in sorted(files.items()):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(source.read_bytes())
        print(f"wrote {target / name}")
    return 0


def _shipped(folder: str) -> Traversable:
    """The repository's ``examples`` or ``plugins`` folder: in the wheel, package data
    (``o2g_flows/shipped/``); in a source checkout or editable install, the folder itself."""
    from importlib import resources

    packaged = resources.files("o2g_flows").joinpath("shipped", folder)
    return packaged if packaged.is_dir() else Path(__file__).parents[2] / folder


def _tree(folder: Traversable, under: Path = Path()) -> Iterator[tuple[str, Traversable]]:
    """``(relative name, file)`` of every file below ``folder`` (no caches or bytecode)."""
    for item in folder.iterdir():
        if item.name.startswith(".") or item.name in ("__pycache__",):
            continue
        if item.is_dir():
            yield from _tree(item, under / item.name)
        elif not item.name.endswith(".pyc"):
            yield str(under / item.name), item


def _config_check(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_settings

    try:
        settings = load_settings(args.config, {})
        for name in ("password", "status_token"):
            settings.secret(name)  # a secret file that cannot be read is an error now
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 1
    print(settings.report())
    return 0


def _server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--status",
        metavar="HOST:PORT",
        default=os.environ.get("O2G_STATUS", DEFAULT_STATUS),
        help=f"the engine's status server (default $O2G_STATUS or {DEFAULT_STATUS})",
    )
    parser.add_argument(
        "--token", default=os.environ.get("O2G_STATUS_TOKEN"), help="its token, if it has one"
    )


class _Unreachable(Exception):
    pass


def _get(args: argparse.Namespace, path: str) -> httpx.Response:
    import httpx

    base = args.status if "://" in args.status else f"http://{args.status}"
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        return httpx.get(base.rstrip("/") + path, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise _Unreachable(
            f"no engine status server at {base} ({exc}): is `o2g-flows run --status` running?"
        ) from None


def _fetch(args: argparse.Namespace, path: str) -> Any:
    answer = _get(args, path)
    if answer.status_code != 200:
        message = answer.json().get("error") if answer.content.startswith(b"{") else answer.text
        raise _Unreachable(f"{path}: {message or answer.status_code}")
    return answer.json()


def _run(handler: Any, args: argparse.Namespace) -> int:
    try:
        return handler(args)
    except _Unreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _status(args: argparse.Namespace) -> int:
    return _run(_print_status, args)


def _print_status(args: argparse.Namespace) -> int:
    status = _fetch(args, "/api/status")
    if status.get("role") == "standby":
        print(status["active"])
        return 0
    executions = _fetch(args, "/api/executions")
    print(
        f"{len(status['flows'])} flow(s), {status['executions']} live execution(s), "
        f"{status['timers']} timer(s) pending, {status['finished']} finished "
        f"({status['failed']} with errors)"
    )
    store = status["store"]
    if store.get("token") is not None:
        print(
            f"active   lease token {store['token']} ({store['takeovers']} takeover(s), "
            f"{store['refused']} stale write(s) refused)"
        )
    for error in status["broken"]:
        print(f"broken   {error}")
    for flow in status["flows"]:
        print(f"flow     {flow['name']}: {flow['kind']}, {flow['live']} live ({flow['file']})")
    for item in status["schedules"][:5]:
        print(f"next     {item['flow']}/{item['schedule']} at {item['next']}")
    for execution in executions:
        timers = f", timers {', '.join(execution['timers'])}" if execution["timers"] else ""
        print(
            f"#{execution['id']:<6} {execution['flow']}[{execution['key']}] in "
            f"{execution['state']} for {execution['age']:.0f}s{timers}"
        )
    return 0


def _trace(args: argparse.Namespace) -> int:
    return _run(_print_trace, args)


def _print_trace(args: argparse.Namespace) -> int:
    from ..engine.trace import format_trace

    if args.id is None:
        query = "?limit=50" + (f"&flow={args.flow}" if args.flow else "")
        query += "&failed=1" if args.failed else ""
        for item in _fetch(args, f"/api/traces{query}"):
            failed = " (failed)" if item["failed"] else ""
            print(
                f"#{item['id']:<6} {item['flow']}[{item['key']}] {item['outcome']}{failed}: "
                f"{' -> '.join(item['states'])}"
            )
        return 0
    answer = _get(args, f"/api/traces/{args.id}")
    if answer.status_code == 200:
        print(format_trace(answer.json()))
        return 0
    print(format_trace(_fetch(args, f"/api/executions/{args.id}")["trace"]))
    return 0


def _graph(args: argparse.Namespace) -> int:
    if args.live:
        return _run(_print_live_graph, args)
    from ..engine import load_flows
    from ..engine.graph import mermaid
    from ..plugins import discover

    registry, _ = discover(args.plugins or [])
    paths = args.paths or ["flows"]
    loaded = load_flows(paths, registry)
    for flow in loaded.flows:
        if flow.name == args.flow:
            print(mermaid(flow), end="")
            return 0
    for error in loaded.errors:
        print(error, file=sys.stderr)
    print(f"error: no valid flow named {args.flow!r} in {', '.join(paths)}", file=sys.stderr)
    return 1


def _print_live_graph(args: argparse.Namespace) -> int:
    answer = _get(args, f"/api/flows/{args.flow}/graph")
    if answer.status_code != 200:
        raise _Unreachable(answer.json().get("error"))
    print(answer.text, end="")
    return 0

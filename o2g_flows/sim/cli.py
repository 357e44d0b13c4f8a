"""``o2g-flows sim``: run the simulator standalone."""

from __future__ import annotations

import argparse
import errno
import sys

from . import CONTROL_TOKEN_HEADER


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sim`` command to the CLI's subcommands."""
    parser = subparsers.add_parser(
        "sim", help="run the O2G simulator", description="Serve a simulated O2G gateway and PBX."
    )
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--pbx", metavar="FILE", help="PBX file (default: the shipped PBX)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (self-signed cert)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse unknown body fields and numbers sent as strings (a real gateway accepts both)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=20,
        metavar="N",
        help="open sessions per account; one more expires the oldest (default 20)",
    )
    parser.add_argument(
        "--control-token",
        metavar="TOKEN",
        help=f"secret the /sim control API requires in {CONTROL_TOKEN_HEADER} "
        "(mandatory with a --host other than loopback)",
    )
    parser.set_defaults(handler=_run)


def exposure_warning(host: str) -> str:
    """What serving on a non-loopback ``host`` exposes."""
    return (
        f"WARNING: the simulator listens on {host}, reachable from other machines.\n"
        "WARNING: its accounts and passwords are those of the PBX file; the /sim control API "
        f"needs the --control-token in {CONTROL_TOKEN_HEADER};\n"
        "WARNING: /OTEvents trusts any caller holding a subscription id, as the real gateway does."
    )


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from o2g_flows._yaml import SourceError

    from .middleware import is_loopback
    from .pbx import load_pbx_file
    from .server import Simulator, run_standalone

    try:
        load_pbx_file(args.pbx)  # refuse a broken file before listening
    except (SourceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.max_sessions < 1:
        print(f"error: --max-sessions must be at least 1, not {args.max_sessions}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        if not args.control_token:
            print(
                f"error: --host {args.host} is not loopback: give a --control-token to protect "
                "the /sim control API",
                file=sys.stderr,
            )
            return 2
        print(exposure_warning(args.host), file=sys.stderr, flush=True)
    simulator = Simulator(
        args.pbx,
        tls=args.tls,
        host=args.host,
        port=args.port,
        strict=args.strict,
        max_sessions=args.max_sessions,
        control_token=args.control_token,
    )
    try:
        asyncio.run(run_standalone(simulator, args.pbx))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"error: port {args.port} is already in use on {args.host}", file=sys.stderr)
        else:
            print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0

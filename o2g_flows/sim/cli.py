"""``o2g-flows sim``: run the simulator standalone."""

from __future__ import annotations

import argparse
import asyncio
import sys

from o2g_flows._yaml import SourceError

from .pbx import load_pbx_file
from .server import run_standalone


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sim`` command to the CLI's subcommands."""
    parser = subparsers.add_parser(
        "sim", help="run the O2G simulator", description="Serve a simulated O2G gateway and PBX."
    )
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--pbx", metavar="FILE", help="PBX file (default: the shipped PBX)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (self-signed cert)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        load_pbx_file(args.pbx)  # refuse a broken file before listening
    except (SourceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(run_standalone(args.pbx, args.port, args.tls, args.host))
    return 0

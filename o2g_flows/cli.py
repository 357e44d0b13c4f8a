"""The ``o2g-flows`` command: each part of the package adds its subcommands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib import metadata

_COMMAND_MODULES = (
    "o2g_flows.engine.cli",
    "o2g_flows.app.cli",
    "o2g_flows.sim.cli",
    "o2g_flows.client.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="o2g-flows", description="Automation flows for Alcatel-Lucent Enterprise O2G."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _version() -> str:
    try:
        return metadata.version("o2g-flows")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

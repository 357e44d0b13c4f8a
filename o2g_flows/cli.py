"""The ``o2g-flows`` command: each part of the package adds its subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, NoReturn

from .app.console import setup_console

_COMMAND_MODULES = (
    "o2g_flows.app.flow_commands",
    "o2g_flows.app.cli",
    "o2g_flows.sim.cli",
    "o2g_flows.client.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="o2g-flows", description="Automation flows for Alcatel-Lucent Enterprise O2G."
    )
    _logging_options(parser, argparse.SUPPRESS)
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for subparser in subparsers.choices.values():  # -v, -q... also after the subcommand
        _logging_options(subparser, argparse.SUPPRESS)
    return parser


def _logging_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="debug logging"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="warnings and errors only"
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=default,
        help="text lines (default) or one JSON object a line, for log shippers",
    )
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks of failures"
    )


class _Version(argparse.Action):
    """``--version``: the installed version, looked up (importlib.metadata) only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> NoReturn:
        sys.stdout.write(f"{parser.prog} {_version()}\n")
        parser.exit()


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("o2g-flows")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("verbose", "quiet", "debug"):
        setattr(args, name, getattr(args, name, False))
    args.log_format = getattr(args, "log_format", "text")
    verbosity = 1 if args.verbose else -1 if args.quiet else 0
    setup_console(verbosity, json_lines=args.log_format == "json")
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``o2g-flows api`` subcommand: print the method-to-endpoint table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["register"]


class _ServiceNames(Sequence[str]):
    """The service names, read from the services package when argparse first looks."""

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        from .services import SERVICES

        return list(SERVICES)[index]

    def __len__(self) -> int:
        from .services import SERVICES

        return len(SERVICES)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``api`` to the ``o2g-flows`` command line."""
    parser = subparsers.add_parser(
        "api",
        help="list the client methods and the O2G endpoints they call",
        description="Every O2G REST endpoint with the O2GClient method that calls it.",
    )
    parser.add_argument(
        "service",
        nargs="?",
        choices=_ServiceNames(),
        metavar="SERVICE",
        help="one service only: %(choices)s",
    )
    parser.add_argument("-s", "--search", help="keep lines containing this text")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from .reference import methods_table

    table = methods_table(args.service, args.search)
    if not table:
        print(f"no method matches {args.search!r}", file=sys.stderr)
        return 1
    sys.stdout.write(table)
    return 0

"""A throwaway PostgreSQL server from the machine's binaries, for tests, benchmarks and
trying two instances: ``initdb`` in a temporary folder, ``pg_ctl start`` on a Unix socket
in it (no TCP), stopped and removed at the end. As root the server runs as ``postgres``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

__all__ = ["throwaway_postgres"]


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """The URL of a fresh PostgreSQL server (superuser ``postgres``, database ``postgres``)."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"{tool} not found: install PostgreSQL's server binaries (Debian: postgresql) "
                "or set O2G_TEST_POSTGRES to a server's URL"
            )
    folder = tempfile.mkdtemp(prefix="o2g-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data = os.path.join(folder, "data")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "check": True}
    subprocess.run(
        _as_postgres(["initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]),
        **quiet,  # type: ignore[arg-type]
    )
    options = f"-k {folder} -c listen_addresses='' -c fsync=off -c max_connections=200"
    log = os.path.join(folder, "server.log")
    subprocess.run(
        _as_postgres(["pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "start"]),
        **quiet,  # type: ignore[arg-type]
    )
    try:
        yield f"postgresql://postgres@/postgres?host={folder}"
    finally:
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(folder, ignore_errors=True)

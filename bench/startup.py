"""Start-up time of ``o2g-flows`` commands, as whole processes, next to a bare Python start.

    python bench/startup.py [--runs 20] [--imports] [--compare DIR]

The bytecode of the package and of ./plugins (which validate and test load) is compiled
first (``compileall``), as an installed package's is, so the figures are those of a user's
second run and later ones. Each command runs ``--runs`` times, interleaved with the
others; the table gives the median and the fastest run in ms, and the median's ratio to
``python -c pass``. Targets (issue 12): ``--help`` at most 150 ms and ``validate`` of the
shipped flows at most 300 ms (measured with a 26 ms bare start; on a slower or busier
machine, compare the ratios: 5.8x and 11.5x).
``--imports`` also prints each command's costliest imports (``python -X importtime``);
``--compare DIR`` times another source tree of the package in the same run, e.g. main's:
``git archive main | tar -x -C /tmp/main``. Commands start as ``python -m o2g_flows``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
#: How each command starts: what the ``o2g-flows`` script runs, for this tree and --compare's.
O2G = [PYTHON, "-m", "o2g_flows"]
BARE = "python -c pass"
#: name -> (the o2g-flows arguments, target in ms)
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    BARE: ([], None),
    "o2g-flows --help": (["--help"], 150.0),
    "o2g-flows --version": (["--version"], None),
    "o2g-flows validate flows/": (["validate", "flows"], 300.0),
    "o2g-flows test flows/": (["test", "flows"], None),
    "o2g-flows sim --help": (["sim", "--help"], None),
}


def command_line(name: str) -> list[str]:
    """The command ``name`` (run in this tree, or in --compare's with PYTHONPATH on it)."""
    if name == BARE:
        return [PYTHON, "-c", "pass"]
    return [*O2G, *COMMANDS[name][0]]


def run_once(command: list[str], tree: Path | None = None) -> float:
    """Wall time of one run in ms; the command must succeed."""
    env = {**os.environ, "PYTHONPATH": str(tree)} if tree is not None else None
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree or ROOT, env=env, capture_output=True, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed:\n{done.stdout.decode()}{done.stderr.decode()}"
        )
    return elapsed


def top_imports(arguments: list[str], count: int = 8) -> list[tuple[float, str]]:
    """The ``count`` top-level imports with the largest cumulative time (ms) in one run."""
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "o2g_flows", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if not name.startswith("   "):  # imports at the top of the tree only
                rows.append((int(parts[1]) / 1000, name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--imports", action="store_true", help="print the costliest imports")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also time another source tree of the package in the same run (e.g. "
        "git archive main | tar -x -C /tmp/main), rows marked 'before'",
    )
    args = parser.parse_args()
    trees: dict[str, Path | None] = {"": None}
    if args.compare is not None:
        trees["before: "] = args.compare.resolve()
    for tree in trees.values():
        for folder in ("o2g_flows", "plugins"):  # validate and test load ./plugins
            if ((tree or ROOT) / folder).is_dir():
                compileall.compile_dir((tree or ROOT) / folder, quiet=1)
    env_note = " (PYTHONDONTWRITEBYTECODE set: bytecode compiled above)"
    note = env_note if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    rows = [(label + name, name, tree) for label, tree in trees.items() for name in COMMANDS]
    rows = [row for row in rows if not (row[2] is not None and row[1] == BARE)]
    for _, name, tree in rows:  # warm the page cache
        run_once(command_line(name), tree)
    times: dict[str, list[float]] = {label: [] for label, _, _ in rows}
    for _ in range(args.runs):
        for label, name, tree in rows:
            times[label].append(run_once(command_line(name), tree))
    bare = statistics.median(times[BARE])
    print(f"start-up as whole processes, {args.runs} runs each, interleaved{note}")
    print(f"  {'command':<36}{'median ms':>10}{'min ms':>9}{'x bare':>9}   target")
    for label, name, _ in rows:
        target = COMMANDS[name][1]
        median = statistics.median(times[label])
        goal = f"<= {target:.0f} ms ({target / 26:.1f}x a 26 ms bare start)" if target else ""
        print(
            f"  {label:<36}{median:>10.1f}{min(times[label]):>9.1f}{median / bare:>8.1f}x   {goal}"
        )
    if args.imports:
        for name, (arguments, _) in COMMANDS.items():
            if name == BARE:
                continue
            print(f"costliest top-level imports of {name} (-X importtime, cumulative ms):")
            for elapsed, module in top_imports(arguments):
                print(f"  {elapsed:8.1f}  {module}")


if __name__ == "__main__":
    main()

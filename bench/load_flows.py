"""Load benchmark: reading and validating flow files.

Prints the time to load and validate (``load_flows``: read, parse, check every action,
template and expression) 1, 100 and 1,000 flow files of a typical size, and one file of
40,000 actions (target: at most 3 s). Next to it, in the same run: the same files read
with ``yaml.load`` and libyaml's ``CSafeLoader`` alone (what a script that only parses
would pay; no positions, no checks), the share of the load spent in the YAML reader, and
how many times each file was parsed (issue 12: once).

    python bench/load_flows.py [--actions 40000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from o2g_flows.engine import load_flows
from o2g_flows.engine.loader import common

FLOW = """\
flow: flow-{n}
description: a machine of a typical size
users: [alice, bob]
key: event.callRef
vars: {{ring_seconds: 8, handled: 0}}
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING' && event.loginName != 'carol'"
  goto: ringing
states:
  ringing:
    after: {{seconds: "${{vars.ring_seconds}}", goto: voicemail}}
    on:
      OnCallModified: {{when: "event.modifiedLegs[0].state == 'ACTIVE'", goto: answered}}
      OnCallRemoved: {{goto: end}}
  answered:
    on:
      OnCallRemoved: {{goto: end}}
  voicemail:
    enter:
      - redirect: {{to: VOICEMAIL}}
        guard: "call.legs[0].state == 'RINGING_INCOMING'"
        on_error: continue
      - log: "no answer after ${{vars.ring_seconds}}s: call ${{key}} sent to voicemail"
    goto: end
"""


def big_flow(actions: int) -> str:
    """One rule with ``actions`` actions: logs with templates, and set: every fourth."""
    lines = ["flow: big", "on: OnCallCreated", "vars: {count: 0}", "do:"]
    for i in range(actions):
        if i % 4 == 0:
            lines.append(f'  - set: {{count: "${{vars.count}}", n{i % 7}: {i}}}')
        else:
            lines.append(f'  - log: "step {i} for ${{event.callRef}}"')
    return "\n".join(lines) + "\n"


class _Spy:
    """Counts ``yaml.parse`` calls and the time spent in the YAML reader."""

    def __init__(self) -> None:
        self.parses = 0
        self.reading = 0.0
        self._parse, self._read = yaml.parse, common.read_yaml

    def __enter__(self) -> _Spy:
        def parse(*args: Any, **kwargs: Any) -> Any:
            self.parses += 1
            return self._parse(*args, **kwargs)

        def read_yaml(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return self._read(*args, **kwargs)
            finally:
                self.reading += time.perf_counter() - began

        yaml.parse = parse
        common.read_yaml = read_yaml  # the flow loader's reader
        return self

    def __exit__(self, *exc_info: object) -> None:
        yaml.parse, common.read_yaml = self._parse, self._read


def parse_only(folder: Path) -> float:
    """Seconds to read every file of ``folder`` with ``yaml.load`` and CSafeLoader."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    began = time.perf_counter()
    for path in sorted(folder.iterdir()):
        yaml.load(path.read_bytes(), Loader=loader)
    return time.perf_counter() - began


def timed_load(folder: Path, expected: int) -> float:
    gc.collect()
    began = time.perf_counter()
    result = load_flows([folder])
    elapsed = time.perf_counter() - began
    assert result.ok and len(result.flows) == expected, result.report()[:500]
    return elapsed


def measure(label: str, folder: Path, expected: int, runs: int) -> None:
    elapsed = statistics.median(timed_load(folder, expected) for _ in range(runs))
    parse = statistics.median(parse_only(folder) for _ in range(runs))
    with _Spy() as spy:
        spied = timed_load(folder, expected)
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(
        f"{label:<24} {elapsed * 1000:8.0f} ms  {size / 1e6:6.2f} MB   "
        f"yaml.load alone {parse * 1000:6.0f} ms (load {elapsed / parse:4.1f}x)   "
        f"YAML reader {spy.reading / spied:4.0%} of the load   "
        f"parses per file {spy.parses / expected:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3, help="median of this many loads")
    args = parser.parse_args()
    load_flows([])  # the loader's one-time set-up (built-in registry, event names)
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1, 100, 1000):
            folder = Path(tmp) / f"files-{count}"
            folder.mkdir()
            for n in range(count):
                (folder / f"flow-{n}.yaml").write_text(FLOW.format(n=n))
            measure(f"{count} flow file(s)", folder, count, args.runs)
        folder = Path(tmp) / "big"
        folder.mkdir()
        (folder / "big.yaml").write_text(big_flow(args.actions))
        measure(f"1 file, {args.actions:,} actions", folder, 1, args.runs)


if __name__ == "__main__":
    main()

"""Load benchmark: reading and validating flow files.

Prints the time to load and validate (``load_flows``: read, parse, check every action,
template and expression) 1, 100 and 1,000 flow files of a typical size, and one file of
40,000 actions (target: at most 3 s).

    python bench/load_flows.py [--actions 40000]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

from o2g_flows.engine import load_flows

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


def measure(label: str, folder: Path, expected: int) -> None:
    gc.collect()
    began = time.perf_counter()
    result = load_flows([folder])
    elapsed = time.perf_counter() - began
    assert result.ok and len(result.flows) == expected, result.report()[:500]
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"{label:<24} {elapsed * 1000:8.0f} ms  {size / 1e6:6.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=40_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1, 100, 1000):
            folder = Path(tmp) / f"files-{count}"
            folder.mkdir()
            for n in range(count):
                (folder / f"flow-{n}.yaml").write_text(FLOW.format(n=n))
            measure(f"{count} flow file(s)", folder, count)
        folder = Path(tmp) / "big"
        folder.mkdir()
        (folder / "big.yaml").write_text(big_flow(args.actions))
        measure(f"1 file, {args.actions:,} actions", folder, 1)


if __name__ == "__main__":
    main()

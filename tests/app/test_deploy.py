"""The systemd unit shipped in examples/ is one systemd accepts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian's systemd package)"
    unit = (ROOT / "examples" / "systemd" / "o2g-flows.service").read_text()
    command = str(Path(sys.executable).with_name("o2g-flows"))
    installed = tmp_path / "o2g-flows.service"
    installed.write_text(unit.replace("/opt/o2g-flows/bin/o2g-flows", command))
    done = subprocess.run(
        [analyze, "verify", str(installed)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr

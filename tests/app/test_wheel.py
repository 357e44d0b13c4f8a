"""The installed wheel on its own: init, validate, test and run, outside the source tree.

The wheel is built from what the Dockerfile copies into its image, and run as its command
does, so that the image's build context is tested where no Docker daemon is at hand.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).parents[2]


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def docker_context(into: Path) -> Path:
    """A folder holding only what the Dockerfile's COPY lines take from the repository."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, target = shlex.split(line)[1:]
            for source in sources:
                place = into / target / Path(source).name if target.endswith("/") else into / target
                if (ROOT / source).is_dir():
                    skip = shutil.ignore_patterns("__pycache__")
                    shutil.copytree(ROOT / source, place, ignore=skip)
                else:
                    place.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(ROOT / source, place)
    return into


def test_the_wheel_installed_in_a_fresh_environment_runs_its_starter_folder(tmp_path):
    context = docker_context(tmp_path / "context")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", context,
        cwd=tmp_path)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("o2g_flows-*.whl")
    fresh = tmp_path / "fresh"
    run(sys.executable, "-m", "venv", "--without-pip", fresh, cwd=tmp_path)
    # the dependencies come from this environment; o2g_flows only from the wheel
    site = Path(sysconfig.get_path("purelib", vars={"base": str(fresh), "platbase": str(fresh)}))
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(sys.executable, "-m", "pip", "--python", fresh / "bin" / "python", "install", "-q",
        "--no-deps", wheel, cwd=tmp_path)  # fmt: skip
    command = fresh / "bin" / "o2g-flows"
    where = run(fresh / "bin" / "python", "-c", "import o2g_flows; print(o2g_flows.__file__)",
                cwd=tmp_path)  # fmt: skip
    assert str(fresh) in where and str(ROOT) not in where

    assert run(command, "--version", cwd=tmp_path).startswith("o2g-flows ")
    run(command, "init", "project", cwd=tmp_path)
    project = tmp_path / "project"
    assert "2 flow(s) valid, 0 error(s)" in run(command, "validate", "flows", cwd=project)
    assert "passed, 0 failed" in run(command, "test", "flows", cwd=project)
    assert "gateway.url" in run(command, "config", "check", cwd=project)
    # as the image's command does: run --config FILE
    out = run(command, "run", "--config", project / "o2g-flows.yaml", "--traffic", "traffic.yaml",
              "--duration", "3", cwd=project)  # fmt: skip
    assert "reception-auto-answer[" in out and "answer (call=" in out

    # the examples and plugins come with the wheel
    run(command, "init", "centre", "--example", "contact-centre", "--plugins", cwd=tmp_path)
    centre = tmp_path / "centre"
    assert "4 flow(s) valid, 0 error(s)" in run(command, "validate", "flows", cwd=centre)
    assert ", 0 failed" in run(command, "test", "flows", cwd=centre)
    shipped = {path.name for path in (ROOT / "plugins").iterdir() if path.name != "__pycache__"}
    assert {path.name for path in (centre / "plugins").iterdir()} == shipped


def test_every_package_is_in_the_wheel():
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "o2g_flows").rglob("__init__.py")
    }
    assert found <= listed, f"add {sorted(found - listed)} to pyproject.toml's packages"


def test_the_starter_flows_are_the_shipped_ones():
    starter = ROOT / "o2g_flows" / "app" / "starter" / "flows"
    for flow in starter.iterdir():
        assert flow.read_text() == (ROOT / "flows" / flow.name).read_text(), flow.name

"""Loading flows: YAML with positions -> validated ``Flow`` objects, every error at once.

Each problem is a ``SourceError`` reading ``file:line:col: message``. A file with errors
yields no flow, but never stops the other files from loading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..._yaml import (
    DEFAULT_LIMITS,
    Limits,
    Location,
    SourceError,
    read_bytes,
)
from ...spec import event_names
from ..model import (
    SCHEDULE_EVENT,
    Flow,
)
from ..reach import reach_warnings
from ..registry import Registry
from ..tags import is_flow_file
from .binding import ActionBinding
from .common import (
    DEFAULT_KEY,
    FLOW_KEYS,
    HANDLER_KEYS,
    PLUGIN_HINT,
    SCHEDULE_KEYS,
    START_KEYS,
    STATE_KEYS,
    STEP_KEYS,
    TEST_KEYS,
    TIMER_KEYS,
    did_you_mean,
    parse_duration,
)
from .grammar import FlowGrammar
from .testcases import TestGrammar

__all__ = [
    "DEFAULT_KEY",
    "FLOW_KEYS",
    "HANDLER_KEYS",
    "SCHEDULE_KEYS",
    "START_KEYS",
    "STATE_KEYS",
    "STEP_KEYS",
    "TEST_KEYS",
    "TIMER_KEYS",
    "LoadResult",
    "load_flows",
    "load_text",
    "parse_duration",
]


@dataclass
class LoadResult:
    """The flows that loaded, and every error of those that did not."""

    flows: list[Flow] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[SourceError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed to load."""
        return not self.errors

    def report(self) -> str:
        """The errors, one ``file:line:col: message`` per line."""
        return "\n".join(str(error) for error in self.errors)


def load_flows(
    paths: Iterable[str | Path], registry: Registry | None = None, limits: Limits = DEFAULT_LIMITS
) -> LoadResult:
    """Load every ``*.yaml``/``*.yml`` file under ``paths`` (folders are searched recursively)."""
    registry = registry or Registry.builtin()
    result = LoadResult()
    parsed: list[_FlowBuilder] = []
    for file in _flow_files(paths, result):
        result.files.append(str(file))
        builder = _FlowBuilder("", str(file), registry, limits)
        try:
            builder.text = read_bytes(file.read_bytes(), file, limits)
        except OSError as exc:
            builder.error(Location(str(file), 1, 1), f"cannot read: {exc.strerror or exc}")
        except SourceError as exc:
            builder.errors.append(exc)
        parsed.append(builder if builder.errors else builder.build())
    _finish(parsed, registry, result)
    return result


def load_text(
    text: str,
    file: str = "<flow>",
    registry: Registry | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> LoadResult:
    """Load one flow from YAML text (``file`` names it in errors)."""
    registry = registry or Registry.builtin()
    result = LoadResult(files=[file])
    _finish([_FlowBuilder(text, file, registry, limits).build()], registry, result)
    return result


def _flow_files(paths: Iterable[str | Path], result: LoadResult) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in (".yaml", ".yml") and p.is_file() and is_flow_file(p, path)
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            result.errors.append(SourceError(Location(str(path), 1, 1), "no such file or folder"))
    return files


def _finish(builders: list[_FlowBuilder], registry: Registry, result: LoadResult) -> None:
    """Checks across files: event names (O2G, plugins, emitted by flows) and unique names."""
    known = set(event_names()) | registry.events | {SCHEDULE_EVENT}
    for builder in builders:
        known.update(builder.emitted)
    names: dict[str, Location] = {}
    for builder in builders:
        for name, location in builder.event_refs:
            if name not in known:
                hint = did_you_mean(name, sorted(known)) or PLUGIN_HINT
                builder.error(location, f"unknown event {name!r}{hint}")
        flow = builder.flow
        if flow is not None and not builder.errors:
            if flow.name in names:
                builder.error(
                    flow.location, f"flow {flow.name!r} is already defined at {names[flow.name]}"
                )
            else:
                names[flow.name] = flow.location
        builder.errors.sort(
            key=lambda error: (
                error.location.file != builder.file,  # its own, then those of included files
                error.location.file,
                error.location.line,
                error.location.column,
            )
        )
        result.errors.extend(builder.errors)
        if builder.flow is not None and not builder.errors:
            result.flows.append(builder.flow)
    result.warnings = reach_warnings(result.flows, DEFAULT_KEY)


class _FlowBuilder(FlowGrammar, ActionBinding, TestGrammar):
    """Validates one file, collecting every error."""

"""Plugins: discovery and the registration API.

A plugin is a Python module in a ``plugins/`` folder, or an installed package advertising
an entry point in the group ``o2g_flows.plugins``. It exposes ``register(registry)``, and
through the ``Registry`` adds actions (validated at flow load like the built-in ones),
JMESPath functions and event sources. A plugin that fails to import or register is
reported and skipped; the others load.

    from o2g_flows.plugins import Param

    def register(registry):
        @registry.action("page", Param("text", required=True))
        async def page(ctx, args):
            await ctx.gateway.http("POST", "https://pager.example/send", json=args)
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .engine.actions import BUILTIN_ACTIONS, ActionContext, ActionSpec, Param
from .engine.functions import BUILTIN_FUNCTIONS, FunctionSpec, FunctionTable

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "EventSource",
    "Param",
    "PluginError",
    "Registry",
    "discover",
]

ENTRY_POINT_GROUP = "o2g_flows.plugins"

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class EventSource:
    """Something that produces events: ``run(emit)`` is awaited while the engine runs."""

    name: str
    run: Callable[[Emit], Awaitable[None]]
    events: tuple[str, ...]
    doc: str = ""


@dataclass(frozen=True, slots=True)
class PluginError:
    """A plugin that could not be loaded, and why."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin}: {self.message}"


@dataclass
class Registry:
    """Everything flows can use: actions, JMESPath functions, event sources and events."""

    actions: dict[str, ActionSpec] = field(default_factory=dict)
    functions: FunctionTable = field(default_factory=FunctionTable)
    sources: dict[str, EventSource] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    plugins: list[str] = field(default_factory=list)

    @classmethod
    def builtin(cls) -> Registry:
        """The built-in actions and functions only."""
        return cls(
            actions={spec.name: spec for spec in BUILTIN_ACTIONS},
            functions=FunctionTable(list(BUILTIN_FUNCTIONS)),
        )

    def add_action(self, spec: ActionSpec) -> None:
        if spec.name in self.actions:
            raise ValueError(f"action {spec.name!r} is already defined")
        self.actions[spec.name] = spec

    def action(
        self,
        name: str,
        *params: Param,
        doc: str = "",
        effect: bool = True,
        shorthand: str | None = None,
    ) -> Callable[[Callable[[ActionContext, dict[str, Any]], Awaitable[Any]]], Any]:
        """Decorator registering ``async def run(ctx, args)`` as the action ``name``."""

        def decorate(run: Callable[[ActionContext, dict[str, Any]], Awaitable[Any]]) -> Any:
            self.add_action(
                ActionSpec(name, run, params, doc or (run.__doc__ or "").strip(), effect, shorthand)
            )
            return run

        return decorate

    def function(
        self, name: str, *types: str | Iterable[str], variadic: bool = False, doc: str = ""
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering a JMESPath function; one type (``"string|null"``) per arg."""

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            signature = tuple(
                tuple(part for part in kind.split("|") if part)
                if isinstance(kind, str)
                else tuple(kind)
                for kind in types
            )
            self.functions.add(
                FunctionSpec(name, func, signature, variadic, doc or (func.__doc__ or "").strip())
            )
            return func

        return decorate

    def event_source(
        self, name: str, *events: str, doc: str = ""
    ) -> Callable[[Callable[[Emit], Awaitable[None]]], Any]:
        """Decorator registering ``async def run(emit)`` producing the given event names."""

        def decorate(run: Callable[[Emit], Awaitable[None]]) -> Any:
            if name in self.sources:
                raise ValueError(f"event source {name!r} is already defined")
            self.sources[name] = EventSource(name, run, events, doc or (run.__doc__ or "").strip())
            self.events.update(events)
            return run

        return decorate

    def event(self, *names: str) -> None:
        """Declare event names flows may match (for events a plugin emits by other means)."""
        self.events.update(names)


def discover(
    folders: Iterable[str | Path] = ("plugins",),
    *,
    entry_points: bool = True,
    registry: Registry | None = None,
) -> tuple[Registry, list[PluginError]]:
    """Load plugins from ``folders`` and the entry point group; returns the registry and errors."""
    registry = registry or Registry.builtin()
    errors: list[PluginError] = []
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            continue
        for candidate in sorted(path.iterdir()):
            if candidate.name.startswith(("_", ".")):
                continue
            if candidate.suffix == ".py" or (candidate / "__init__.py").is_file():
                _load_file(candidate, registry, errors)
    if entry_points:
        for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            label = f"{point.name} ({point.value})"
            try:
                target = point.load()
            except Exception as exc:
                errors.append(PluginError(label, f"import failed: {exc!r}"))
                continue
            register = getattr(target, "register", target)
            _register(label, register, registry, errors)
    return registry, errors


def _load_file(path: Path, registry: Registry, errors: list[PluginError]) -> None:
    module_name = f"o2g_flows_plugin_{path.stem}"
    location = path / "__init__.py" if path.is_dir() else path
    try:
        spec = importlib.util.spec_from_file_location(
            module_name,
            location,
            submodule_search_locations=[str(path)] if path.is_dir() else None,
        )
        if spec is None or spec.loader is None:
            raise ImportError("not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        errors.append(PluginError(str(path), f"import failed: {exc!r}"))
        return
    register = getattr(module, "register", None)
    if not callable(register):
        errors.append(PluginError(str(path), "has no register(registry) function"))
        return
    _register(str(path), register, registry, errors)


def _register(
    label: str, register: Callable[[Registry], Any], registry: Registry, errors: list[PluginError]
) -> None:
    # register into a scratch copy so a plugin failing half-way leaves nothing behind
    scratch = Registry(
        dict(registry.actions),
        registry.functions.copy(),
        dict(registry.sources),
        set(registry.events),
    )
    try:
        register(scratch)
    except Exception as exc:
        errors.append(PluginError(label, f"register() failed: {exc!r}"))
        return
    registry.actions = scratch.actions
    registry.functions = scratch.functions
    registry.sources = scratch.sources
    registry.events = scratch.events
    registry.plugins.append(label)

"""Plugins: discovery and the registration API.

A plugin is a Python module in a ``plugins/`` folder, or an installed package advertising
an entry point in the group ``o2g_flows.plugins``. It exposes ``register(registry)``, and
through the ``Registry`` adds actions (validated at flow load like the built-in ones),
JMESPath functions, event sources and services. A plugin that fails to import or register
is reported and skipped; the others load.

    from o2g_flows.plugins import Param

    def register(registry):
        @registry.action("page", Param("text", required=True))
        async def page(ctx, args):
            await ctx.gateway.http("POST", "https://pager.example/send", json=args)

A service is a task that runs beside the engine while it is active (not in offline tests),
when the configuration file has its section, ``plugin_settings: {NAME: {...}}``. It gets a
``ServiceContext``: the shared O2G client (``ctx.client``: its own subscriptions, commands),
its section (``ctx.settings.values``, ``ctx.settings.where(key)`` for located errors),
``ctx.emit(event)`` to trigger flows, and ``ctx.status``, a mapping it keeps current that
the status API shows under ``services``. ``check`` validates the section before the run
starts (each problem one located line, exit status 2). Services start with the run; a
plugin reload (SIGHUP, an edit) does not restart them.

        def check(settings):
            return [] if "url" in settings.values else [f"{settings.where()}: url is missing"]

        @registry.service("pager", check=check)
        async def pager(ctx):
            subscription = await ctx.client.subscribe(["OnCallCreated"], "*")
            async for event in ctx.client.events(subscription):
                ctx.status["seen"] = ctx.status.get("seen", 0) + 1
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .engine.actions import ActionContext, Param
from .engine.registry import EventSource, PluginSettings, Registry, Service, ServiceContext

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "EventSource",
    "Param",
    "PluginError",
    "PluginSettings",
    "Registry",
    "Service",
    "ServiceContext",
    "discover",
]

ENTRY_POINT_GROUP = "o2g_flows.plugins"


@dataclass(frozen=True, slots=True)
class PluginError:
    """A plugin that could not be loaded, and why."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin}: {self.message}"


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
        services=dict(registry.services),
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
    registry.services = scratch.services
    registry.plugins.append(label)

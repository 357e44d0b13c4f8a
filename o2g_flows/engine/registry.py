"""The registry of what flows can use: actions, JMESPath functions, event sources, events,
and the services plugins run beside the engine.

Built-in actions and functions are registered from the start; plugins
(``o2g_flows.plugins``) add theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._yaml import location_of
from .actions import BUILTIN_ACTIONS, ActionContext, ActionSpec, Param
from .functions import BUILTIN_FUNCTIONS, FunctionSpec, FunctionTable

if TYPE_CHECKING:
    from ..client import O2GClient

__all__ = ["Emit", "EventSource", "PluginSettings", "Registry", "Service", "ServiceContext"]

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class EventSource:
    """Something that produces events: ``run(emit)`` is awaited while the engine runs."""

    name: str
    run: Callable[[Emit], Awaitable[None]]
    events: tuple[str, ...]
    doc: str = ""


@dataclass(frozen=True, slots=True)
class PluginSettings:
    """A plugin's section of the configuration file (``plugin_settings: {NAME: {...}}``).

    ``values`` is the section as read (a mapping); ``where(key, ...)`` says where a value
    is written, ``file:line:col`` (``plugin_settings.NAME.key`` when it came from no file).
    """

    name: str
    values: dict[str, Any]
    file: str | None = None

    def where(self, *keys: str | int) -> str:
        """The location of ``values[keys[0]][keys[1]]...`` (or of the section itself)."""
        node: Any = self.values
        parent: Any = None
        key: Any = None
        for part in keys:
            if not isinstance(node, dict | list):
                break
            try:
                child = node[part]
            except (KeyError, IndexError, TypeError):
                break
            parent, key, node = node, part, child
        if self.file is None:
            return ".".join(["plugin_settings", self.name, *map(str, keys)])
        if parent is None:
            return str(location_of(self.values, self.file))
        return str(location_of(parent, self.file, key))


@dataclass
class ServiceContext:
    """What a running service reaches: the shared O2G client, its configuration section,
    ``emit`` (an event for the flows) and ``status`` (a mapping it keeps current, shown
    under ``services.NAME`` by the status API)."""

    name: str
    client: O2GClient
    settings: PluginSettings
    emit: Emit
    status: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Service:
    """A plugin's long-running task beside the engine: ``run(ctx)`` is awaited while the
    engine is active, when the configuration has a ``plugin_settings`` section named
    ``name``. ``check(settings)`` lists what is wrong with that section (located), before
    the run starts."""

    name: str
    run: Callable[[ServiceContext], Awaitable[None]]
    check: Callable[[PluginSettings], list[str]] | None = None
    doc: str = ""


@dataclass
class Registry:
    """Everything flows can use: actions, JMESPath functions, event sources and events."""

    actions: dict[str, ActionSpec] = field(default_factory=dict)
    functions: FunctionTable = field(default_factory=FunctionTable)
    sources: dict[str, EventSource] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    plugins: list[str] = field(default_factory=list)
    services: dict[str, Service] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> Registry:
        """The built-in actions, functions and event sources (the webhook)."""
        from .webhook import WEBHOOK_EVENT, webhook_source

        registry = cls(
            actions={spec.name: spec for spec in BUILTIN_ACTIONS},
            functions=FunctionTable(list(BUILTIN_FUNCTIONS)),
        )
        registry.sources["webhook"] = webhook_source()
        registry.events.add(WEBHOOK_EVENT)
        return registry

    def add_action(self, spec: ActionSpec) -> None:
        """Register an action; a name already taken is a ``ValueError``."""
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

    def service(
        self,
        name: str,
        *,
        check: Callable[[PluginSettings], list[str]] | None = None,
        doc: str = "",
    ) -> Callable[[Callable[[ServiceContext], Awaitable[None]]], Any]:
        """Decorator registering ``async def run(ctx)`` as the service ``name`` (configured
        by ``plugin_settings.NAME``; ``check`` validates that section)."""

        def decorate(run: Callable[[ServiceContext], Awaitable[None]]) -> Any:
            if name in self.services:
                raise ValueError(f"service {name!r} is already defined")
            self.services[name] = Service(name, run, check, doc or (run.__doc__ or "").strip())
            return run

        return decorate

"""Hot reload: flow and plugin folders watched, changed flows swapped into a running engine.

Every change is loaded and validated first, in a worker thread, while the engine keeps
dispatching. A file with errors changes nothing: its previous flows keep running and its
errors (file:line:col) are logged and kept in ``errors``. The flows of valid files replace
the running ones through ``Engine.update``, on the event loop, so between two events; only
flows whose text changed are swapped. A change in a plugin folder loads the plugins again
and swaps every flow, so that their actions run the new plugin code.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from watchfiles import awatch

from .._yaml import SourceError
from .loader import LoadResult, load_flows
from .model import Flow
from .registry import Registry
from .runtime import Engine, Update

__all__ = ["FlowWatcher", "Reloaded"]

log = logging.getLogger("o2g_flows.engine")

_SUFFIXES = (".yaml", ".yml", ".py")


class Reloaded:
    """The outcome of one reload: what changed, and the errors of the files left as they were."""

    def __init__(self, update: Update, errors: list[SourceError]) -> None:
        self.update = update
        self.errors = errors


class FlowWatcher:
    """Keeps a running engine's flows in step with the files of ``paths``.

    ``plugins`` loads the plugin registry again (from the watched ``plugin_folders``);
    ``on_update`` runs after each swap that changed something (the live runner uses it to
    follow the flows' subscription needs).
    """

    def __init__(
        self,
        engine: Engine,
        paths: Sequence[str | Path],
        *,
        registry: Registry,
        plugin_folders: Sequence[str | Path] = (),
        plugins: Callable[[], Registry] | None = None,
        on_update: Callable[[Update], Awaitable[None]] | None = None,
        debounce_ms: int = 100,
        step_ms: int = 20,
    ) -> None:
        self.engine = engine
        self.paths = [Path(path) for path in paths]
        self.registry = registry
        self.plugin_folders = [Path(folder) for folder in plugin_folders]
        self.plugins = plugins
        self.on_update = on_update
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.errors: list[SourceError] = []
        #: Reloads so far by outcome: ``applied`` (flows changed), ``unchanged``, ``broken``
        #: (some file refused; its last valid version kept).
        self.reloads: Counter[str] = Counter()
        self._current: dict[str, list[Flow]] = {}
        for runtime in engine.flows.values():
            self._current.setdefault(runtime.flow.file, []).append(runtime.flow)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Watch until cancelled, reloading after each batch of changes."""
        watched = [path for path in (*self.paths, *self.plugin_folders) if path.exists()]
        if not watched:
            log.warning("hot reload: nothing to watch")
            return
        stop = asyncio.Event()
        batches = awatch(
            *watched,
            watch_filter=_relevant,
            debounce=self.debounce_ms,
            step=self.step_ms,
            stop_event=stop,
            yield_on_timeout=ready is not None,
            rust_timeout=50 if ready is not None else 5000,
        )
        try:
            async for changes in batches:
                if ready is not None and not ready.is_set():
                    ready.set()  # the watcher is running: later writes are seen
                if not changes:
                    continue
                plugins_changed = any(Path(path).suffix == ".py" for _, path in changes)
                await self.reload(plugins_changed)
        finally:
            stop.set()

    async def reload(self, plugins_changed: bool = False) -> Reloaded:
        """Load every flow file again and swap the valid changes into the engine."""
        if plugins_changed and self.plugins is not None:
            self.registry = await asyncio.to_thread(self.plugins)
        result: LoadResult = await asyncio.to_thread(load_flows, self.paths, self.registry)
        broken = {str(error.location.file) for error in result.errors}
        loaded: dict[str, list[Flow]] = {}
        for flow in result.flows:
            loaded.setdefault(flow.file, []).append(flow)
        for file in broken:
            if file in self._current:
                loaded[file] = self._current[file]  # the last valid version keeps running
        flows = [flow for group in loaded.values() for flow in group]
        update = self.engine.update(flows, replace_all=plugins_changed)
        self._current = loaded
        self.errors = list(result.errors)
        self.reloads["broken" if result.errors else "applied" if update else "unchanged"] += 1
        for error in result.errors:
            kept = " (its previous version keeps running)" if error.location.file in loaded else ""
            log.error("reload: %s%s", error, kept)
        if update:
            log.info(
                "reload: %s",
                "; ".join(
                    f"{what} {', '.join(names)}"
                    for what, names in (
                        ("added", update.added),
                        ("changed", update.changed),
                        ("removed", update.removed),
                    )
                    if names
                ),
            )
            if self.on_update is not None:
                await self.on_update(update)
        return Reloaded(update, list(result.errors))


def _relevant(change: object, path: str) -> bool:
    name = Path(path).name
    return name.endswith(_SUFFIXES) and not name.startswith((".", "#")) and "~" not in name

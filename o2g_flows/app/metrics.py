"""Prometheus metrics of a running engine, fed by its observer interface.

``Metrics`` is an engine ``Observer``: it counts executions, transitions, timers and actions
as they happen (with an action latency histogram), and reads the live figures (executions
per flow, pending timers) from the engine when scraped. ``watch_client`` adds the O2G
requests (latency, errors) and reconnections, ``watch_reloads`` the hot reloads. Each
``Metrics`` has a registry of its own, so several engines in one process (tests) do not mix
their figures.

    metrics = Metrics(engine)       # after creating the engine
    metrics.watch_client(client)    # O2G request latency and errors, reconnections
    text = metrics.exposition()     # Prometheus text format, for GET /metrics
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..client import O2GClient
from ..client.events import GAP_EVENT
from ..engine import Engine, Observer
from ..engine.reload import FlowWatcher
from ..engine.state import Execution

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics(Observer):
    """Counters and histograms of what the engine does, and gauges of what it holds."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.started_total = Counter(
            "o2g_flows_executions_started",
            "Executions started (or restored), by flow.",
            ["flow"],
            registry=registry,
        )
        self.ended_total = Counter(
            "o2g_flows_executions_ended",
            "Executions ended, by flow and outcome.",
            ["flow", "outcome"],
            registry=registry,
        )
        self.transitions_total = Counter(
            "o2g_flows_transitions", "State transitions, by flow.", ["flow"], registry=registry
        )
        self.timers_total = Counter(
            "o2g_flows_timers_fired", "after: timers fired, by flow.", ["flow"], registry=registry
        )
        self.actions_total = Counter(
            "o2g_flows_actions",
            "Actions run, by action and result (ok, failed, skipped).",
            ["action", "result"],
            registry=registry,
        )
        self.action_seconds = Histogram(
            "o2g_flows_action_seconds",
            "Time an action took (O2G request, webhook...), by action.",
            ["action"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.events_total = Counter(
            "o2g_flows_events_received",
            "O2G events received, by name.",
            ["event"],
            registry=registry,
        )
        self.dropped_total = Counter(
            "o2g_flows_events_dropped",
            "Events a flow listened to that did nothing there (see GET /api/drops), by flow.",
            ["flow"],
            registry=registry,
        )
        self.errors_total = Counter(
            "o2g_flows_execution_errors",
            "Errors noted on executions (failed timers, crashes, store failures), by flow.",
            ["flow"],
            registry=registry,
        )
        self.gaps_total = Counter(
            "o2g_flows_event_gaps",
            "Gaps in the O2G event stream (events lost, state read again), by reason.",
            ["reason"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "o2g_flows_o2g_request_seconds",
            "Time an O2G request took, by method and service.",
            ["method", "service"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.request_errors_total = Counter(
            "o2g_flows_o2g_request_errors",
            "O2G requests that failed, by service and status ('unreachable': no answer).",
            ["service", "status"],
            registry=registry,
        )
        registry.register(_Live(engine))
        engine.observe.add(self)

    def received(self, event: dict[str, Any]) -> None:
        """Count an O2G event as it arrives (the live runner's ``on_event``)."""
        name = str(event.get("eventName"))
        self.events_total.labels(name).inc()
        if name == GAP_EVENT:
            self.gaps_total.labels(str(event.get("reason"))).inc()

    def watch_client(self, client: O2GClient) -> None:
        """Time every O2G request of ``client``, count its failures and reconnections."""
        client.observe_requests(self._request)
        self.registry.register(_Reconnections(client))

    def watch_reloads(self, watcher: FlowWatcher) -> None:
        """Count the hot reloads of ``watcher`` by outcome."""
        self.registry.register(_Reloads(watcher))

    def _request(self, method: str, service: str, status: int | None, seconds: float) -> None:
        self.request_seconds.labels(method, service).observe(seconds)
        if status is None or status >= 400:
            self.request_errors_total.labels(service, str(status or "unreachable")).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)

    # -- the observer -------------------------------------------------------------------------

    def started(self, at: float, execution: Execution, condition: tuple[str, Any] | None) -> None:
        self.started_total.labels(execution.flow).inc()

    def restored(self, at: float, execution: Execution) -> None:
        self.started_total.labels(execution.flow).inc()

    def transition(
        self, at: float, execution: Execution, source: str, dest: str, cause: Any
    ) -> None:
        self.transitions_total.labels(execution.flow).inc()

    def timer(self, at: float, execution: Execution, label: str) -> None:
        self.timers_total.labels(execution.flow).inc()

    def action(
        self,
        at: float,
        execution: Execution,
        name: str,
        args: dict[str, Any],
        ok: bool,
        result: Any,
        ms: float,
    ) -> None:
        self.actions_total.labels(name, "ok" if ok else "failed").inc()
        self.action_seconds.labels(name).observe(ms / 1000)

    def skipped(self, at: float, execution: Execution, name: str, reason: str) -> None:
        self.actions_total.labels(name, "skipped").inc()

    def note(self, at: float, execution: Execution, text: str, failed: bool = False) -> None:
        if failed:
            self.errors_total.labels(execution.flow).inc()

    def dropped(self, at: float, flow: str, event: dict[str, Any], reason: str) -> None:
        self.dropped_total.labels(flow).inc()

    def ended(self, at: float, execution: Execution, outcome: str) -> None:
        self.ended_total.labels(execution.flow, outcome).inc()


class _Live(Collector):
    """Gauges read from the engine at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        live = GaugeMetricFamily(
            "o2g_flows_executions_live", "Executions running now, by flow.", labels=["flow"]
        )
        for name, runtime in self.engine.flows.items():
            live.add_metric([name], len(runtime.runs()))
        yield live
        pending = getattr(self.engine.timers, "pending", None)
        if pending is not None:
            yield GaugeMetricFamily(
                "o2g_flows_timers_pending", "Timers waiting to fire.", value=pending()
            )
        yield GaugeMetricFamily(
            "o2g_flows_flows_loaded", "Flows loaded.", value=len(self.engine.flows)
        )
        yield GaugeMetricFamily(
            "o2g_flows_gc_frozen_objects",
            "Objects kept out of the garbage collector's passes (start-up's, frozen once ready).",
            value=gc.get_freeze_count(),
        )
        store = self.engine.store
        if hasattr(store, "takeovers"):  # a store shared by several instances (PostgreSQL)
            yield CounterMetricFamily(
                "o2g_flows_takeovers", "Times this instance became active.", store.takeovers
            )
            yield CounterMetricFamily(
                "o2g_flows_stale_writes_refused",
                "Writes refused because another instance had taken over.",
                store.refused,
            )
            yield GaugeMetricFamily(
                "o2g_flows_lease_token", "The fencing token of the lease held.", store.token or 0
            )


class _Reconnections(Collector):
    """How often the O2G client recovered, read at each scrape."""

    def __init__(self, client: O2GClient) -> None:
        self.client = client

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "o2g_flows_o2g_reconnects",
            "O2G recoveries: sessions opened again, failovers, event channels reconnected.",
            labels=["kind"],
        )
        for kind, count in self.client.reconnections.items():
            family.add_metric([kind], count)
        yield family


class _Reloads(Collector):
    """Hot reloads by outcome, read at each scrape."""

    def __init__(self, watcher: FlowWatcher) -> None:
        self.watcher = watcher

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "o2g_flows_reloads",
            "Hot reloads of flows and plugins, by outcome (applied, unchanged, broken).",
            labels=["outcome"],
        )
        for outcome in ("applied", "unchanged", "broken"):
            family.add_metric([outcome], self.watcher.reloads[outcome])
        yield family

"""The o2g-flows application around the engine: the command line, configuration, the runner,
the console, the status server and page, metrics, the demo traffic generator.

    from o2g_flows.app import Metrics, StatusBoard, serve, status_app

The engine (``o2g_flows.engine``) is a library; what an operator runs and looks at lives
here. The names above are imported on first use, so a command that needs no HTTP server
does not pay for importing one.
"""

from __future__ import annotations

from .._lazy import lazy_names

__all__ = ["Metrics", "StatusBoard", "serve", "status_app"]

_HOMES = {
    "Metrics": ".metrics",
    "StatusBoard": ".status",
    "serve": ".status",
    "status_app": ".status",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES)

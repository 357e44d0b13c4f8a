"""The o2g-flows application around the engine: a status server and page, metrics.

    from o2g_flows.app import Metrics, StatusBoard, serve, status_app

The engine (``o2g_flows.engine``) is a library; what an operator looks at lives here.
"""

from .metrics import Metrics
from .status import StatusBoard, serve, status_app

__all__ = ["Metrics", "StatusBoard", "serve", "status_app"]

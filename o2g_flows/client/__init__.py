"""The O2G client core: every O2G REST endpoint over httpx, with sessions, events and failover.

async with O2GClient("https://o2g.example.com", "admin", "secret") as o2g:
    sub = await o2g.subscribe(names=["telephony"], ids=["alice"])
    async for event in o2g.events(sub):
        if event["eventName"] == "OnCallCreated":
            await o2g.telephony.answer(event["callRef"], event["legs"][0]["deviceId"])
"""

from .client import O2GClient
from .connection import Backoff
from .errors import (
    AuthenticationError,
    BadParameterError,
    InvalidSessionError,
    NotAllowedError,
    NotExpectedError,
    NotFoundError,
    NotReadyError,
    NotSupportedError,
    O2GConnectionError,
    O2GError,
    O2GProtocolError,
    ServerProblemError,
    SubscriptionRefusedError,
)
from .events import GAP_EVENT, PACKAGES, EventStream, Subscription
from .reference import methods, methods_table

__all__ = [
    "GAP_EVENT",
    "PACKAGES",
    "AuthenticationError",
    "Backoff",
    "BadParameterError",
    "EventStream",
    "InvalidSessionError",
    "NotAllowedError",
    "NotExpectedError",
    "NotFoundError",
    "NotReadyError",
    "NotSupportedError",
    "O2GClient",
    "O2GConnectionError",
    "O2GError",
    "O2GProtocolError",
    "ServerProblemError",
    "Subscription",
    "SubscriptionRefusedError",
    "methods",
    "methods_table",
]

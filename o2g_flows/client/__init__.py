"""The O2G client core: every O2G REST endpoint over httpx, with sessions, events and failover.

async with O2GClient("https://o2g.example.com", "admin", "secret") as o2g:
    sub = await o2g.subscribe(names=["telephony"], ids=["alice"])
    async for event in o2g.events(sub):
        if event["eventName"] == "OnCallCreated":
            await o2g.telephony.answer(event["callRef"], event["legs"][0]["deviceId"])
"""

from .._lazy import lazy_names

#: Where each public name lives, imported on first use: a command that only needs the
#: errors, or none of the client, does not import httpx.
_HOMES = {
    "O2GClient": ".client",
    "Backoff": ".connection",
    "GAP_EVENT": ".events",
    "PACKAGES": ".events",
    "EventStream": ".events",
    "Subscription": ".events",
    "methods": ".reference",
    "methods_table": ".reference",
    "AuthenticationError": ".errors",
    "BadParameterError": ".errors",
    "InvalidSessionError": ".errors",
    "NotAllowedError": ".errors",
    "NotExpectedError": ".errors",
    "NotFoundError": ".errors",
    "NotReadyError": ".errors",
    "NotSupportedError": ".errors",
    "O2GConnectionError": ".errors",
    "O2GError": ".errors",
    "O2GProtocolError": ".errors",
    "ServerProblemError": ".errors",
    "SubscriptionRefusedError": ".errors",
}

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


__getattr__, __dir__ = lazy_names(__name__, _HOMES)

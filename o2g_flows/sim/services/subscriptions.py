"""Subscription management: create, update the filter, delete."""

from __future__ import annotations

from typing import Any

from ..api import ApiRequest, endpoint


@endpoint("POST /subscriptions")
async def subscribe(request: ApiRequest) -> dict[str, Any]:
    return request.gateway.hub.subscribe(
        request.session, request.body, str(request.http.url.origin())
    )


@endpoint("PUT /subscriptions")
async def update_subscription(request: ApiRequest) -> None:
    request.gateway.hub.update(request.session, request.body)


@endpoint("DELETE /subscriptions/{subscriptionId}")
async def unsubscribe(request: ApiRequest) -> None:
    request.gateway.hub.unsubscribe(request.session, request.path["subscriptionId"])

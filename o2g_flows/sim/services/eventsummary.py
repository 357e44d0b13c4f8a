"""Event summary: the user's new-message counters."""

from __future__ import annotations

from typing import Any

from ..api import ApiRequest, endpoint


@endpoint("GET /eventSummary")
async def event_summary(request: ApiRequest) -> dict[str, Any]:
    return request.pbx.messaging.summary(request.user.login)

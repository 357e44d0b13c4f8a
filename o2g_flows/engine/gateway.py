"""The one door between the engine and the outside world (O2G and webhooks).

``LiveGateway`` sends through an ``O2GClient`` and httpx; ``RecordingGateway`` records what
would have been sent, for offline tests and replays, and answers guards from the events it
has seen.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # httpx is imported where a live gateway sends, not by validate
    import httpx

    from ..client import O2GClient

__all__ = [
    "ActionError",
    "Gateway",
    "LiveGateway",
    "Recorded",
    "RecordingGateway",
    "error_details",
]


class ActionError(Exception):
    """An action failed; ``details`` holds what the far end said (O2G error fields...)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class Gateway(ABC):
    """What actions may do to the world. Subclasses send or record."""

    @abstractmethod
    async def invoke(self, method: str, kwargs: dict[str, Any], action: str = "") -> Any:
        """Call the client method ``service.method`` (e.g. ``telephony.answer``)."""

    @abstractmethod
    async def http(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        action: str = "http",
    ) -> dict[str, Any]:
        """Send a webhook; returns ``{"status": ..., "body": ...}``."""

    @abstractmethod
    async def fetch_call(self, call_ref: str, login_name: str | None) -> dict[str, Any] | None:
        """The call as O2G sees it now (None when it no longer exists)."""

    @abstractmethod
    async def fetch_agent(self, login_name: str) -> dict[str, Any] | None:
        """The ACD agent's state as O2G sees it now."""

    def observe(self, event: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Called with every event before dispatch (recording gateways keep a view)."""


class LiveGateway(Gateway):
    """Sends through an ``O2GClient`` (``o2g_flows.client``) and one shared httpx client."""

    def __init__(
        self, client: O2GClient, *, admin: bool = True, http: httpx.AsyncClient | None = None
    ) -> None:
        self.client = client
        self.admin = admin
        self._http = http
        self._own_http = http is None
        self._methods: dict[str, tuple[Any, bool]] = {}

    def _resolve(self, method: str) -> tuple[Any, bool]:
        found = self._methods.get(method)
        if found is None:
            service, _, name = method.partition(".")
            target = getattr(getattr(self.client, service, None), name, None)
            if not name or target is None or not callable(target):
                raise ActionError(f"the O2G client has no method {method}")
            try:
                takes_login = "login_name" in inspect.signature(target).parameters
            except (TypeError, ValueError):
                takes_login = True
            found = self._methods[method] = (target, takes_login)
        return found

    async def invoke(self, method: str, kwargs: dict[str, Any], action: str = "") -> Any:
        target, takes_login = self._resolve(method)
        arguments = {key: value for key, value in kwargs.items() if value is not None}
        if not (takes_login and self.admin):
            arguments.pop("login_name", None)
        try:
            return await target(**arguments)
        except Exception as exc:
            raise ActionError(str(exc) or type(exc).__name__, error_details(exc)) from exc

    async def http(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        action: str = "http",
    ) -> dict[str, Any]:
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient()
        try:
            answer = await self._http.request(
                method, url, json=json, headers=headers, timeout=timeout
            )
        except httpx.HTTPError as exc:
            raise ActionError(f"{method} {url}: {exc!r}") from exc
        try:
            body: Any = answer.json()
        except ValueError:
            body = answer.text
        if answer.status_code >= 400:
            raise ActionError(
                f"{method} {url} answered {answer.status_code}",
                {"status": answer.status_code, "body": body},
            )
        return {"status": answer.status_code, "body": body}

    async def fetch_call(self, call_ref: str, login_name: str | None) -> dict[str, Any] | None:
        try:
            return await self.invoke(
                "telephony.get_call", {"call_ref": call_ref, "login_name": login_name}
            )
        except ActionError as exc:
            if exc.details.get("type") == "NOT_FOUND" or exc.details.get("status_code") == 404:
                return None
            raise

    async def fetch_agent(self, login_name: str) -> dict[str, Any] | None:
        return await self.invoke("acd.get_state", {"login_name": login_name})

    async def aclose(self) -> None:
        """Close the webhook HTTP client, unless it was given."""
        if self._own_http and self._http is not None:
            await self._http.aclose()


def error_details(exc: BaseException) -> dict[str, Any]:
    """The fields of an O2G error (or any exception) worth keeping in a trace."""
    details: dict[str, Any] = {"error": type(exc).__name__}
    for name in (
        "type",
        "code",
        "http_status",
        "help_message",
        "inner_message",
        "can_retry",
        "telephony",
        "routing",
        "status_code",
        "method",
        "url",
    ):
        value = getattr(exc, name, None)
        if value is not None and not callable(value):
            details[name] = value if isinstance(value, str | int | bool | dict) else str(value)
    info = getattr(exc, "info", None)
    if isinstance(info, dict):
        details.update({key: value for key, value in info.items() if key not in details})
    return details


@dataclass(slots=True)
class Recorded:
    """One request a recording gateway did not send."""

    at: float
    action: str
    method: str
    kwargs: dict[str, Any]


@dataclass
class RecordingGateway(Gateway):
    """Records requests instead of sending them; keeps a view of calls and agents from events.

    ``failures`` maps an action name or a method (``redirect``, ``telephony.redirect``) to an
    error message: matching requests raise ``ActionError`` (to test ``on_error`` offline).
    """

    clock: Any = None
    failures: dict[str, str] = field(default_factory=dict)
    records: list[Recorded] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _now(self) -> float:
        return self.clock.time() if self.clock is not None else 0.0

    def _record(self, action: str, method: str, kwargs: dict[str, Any]) -> None:
        self.records.append(Recorded(self._now(), action, method, dict(kwargs)))
        message = self.failures.get(action) or self.failures.get(method)
        if message is not None:
            kind = message.split(":", 1)[0].strip() if ":" in message else message
            raise ActionError(message, {"type": kind, "recorded": True})

    async def invoke(self, method: str, kwargs: dict[str, Any], action: str = "") -> Any:
        self._record(action or method, method, kwargs)
        return None

    async def http(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        action: str = "http",
    ) -> dict[str, Any]:
        self._record(action, f"http.{method.lower()}", {"url": url, "json": json})
        return {"status": 200, "body": None}

    async def fetch_call(self, call_ref: str, login_name: str | None) -> dict[str, Any] | None:
        return self.calls.get(call_ref)

    async def fetch_agent(self, login_name: str) -> dict[str, Any] | None:
        return self.agents.get(login_name)

    def observe(self, event: dict[str, Any]) -> None:
        name = event.get("eventName")
        ref = event.get("callRef")
        if name == "OnCallCreated" and isinstance(ref, str):
            self.calls[ref] = {
                "callRef": ref,
                "callData": event.get("callData") or {},
                "legs": _objects(event.get("legs")),
                "participants": _objects(event.get("participants")),
            }
        elif name == "OnCallModified" and isinstance(ref, str):
            call = self.calls.setdefault(ref, {"callRef": ref, "legs": [], "participants": []})
            if event.get("callData"):
                call["callData"] = event["callData"]
            legs = {leg.get("deviceId"): leg for leg in call["legs"]}
            for leg in [*_objects(event.get("addedLegs")), *_objects(event.get("modifiedLegs"))]:
                legs[leg.get("deviceId")] = leg
            for leg in _objects(event.get("removedLegs")):
                legs.pop(leg.get("deviceId"), None)
            call["legs"] = list(legs.values())
        elif name == "OnCallRemoved" and isinstance(ref, str):
            self.calls.pop(ref, None)
        elif name == "OnAgentStateChanged" and isinstance(event.get("loginName"), str):
            self.agents[event["loginName"]] = event.get("state") or {}


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a list field of an event; anything else (a damaged event) is skipped."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []

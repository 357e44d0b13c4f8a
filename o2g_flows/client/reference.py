"""The method-to-endpoint table: which client method calls which O2G endpoint."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from .services import SERVICES

__all__ = ["Method", "methods", "methods_table"]


@dataclass(frozen=True)
class Method:
    """One client method and the endpoint it calls."""

    service: str  # client attribute, e.g. "telephony"
    name: str  # method name, e.g. "answer"
    endpoint: str  # catalogue id, e.g. "POST /telephony/calls/{callRef}/answer"
    signature: str  # e.g. "(call_ref, device_id)"
    summary: str

    @property
    def http_method(self) -> str:
        """``GET``, ``POST``..."""
        return self.endpoint.split(" ", 1)[0]

    @property
    def path(self) -> str:
        """The catalogue path, e.g. ``/telephony/calls/{callRef}/answer``."""
        return self.endpoint.split(" ", 1)[1]


def methods() -> list[Method]:
    """Every generated service method, in catalogue order."""
    found = []
    for attribute, service in SERVICES.items():
        for name, function in vars(service).items():
            endpoint = getattr(function, "endpoint", None)
            if endpoint is None:
                continue
            summary = (inspect.getdoc(function) or "").split("\n\n", 1)[0].replace("\n", " ")
            found.append(Method(attribute, name, endpoint, _signature(function), summary))
    return found


def _signature(function: object) -> str:
    parts = []
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        default = parameter.default
        parts.append(
            parameter.name if default is parameter.empty else f"{parameter.name}={default!r}"
        )
    return f"({', '.join(parts)})"


def methods_table(service: str | None = None, search: str | None = None) -> str:
    """The table as text: one line per method, grouped by service.

    ``service`` keeps one service (``"telephony"``); ``search`` keeps the lines
    whose method, path or summary contains the text (case-insensitive).
    """
    rows = methods()
    if service is not None:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
        rows = [row for row in rows if row.service == service]
    if search:
        needle = search.lower()
        rows = [
            row
            for row in rows
            if needle in f"{row.service}.{row.name} {row.endpoint} {row.summary}".lower()
        ]
    lines = []
    width = max((len(row.endpoint) for row in rows), default=0)
    current = None
    for row in rows:
        if row.service != current:
            current = row.service
            if lines:
                lines.append("")
            lines.append(f"o2g.{row.service}  ({SERVICES[row.service].catalogue_name})")
        lines.append(f"  {row.endpoint:<{width}}  {row.name}{row.signature}")
    return "\n".join(lines) + ("\n" if lines else "")

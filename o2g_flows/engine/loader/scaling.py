"""Template scaling: a delay template in minutes or hours, rendered to seconds."""

from __future__ import annotations

from typing import Any

from ..expressions import (
    Dynamic,
)
from .common import (
    parse_duration,
)


class Scaled(Dynamic):
    """A delay template in minutes or hours, rendered to seconds."""

    __slots__ = ("scale", "value")

    def __init__(self, value: Dynamic, scale: float) -> None:
        self.value = value
        self.scale = scale

    def render(self, context: Any) -> Any:
        return parse_duration(self.value.render(context)) * self.scale

    def expressions(self) -> Any:
        return self.value.expressions()

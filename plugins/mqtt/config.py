"""The bridge's configuration: ``plugin_settings.mqtt`` of the configuration file, checked.

```yaml
plugin_settings:
  mqtt:
    url: mqtts://broker.example:8883     # mqtt:// (1883) or mqtts:// (TLS, 8883)
    username: o2g
    password_file: /etc/o2g-flows/mqtt-password   # or password_env: MQTT_PASSWORD
    ca: /etc/o2g-flows/broker-ca.pem     # mqtts: the broker's CA (default: the system's)
    client_id: o2g-flows
    base_topic: o2g                      # state, commands, availability, errors
    discovery_prefix: homeassistant
    users: [alice, bob]                  # presence, DND, forward
    agents: [agent1]                     # ACD agent state
    pilots: ["5000"]                     # calls waiting
    forward_numbers: ["2002", "0612345678"]   # the forward select's choices
    subscribe: ["home/doorbell/#"]       # topics whose messages are the flows' MqttMessage
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from o2g_flows.plugins import PluginSettings

__all__ = ["MQTT_EVENT", "MqttConfig", "parse"]

#: The flows' event for a message on a subscribed topic.
MQTT_EVENT = "MqttMessage"

_KEYS = {
    "url",
    "username",
    "password_file",
    "password_env",
    "ca",
    "client_id",
    "base_topic",
    "discovery_prefix",
    "users",
    "agents",
    "pilots",
    "forward_numbers",
    "subscribe",
    "keepalive",
    "max_backoff",
}


@dataclass(frozen=True)
class MqttConfig:
    """The checked settings of the bridge (the password is read when connecting)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    ca: str | None = None
    client_id: str = "o2g-flows"
    base_topic: str = "o2g"
    discovery_prefix: str = "homeassistant"
    users: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    pilots: tuple[str, ...] = ()
    forward_numbers: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    keepalive: int = 30
    max_backoff: float = 60.0

    @property
    def broker(self) -> str:
        """The broker as ``scheme://host:port`` (never with credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"

    def password(self) -> str | None:
        """The broker password, from its file or variable; ``ValueError`` if unreadable."""
        if self.password_file is not None:
            try:
                return Path(self.password_file).read_text("utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"mqtt password_file {self.password_file}: cannot read it ({exc.strerror})"
                ) from None
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(f"mqtt password_env: ${self.password_env} is not set")
            return value
        return None


def parse(settings: PluginSettings) -> tuple[MqttConfig | None, list[str]]:
    """``(config, [])`` or ``(None, problems)``, each problem ``file:line:col: text``."""
    values = settings.values
    problems: list[str] = []

    def bad(key: str, text: str) -> None:
        problems.append(f"{settings.where(key)}: mqtt {key}: {text}")

    for key in values:
        if key == "password":
            bad(key, "is never written in the file: use password_file or password_env")
        elif key not in _KEYS:
            problems.append(
                f"{settings.where(key)}: mqtt: unknown setting {key!r} "
                f"(known: {', '.join(sorted(_KEYS))})"
            )
    url = values.get("url")
    host, port, tls = "", 0, False
    if not isinstance(url, str) or not url:
        problems.append(f"{settings.where()}: mqtt url is required, e.g. mqtt://127.0.0.1:1883")
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            bad("url", f"{url!r} must start with mqtt:// or mqtts://")
        elif parts.password is not None or parts.username is not None:
            bad("url", "give username and password_file (or password_env), not in the URL")
        elif not parts.hostname:
            bad("url", f"{url!r} names no host")
        else:
            tls = parts.scheme == "mqtts"
            host = parts.hostname
            try:
                port = parts.port or (8883 if tls else 1883)
            except ValueError:
                bad("url", f"{url!r} has a bad port")
    texts: dict[str, str | None] = {}
    for key in ("username", "password_file", "password_env", "ca"):
        value = values.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            bad(key, "must be text")
            value = None
        texts[key] = value
    if texts["password_file"] and texts["password_env"]:
        bad("password_env", "give password_file or password_env, not both")
    if texts["ca"] and not Path(texts["ca"]).is_file():
        bad("ca", f"{texts['ca']}: no such file")
    names: dict[str, str] = {}
    for key, default in (
        ("client_id", "o2g-flows"),
        ("base_topic", "o2g"),
        ("discovery_prefix", "homeassistant"),
    ):
        value = values.get(key, default)
        if not isinstance(value, str) or not value or any(c in value for c in "+#\0"):
            bad(key, f"{value!r} must be text without + # or NUL")
            value = default
        names[key] = value.strip("/")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("users", "agents", "pilots", "forward_numbers", "subscribe"):
        value = values.get(key, [])
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(
            isinstance(item, str | int) and not isinstance(item, bool) and str(item)
            for item in value
        ):
            bad(key, "must be a list of names or numbers")
            value = []
        items = tuple(str(item) for item in value)
        if key != "subscribe":
            for item in items:
                if any(c in item for c in "/+#\0"):
                    bad(key, f"{item!r} cannot appear in a topic (no / + #)")
        lists[key] = items
    for item in lists["subscribe"]:
        if not _valid_filter(item):
            bad("subscribe", f"{item!r} is not a valid MQTT topic filter")
    numbers: dict[str, float] = {}
    for key, default, low in (("keepalive", 30, 5), ("max_backoff", 60.0, 0.1)):
        value = values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            bad(key, f"must be a number >= {low}")
            value = default
        numbers[key] = value
    if problems:
        return None, problems
    config = MqttConfig(
        host=host,
        port=port,
        tls=tls,
        username=texts["username"],
        password_file=texts["password_file"],
        password_env=texts["password_env"],
        ca=texts["ca"],
        client_id=names["client_id"],
        base_topic=names["base_topic"],
        discovery_prefix=names["discovery_prefix"],
        users=lists["users"],
        agents=lists["agents"],
        pilots=lists["pilots"],
        forward_numbers=lists["forward_numbers"],
        subscribe=lists["subscribe"],
        keepalive=int(numbers["keepalive"]),
        max_backoff=float(numbers["max_backoff"]),
    )
    return config, []


def _valid_filter(text: str) -> bool:
    """An MQTT topic filter: ``+`` alone in a level, ``#`` alone and last."""
    if not text or "\0" in text:
        return False
    levels = text.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True

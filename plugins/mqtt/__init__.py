"""The MQTT bridge: the PBX in Home Assistant (MQTT discovery), and MQTT in flows.

Configured by ``plugin_settings.mqtt`` in the configuration file (``config.py`` lists the
settings); needs ``aiomqtt`` (``pip install 'o2g-flows[mqtt]'``). It adds:

- the service ``mqtt``: users' presence, DND and forward, agents' state and pilots' calls
  waiting as Home Assistant entities, with commands from the hub (``entities.py`` lists the
  entities and their topics; ``bridge.py`` how they are kept);
- the event ``MqttMessage`` (``topic``, ``filter``, ``payload`` parsed as JSON when it is
  JSON, ``text``, ``retain``, ``qos``) for messages on the ``subscribe`` topics;
- the action ``mqtt_publish: {topic, payload, qos, retain}``;
- the function ``topic_matches(topic, filter)`` (MQTT wildcards ``+`` and ``#``).
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

# checked here so that a missing client is one clear line; the bridge (aiomqtt, httpx, the
# client) is imported when it runs, so that validate and test do not pay for it
if find_spec("aiomqtt") is None:
    raise ImportError("the mqtt plugin needs aiomqtt: pip install 'o2g-flows[mqtt]'")

import orjson

from o2g_flows.engine.gateway import ActionError, LiveGateway
from o2g_flows.plugins import ActionContext, Param, PluginSettings, Registry, ServiceContext

from .config import MQTT_EVENT, parse

__all__ = ["register"]


def register(registry: Registry) -> None:
    """Add the ``mqtt`` service, the ``MqttMessage`` event, ``mqtt_publish`` and
    ``topic_matches()``."""
    registry.service("mqtt", check=check, doc="MQTT bridge and Home Assistant discovery")(run)
    registry.event(MQTT_EVENT)
    registry.action(
        "mqtt_publish",
        Param("topic", required=True, doc="the topic (no wildcards)"),
        Param("payload", type="any", doc="text as is; anything else as JSON"),
        Param("qos", type="integer", default=0, doc="0, 1 or 2"),
        Param("retain", type="boolean", default=False),
        doc="Publish a message through the MQTT bridge's broker connection.",
    )(mqtt_publish)
    registry.function(
        "topic_matches",
        "string|null",
        "string",
        doc="topic_matches(topic, filter): the topic matches the MQTT filter (+, #)",
    )(topic_matches)


def check(settings: PluginSettings) -> list[str]:
    """The problems of ``plugin_settings.mqtt``, located."""
    return parse(settings)[1]


async def run(ctx: ServiceContext) -> None:
    """The bridge, until the engine stops."""
    from .bridge import Bridge

    config, _ = parse(ctx.settings)
    assert config is not None  # checked before the run started
    await Bridge(config).run(ctx)


async def mqtt_publish(ctx: ActionContext, args: dict[str, Any]) -> Any:
    """Publish ``payload`` on ``topic``; offline runs only record it."""
    topic, qos = args["topic"], args.get("qos") or 0
    if not isinstance(topic, str) or not topic or any(c in topic for c in "+#\0"):
        raise ActionError(f"mqtt_publish: topic {topic!r} must be text without + # or NUL")
    if qos not in (0, 1, 2):
        raise ActionError(f"mqtt_publish: qos must be 0, 1 or 2, not {qos!r}")
    payload = args.get("payload")
    if payload is None:
        body = b""
    elif isinstance(payload, str):
        body = payload.encode()
    else:
        body = orjson.dumps(payload)
    if not isinstance(ctx.gateway, LiveGateway):  # an offline test: the action is recorded
        return None
    from .bridge import current

    bridge = current()
    if bridge is None:
        raise ActionError("mqtt_publish: the MQTT bridge is not running (plugin_settings.mqtt)")
    try:
        await bridge.publish(topic, body, qos, bool(args.get("retain")))
    except ConnectionError as exc:
        raise ActionError(f"mqtt_publish: {exc}") from None
    return {"topic": topic, "bytes": len(body)}


def topic_matches(topic: Any, topic_filter: str) -> bool:
    """True when ``topic`` matches the MQTT ``topic_filter``."""
    if not isinstance(topic, str):
        return False
    levels, wanted = topic.split("/"), topic_filter.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return not topic.startswith("$") or index > 0
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
        if index == 0 and part == "+" and levels[0].startswith("$"):
            return False
    return len(levels) == len(wanted)

"""The bridge: O2G state to MQTT (Home Assistant discovery), hub commands to O2G, MQTT to flows.

Three tasks share one ``Bridge``:

- the O2G side subscribes (through the shared client) to the exposed users' call and
  routing events, the agents' state and the pilots' queue events, reads a snapshot at start
  and after every event gap, and turns each event into state topic values (``Model``);
- the writer publishes every changed value, retained, while the broker is connected; on
  each (re)connection it republishes everything: discovery configs, ``online``, the state;
- the broker side connects with a last will (``offline``), retries with backoff (the
  status shows it), and reads commands and the topics flows subscribe to.

A command is carried out through the client; the state topic changes when the PBX reports
the change (its event), never on the request alone. A command that cannot be carried out is
answered on ``BASE/error`` and logged. Nothing published holds a password or a session token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from typing import Any

import aiomqtt
import httpx
import orjson

from o2g_flows.client import GAP_EVENT, O2GClient, O2GError
from o2g_flows.plugins import ServiceContext

from .config import MQTT_EVENT, MqttConfig
from .entities import AGENT_COMMANDS, Topics, discovery
from .model import Model

__all__ = ["MQTT_EVENT", "Bridge", "current"]

log = logging.getLogger("o2g_flows.mqtt")

_SNAPSHOT_CONCURRENCY = 16
_ERROR_PAYLOAD = 200  # characters of a refused payload echoed on the error topic

_running: dict[str, Bridge] = {}


def current() -> Bridge | None:
    """The bridge running in this process, if any (what ``mqtt_publish`` publishes with)."""
    return _running.get("mqtt")


class Bridge:
    """One MQTT bridge for one engine run (see the module docstring)."""

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self.topics = Topics(config.base_topic, config.discovery_prefix)
        self.model = Model(self.topics, config.users, config.agents, config.pilots)
        self.client: aiomqtt.Client | None = None
        self.o2g: O2GClient | None = None
        self.status: dict[str, Any] = {}
        self._retained: dict[str, bytes] = {}  # discovery configs, then availability
        for entity in discovery(
            self.topics, config.users, config.agents, config.pilots, config.forward_numbers
        ):
            self._retained[entity.topic] = orjson.dumps(entity.payload)
        self._retained[self.topics.availability] = b"online"
        self._dirty: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._commands: set[asyncio.Task[None]] = set()
        self._emit: Any = None

    # -- running --------------------------------------------------------------------------------

    async def run(self, ctx: ServiceContext) -> None:
        """Run until cancelled: the broker connection, the O2G side and the writer."""
        self.status = ctx.status
        self.o2g = ctx.client
        self._emit = ctx.emit
        self.status.update(
            broker=self.config.broker,
            connected=False,
            entities=sum(1 for topic in self._retained if topic.endswith("/config")),
            published=0,
            events=0,
            commands=0,
            refused=0,
            snapshots=0,
        )
        _running["mqtt"] = self
        tasks = [
            asyncio.create_task(self._broker()),
            asyncio.create_task(self._writer()),
            asyncio.create_task(self._o2g(ctx.client)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            if _running.get("mqtt") is self:
                del _running["mqtt"]
            for task in [*tasks, *self._commands]:
                task.cancel()
            await asyncio.gather(*tasks, *self._commands, return_exceptions=True)

    # -- the broker -----------------------------------------------------------------------------

    async def _broker(self) -> None:
        config = self.config
        delay, said = 1.0, False
        while True:
            try:
                async with self._connect() as client:
                    self.client = client
                    await client.subscribe([(f, 1) for f in self.topics.commands()])
                    for topic_filter in config.subscribe:
                        await client.subscribe(topic_filter, qos=1)
                    self.status.update(connected=True, since=_now(), error=None, retry_in=None)
                    log.info("mqtt     connected to %s", config.broker)
                    delay, said = 1.0, False
                    self._mark_all()
                    self._connected.set()
                    async for message in client.messages:
                        self._on_message(message)
            except (aiomqtt.MqttError, OSError, ValueError) as exc:
                reason = _reason(exc)
                was = self.status.get("connected")
                self.client = None
                self._connected.clear()
                self.status.update(connected=False, error=reason, retry_in=delay)
                if was or not said:
                    log.warning(
                        "mqtt     %s %s (%s); the engine runs on, retrying in %g s",
                        "lost the broker" if was else "cannot reach the broker",
                        config.broker,
                        reason,
                        delay,
                    )
                    said = True
            finally:
                self.client = None
                self._connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.max_backoff)

    @contextlib.asynccontextmanager
    async def _connect(self) -> Any:
        config = self.config
        tls = None
        if config.tls:
            tls = ssl.create_default_context(cafile=config.ca)
        client = aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password(),
            identifier=config.client_id,
            will=aiomqtt.Will(self.topics.availability, b"offline", qos=1, retain=True),
            keepalive=config.keepalive,
            tls_context=tls,
            timeout=10,
            clean_session=True,
        )
        async with client:
            try:
                yield client
            finally:
                if self._connected.is_set():  # a clean stop: say so before leaving
                    with contextlib.suppress(aiomqtt.MqttError):
                        await client.publish(
                            self.topics.availability, b"offline", qos=1, retain=True, timeout=2
                        )

    # -- publishing -----------------------------------------------------------------------------

    def _mark(self, topics: list[str]) -> None:
        for topic in topics:
            self._dirty[topic] = None
        if topics:
            self._wake.set()

    def _mark_all(self) -> None:
        self._dirty.clear()
        self._mark([*self._retained, *self.model.values])

    async def _writer(self) -> None:
        """Publish the latest value of each changed topic, in order, while connected."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._connected.wait()
            client = self.client
            while self._dirty and client is not None and client is self.client:
                topic = next(iter(self._dirty))
                payload = self.model.values.get(topic)
                if payload is None:
                    payload = self._retained[topic]
                try:
                    await client.publish(topic, payload, qos=0, retain=True)
                except aiomqtt.MqttError:
                    break  # the broker side reconnects and marks everything again
                self._dirty.pop(topic, None)
                self.status["published"] += 1

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Publish one message now (``mqtt_publish``); ``ConnectionError`` when not connected."""
        client = self.client
        if client is None:
            raise ConnectionError(f"not connected to the broker {self.config.broker}")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=10)
        except aiomqtt.MqttError as exc:
            raise ConnectionError(f"the broker {self.config.broker}: {_reason(exc)}") from None
        self.status["published"] += 1

    # -- the O2G side ---------------------------------------------------------------------------

    async def _o2g(self, client: O2GClient) -> None:
        selectors = self._selectors(client)
        if not selectors:
            return
        try:
            subscription = await client.subscribe(selectors=selectors)
        except O2GError as exc:  # e.g. a user session exposing others: say so, keep MQTT
            log.error("mqtt     cannot subscribe to the exposed users' events: %s", exc)
            self.status["o2g_error"] = str(exc)
            return
        try:
            await self._snapshot(client)
            async for event in client.events(subscription):
                if event.get("eventName") == GAP_EVENT:
                    log.warning("mqtt     O2G event gap (%s): new snapshot", event.get("reason"))
                    await self._snapshot(client)
                    continue
                self.status["events"] += 1
                self._mark(self.model.apply(event))
        finally:
            with contextlib.suppress(O2GError, httpx.HTTPError):
                await client.unsubscribe(subscription)

    def _selectors(self, client: O2GClient) -> list[dict[str, Any]]:
        config = self.config
        admin = bool(client.session.get("admin"))

        def ids(names: tuple[str, ...]) -> dict[str, Any]:
            return {"ids": list(names)} if admin else {}

        selectors = []
        if config.users:
            calls = ["OnCallCreated", "OnCallModified", "OnCallRemoved"]
            selectors.append({"names": calls, **ids(config.users)})
            selectors.append({"names": ["OnRoutingStateChanged"], **ids(config.users)})
        if config.agents:
            selectors.append({"names": ["OnAgentStateChanged"], **ids(config.agents)})
        if config.pilots:
            selectors.append(
                {"names": ["OnPilotCallQueued", "OnPilotCallRemoved"], **ids(config.pilots)}
            )
        return selectors

    async def _snapshot(self, client: O2GClient) -> None:
        """Read every exposed user's calls and routing and every agent's state."""
        limit = asyncio.Semaphore(_SNAPSHOT_CONCURRENCY)
        changed: list[str] = []

        async def read(what: str, login: str) -> None:
            async with limit:
                try:
                    if what == "telephony":
                        state = await client.telephony.get_state(login_name=login)
                        self.model.telephony(login, dict(state or {}), changed)
                    elif what == "routing":
                        state = await client.routing.get_state(login_name=login)
                        self.model.routing(login, dict(state or {}), changed)
                    else:
                        state = await client.acd.get_state(login_name=login)
                        self.model.agent(login, dict(state or {}), changed)
                except (O2GError, httpx.HTTPError) as exc:
                    log.warning("mqtt     snapshot of %s for %s failed: %s", what, login, exc)

        reads = [
            read(what, login) for login in self.config.users for what in ("telephony", "routing")
        ]
        reads += [read("agent", login) for login in self.config.agents]
        await asyncio.gather(*reads)
        self.status["snapshots"] += 1
        self._mark(changed)

    # -- messages from the broker ---------------------------------------------------------------

    def _on_message(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else b""
        if topic.endswith("/set") and topic.startswith(self.topics.base + "/"):
            task = asyncio.create_task(self._command(topic, payload, bool(message.retain)))
            self._commands.add(task)
            task.add_done_callback(self._commands.discard)
        for topic_filter in self.config.subscribe:
            if message.topic.matches(topic_filter):
                self._flow_event(message, topic, payload, topic_filter)
                break

    def _flow_event(
        self, message: aiomqtt.Message, topic: str, payload: bytes, topic_filter: str
    ) -> None:
        text = payload.decode("utf-8", errors="replace")
        try:
            value: Any = orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError:
            value = text
        self._emit(
            {
                "eventName": MQTT_EVENT,
                "topic": topic,
                "filter": topic_filter,
                "payload": value,
                "text": text,
                "retain": bool(message.retain),
                "qos": int(message.qos),
            }
        )

    async def _command(self, topic: str, payload: bytes, retained: bool) -> None:
        self.status["commands"] += 1
        levels = topic[len(self.topics.base) + 1 :].split("/")
        text = payload.decode("utf-8", errors="replace").strip()
        try:
            if retained:  # it would be carried out again at every reconnection
                raise _Refused("a retained command is ignored: publish commands without retain")
            await self._carry_out(levels, text)
        except _Refused as exc:
            await self._refuse(topic, text, str(exc))
        except O2GError as exc:
            await self._refuse(topic, text, f"the PBX refused it: {exc}")
        except httpx.HTTPError as exc:
            await self._refuse(topic, text, f"the gateway cannot be reached: {exc!r}")

    async def _carry_out(self, levels: list[str], text: str) -> None:
        client = self.o2g
        assert client is not None
        match levels:
            case ["user", login, "dnd", "set"]:
                self._exposed(login, self.config.users)
                value = text.upper()
                if value in ("ON", "TRUE", "1"):
                    await client.routing.activate_dnd(login_name=login)
                elif value in ("OFF", "FALSE", "0"):
                    await client.routing.cancel_dnd(login_name=login)
                else:
                    raise _Refused("DND takes ON or OFF")
            case ["user", login, "forward", "set"]:
                self._exposed(login, self.config.users)
                if text == "none":
                    await client.routing.cancel_forward_route(login_name=login)
                elif text == "voicemail":
                    route = {"destinations": [{"type": "VOICEMAIL"}]}  # immediate: no type
                    await client.routing.set_forward_route(route, login_name=login)  # type: ignore[arg-type]
                elif text in self.config.forward_numbers:
                    destination = {"type": "NUMBER", "number": text}
                    route = {"destinations": [destination]}
                    await client.routing.set_forward_route(route, login_name=login)  # type: ignore[arg-type]
                else:
                    choices = ", ".join(["none", "voicemail", *self.config.forward_numbers])
                    raise _Refused(f"forward takes one of {choices}")
            case ["agent", login, "state", "set"]:
                self._exposed(login, self.config.agents)
                method = AGENT_COMMANDS.get(text.lower())
                if method is None:
                    raise _Refused(f"an agent state is one of {', '.join(AGENT_COMMANDS)}")
                await getattr(client.acd, method)(login_name=login)
            case _:
                raise _Refused("no such command topic")

    @staticmethod
    def _exposed(login: str, exposed: tuple[str, ...]) -> None:
        if login not in exposed:
            raise _Refused(f"{login!r} is not exposed by the bridge")

    async def _refuse(self, topic: str, text: str, reason: str) -> None:
        self.status["refused"] += 1
        shown = text if len(text) <= _ERROR_PAYLOAD else text[:_ERROR_PAYLOAD] + "..."
        log.warning("mqtt     command on %s refused: %s (payload %r)", topic, reason, shown)
        client = self.client
        if client is not None:
            body = orjson.dumps({"topic": topic, "payload": shown, "error": reason})
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self.topics.error, body, qos=1, retain=False, timeout=5)


class _Refused(Exception):
    """A command that cannot be carried out, and why."""


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else repr(exc)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

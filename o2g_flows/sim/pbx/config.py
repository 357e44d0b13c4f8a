"""The PBX file: a YAML description of users, groups, ACD and timings.

``load_pbx_file`` reads it with positions and refuses a malformed file with
``file:line:col: reason``. The result is the simulator's starting PBX state.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from o2g_flows._yaml import SourceError, key_location, load_yaml, location_of

__all__ = [
    "DEFAULT_PBX",
    "AcdAgentConfig",
    "Administrator",
    "Device",
    "External",
    "HuntingGroup",
    "PbxConfig",
    "Pilot",
    "ProcessingGroup",
    "Timing",
    "User",
    "load_pbx_file",
    "parse_pbx",
]

DEFAULT_PBX = "default_pbx.yaml"


@dataclass
class Timing:
    """Durations in seconds; tests shorten them so scenarios run in milliseconds."""

    session_ttl: float = 1800.0  # SessionInfo.timeToLive
    keepalive_interval: float = 30.0  # keepalive events on a timeout-0 channel
    channel_minute: float = 60.0  # one "minute" of a subscription timeout
    ring_timeout: float = 20.0  # no-answer overflow when a route gives none
    wrapup: float = 10.0  # ACD wrap-up after an agent call
    voicemail_message: float = 5.0  # length of a message a caller leaves
    webhook_retry: float = 1.0  # pause before a failed webhook POST is tried again
    search_delay: float = 0.0  # time the phone book takes to answer a directory search
    search_idle: float = 60.0  # an unused directory search is dropped (TIMEOUT) after this


@dataclass(eq=False)
class Device:
    """A user's device with its phone-set programming state."""

    id: str
    type: str = "DESKPHONE"
    sub_type: str | None = None
    state: str = "IN_SERVICE"
    lock: bool = False
    campon: bool = False
    associate: str | None = None
    remote_extension_active: bool = False
    pin: dict[str, Any] = field(default_factory=dict)
    programmeable_keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    soft_keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    addons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        body = {"type": self.type, "id": self.id}
        if self.sub_type:
            body["subType"] = self.sub_type
        return body


@dataclass(eq=False)
class AcdAgentConfig:
    """The ACD part of a user: an agent or a supervisor."""

    type: str  # AGENT | SUPERVISOR (AgentType)
    proacd: str | None = None  # the pro-ACD device number the agent logs on
    groups: list[str] = field(default_factory=list)
    preferred: str | None = None
    skills: list[dict[str, Any]] = field(default_factory=list)
    self_assign: bool = False
    headset: bool = False
    help: bool = True


@dataclass(eq=False)
class User:
    """A PBX subscriber monitored by O2G."""

    login: str
    password: str
    number: str  # company phone, also the main desk device
    first_name: str = ""
    last_name: str = ""
    devices: list[Device] = field(default_factory=list)
    voicemail: str | None = None  # voicemail box number, None without voicemail
    mailbox_password: str = "0000"
    licenses: set[str] = field(default_factory=set)
    language: str = "en"
    acd: AcdAgentConfig | None = None
    email: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.login


@dataclass(eq=False)
class Administrator:
    login: str
    password: str
    supervisor: bool = True  # may open supervised sessions


@dataclass(eq=False)
class HuntingGroup:
    number: str
    name: str
    members: list[str] = field(default_factory=list)


@dataclass(eq=False)
class ProcessingGroup:
    number: str
    name: str
    withdraw_reasons: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Pilot:
    number: str
    name: str
    groups: list[str] = field(default_factory=list)
    queue_size: int = 10


@dataclass(eq=False)
class External:
    number: str
    first_name: str = ""
    last_name: str = ""


@dataclass(eq=False)
class PbxConfig:
    """Everything a PBX file describes."""

    node_id: int = 1
    name: str = "oxe1"
    version: str = "M5.4"
    voicemail_service: str = "3000"  # the number of the voicemail server
    timing: Timing = field(default_factory=Timing)
    licenses: dict[str, int] = field(default_factory=dict)
    administrators: list[Administrator] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    hunting_groups: list[HuntingGroup] = field(default_factory=list)
    processing_groups: list[ProcessingGroup] = field(default_factory=list)
    pilots: list[Pilot] = field(default_factory=list)
    externals: list[External] = field(default_factory=list)
    pbx_objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def load_pbx_file(path: str | Path | None = None) -> PbxConfig:
    """Read a PBX file (the shipped default when ``path`` is None)."""
    if path is None:
        return copy.deepcopy(_default_pbx())  # the caller may change its copy
    path = Path(path)
    return parse_pbx(path.read_text("utf-8"), path)


@cache
def _default_pbx() -> PbxConfig:
    """The shipped PBX file, parsed once: every simulator without a file starts from it."""
    text = resources.files("o2g_flows.sim").joinpath(DEFAULT_PBX).read_text("utf-8")
    return parse_pbx(text, DEFAULT_PBX)


def parse_pbx(text: str, file: str | Path = "<pbx>") -> PbxConfig:
    """Parse PBX YAML text; raise ``SourceError`` at the first problem."""
    root = load_yaml(text, file)
    reader = _Reader(file)
    top = reader.mapping(root, None, None, "the PBX file")
    reader.known_keys(
        top,
        {
            "node",
            "timing",
            "licenses",
            "administrators",
            "users",
            "hunting_groups",
            "acd",
            "externals",
            "pbx_objects",
            "voicemail",
        },
    )
    config = reader.remember(PbxConfig(), top)
    if "node" in top:
        node = reader.mapping(top["node"], top, "node")
        reader.known_keys(node, {"id", "name", "version"})
        config.node_id = reader.get(node, "id", int, config.node_id)
        config.name = reader.get(node, "name", str, config.name)
        config.version = reader.get(node, "version", str, config.version)
    config.voicemail_service = reader.get(top, "voicemail", str, config.voicemail_service)
    if "timing" in top:
        timing = reader.mapping(top["timing"], top, "timing")
        names = {f.name for f in fields(Timing)}
        reader.known_keys(timing, names)
        for name in timing:
            value = reader.get(timing, name, (int, float), 0)
            if value <= 0:
                raise reader.error(timing, name, f"timing.{name} must be positive")
            setattr(config.timing, name, float(value))
    if "licenses" in top:
        licenses = reader.mapping(top["licenses"], top, "licenses")
        config.licenses = {str(k): reader.get(licenses, k, int, 0) for k in licenses}
    for item in reader.items(top, "administrators"):
        reader.known_keys(item, {"login", "password", "supervisor"})
        config.administrators.append(
            reader.remember(
                Administrator(
                    login=reader.required(item, "login", str),
                    password=reader.required(item, "password", str),
                    supervisor=reader.get(item, "supervisor", bool, True),
                ),
                item,
            )
        )
    for item in reader.items(top, "users"):
        config.users.append(reader.remember(_user(reader, item), item))
    for item in reader.items(top, "hunting_groups"):
        reader.known_keys(item, {"number", "name", "members"})
        config.hunting_groups.append(
            reader.remember(
                HuntingGroup(
                    number=reader.required(item, "number", str),
                    name=reader.get(item, "name", str, ""),
                    members=reader.str_list(item, "members"),
                ),
                item,
            )
        )
    if "acd" in top:
        acd = reader.mapping(top["acd"], top, "acd")
        reader.known_keys(acd, {"pilots", "processing_groups"})
        for item in reader.items(acd, "processing_groups"):
            reader.known_keys(item, {"number", "name", "withdraw_reasons"})
            config.processing_groups.append(
                reader.remember(
                    ProcessingGroup(
                        number=reader.required(item, "number", str),
                        name=reader.get(item, "name", str, ""),
                        withdraw_reasons=reader.str_list(item, "withdraw_reasons"),
                    ),
                    item,
                )
            )
        for item in reader.items(acd, "pilots"):
            reader.known_keys(item, {"number", "name", "groups", "queue_size"})
            config.pilots.append(
                reader.remember(
                    Pilot(
                        number=reader.required(item, "number", str),
                        name=reader.get(item, "name", str, ""),
                        groups=reader.str_list(item, "groups"),
                        queue_size=reader.get(item, "queue_size", int, 10),
                    ),
                    item,
                )
            )
    for item in reader.items(top, "externals"):
        reader.known_keys(item, {"number", "first_name", "last_name"})
        config.externals.append(
            reader.remember(
                External(
                    number=reader.required(item, "number", str),
                    first_name=reader.get(item, "first_name", str, ""),
                    last_name=reader.get(item, "last_name", str, ""),
                ),
                item,
            )
        )
    if "pbx_objects" in top:
        objects = reader.mapping(top["pbx_objects"], top, "pbx_objects")
        for name in objects:
            instances = reader.mapping(objects[name], objects, name)
            config.pbx_objects[str(name)] = {
                str(obj_id): dict(reader.mapping(instances[obj_id], instances, obj_id))
                for obj_id in instances
            }
    _check_references(reader, top, config)
    return config


def _user(reader: _Reader, item: CommentedMap) -> User:
    reader.known_keys(
        item,
        {
            "login",
            "password",
            "number",
            "first_name",
            "last_name",
            "devices",
            "voicemail",
            "mailbox_password",
            "licenses",
            "language",
            "acd",
            "email",
        },
    )
    number = reader.required(item, "number", str)
    user = User(
        login=reader.required(item, "login", str),
        password=reader.required(item, "password", str),
        number=number,
        first_name=reader.get(item, "first_name", str, ""),
        last_name=reader.get(item, "last_name", str, ""),
        voicemail=reader.get(item, "voicemail", str, None),
        mailbox_password=reader.get(item, "mailbox_password", str, "0000"),
        licenses=set(reader.str_list(item, "licenses") or ["TELEPHONY_ADVANCED"]),
        language=reader.get(item, "language", str, "en"),
        email=reader.get(item, "email", str, None),
    )
    for device in reader.items(item, "devices"):
        reader.known_keys(device, {"id", "type", "sub_type", "addons"})
        user.devices.append(
            Device(
                id=reader.required(device, "id", str),
                type=reader.choice(
                    device, "type", ("DECT", "DESKPHONE", "MOBILE", "SOFTPHONE"), "DESKPHONE"
                ),
                sub_type=reader.get(device, "sub_type", str, None),
                addons=reader.str_list(device, "addons"),
            )
        )
    if not user.devices:
        user.devices.append(Device(id=number))
    if "acd" in item:
        acd = reader.mapping(item["acd"], item, "acd")
        reader.known_keys(
            acd,
            {"type", "proacd", "groups", "preferred", "skills", "self_assign", "headset", "help"},
        )
        user.acd = AcdAgentConfig(
            type=reader.choice(acd, "type", ("AGENT", "SUPERVISOR"), "AGENT"),
            proacd=reader.get(acd, "proacd", str, None),
            groups=reader.str_list(acd, "groups"),
            preferred=reader.get(acd, "preferred", str, None),
            skills=[dict(skill) for skill in reader.items(acd, "skills")],
            self_assign=reader.get(acd, "self_assign", bool, False),
            headset=reader.get(acd, "headset", bool, False),
            help=reader.get(acd, "help", bool, True),
        )
    return user


def _check_references(reader: _Reader, top: CommentedMap, config: PbxConfig) -> None:
    """Numbers and logins must be unique; groups must name existing members."""
    seen: dict[str, str] = {}

    def claim(number: str, owner: str, obj: Any, key: str) -> None:
        if number in seen:
            raise reader.error_at(
                obj, key, f"number {number} of {owner} is already used by {seen[number]}"
            )
        seen[number] = owner

    logins: set[str] = set()
    for user in config.users:
        if user.login in logins:
            raise reader.error_at(user, "login", f"duplicate login {user.login}")
        logins.add(user.login)
        for device in user.devices:
            claim(device.id, f"user {user.login}", user, "number")
    for admin in config.administrators:
        if admin.login in logins:
            raise reader.error_at(admin, "login", f"duplicate login {admin.login}")
        logins.add(admin.login)
    claim(config.voicemail_service, "the voicemail service", config, "voicemail")
    for group in config.hunting_groups:
        claim(group.number, f"hunting group {group.name}", group, "number")
        unknown = [member for member in group.members if member not in logins]
        if unknown:
            raise reader.error_at(
                group,
                "members",
                f"hunting group {group.number}: unknown member {', '.join(unknown)}",
            )
    pg_numbers = {group.number for group in config.processing_groups}
    for group in config.processing_groups:
        claim(group.number, f"processing group {group.name}", group, "number")
    for pilot in config.pilots:
        claim(pilot.number, f"pilot {pilot.name}", pilot, "number")
        unknown = [number for number in pilot.groups if number not in pg_numbers]
        if unknown:
            raise reader.error_at(
                pilot,
                "groups",
                f"pilot {pilot.number}: unknown processing group {', '.join(unknown)}",
            )
    for user in config.users:
        if user.acd:
            if user.acd.proacd:
                claim(user.acd.proacd, f"pro-ACD device of {user.login}", user, "acd")
            unknown = [number for number in user.acd.groups if number not in pg_numbers]
            if unknown:
                raise reader.error_at(
                    user, "acd", f"user {user.login}: unknown processing group {', '.join(unknown)}"
                )
    for external in config.externals:
        claim(external.number, "an external party", external, "number")


class _Reader:
    """Typed access to a ruamel mapping, raising SourceError with the position."""

    def __init__(self, file: str | Path) -> None:
        self.file = file
        self.nodes: dict[int, CommentedMap] = {}  # id(parsed object) -> its YAML mapping

    def remember(self, obj: Any, node: CommentedMap) -> Any:
        self.nodes[id(obj)] = node
        return obj

    def error_at(self, obj: Any, key: str, message: str) -> SourceError:
        """An error located at ``key`` of the mapping ``obj`` was parsed from."""
        return self.error(self.nodes[id(obj)], key, message)

    def error(self, node: Any, key: Any, message: str) -> SourceError:
        return SourceError(location_of(node, self.file, key), message)

    def mapping(self, value: Any, parent: Any, key: Any, what: str | None = None) -> CommentedMap:
        if not isinstance(value, CommentedMap):
            raise self.error(
                parent if parent is not None else value, key, f"{what or key} must be a mapping"
            )
        return value

    def known_keys(self, node: CommentedMap, allowed: set[str]) -> None:
        for key in node:
            if key not in allowed:
                raise SourceError(
                    key_location(node, self.file, key),
                    f"unknown key '{key}' (expected one of {', '.join(sorted(allowed))})",
                )

    def get(self, node: CommentedMap, key: Any, kind: Any, default: Any) -> Any:
        if key not in node or node[key] is None:
            return default
        value = node[key]
        if kind is str and isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # numbers written without quotes
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            name = kind.__name__ if isinstance(kind, type) else "number"
            raise self.error(node, key, f"'{key}' must be a {name}, not {value!r}")
        return value

    def required(self, node: CommentedMap, key: str, kind: Any) -> Any:
        if key not in node:
            raise SourceError(location_of(node, self.file), f"missing required key '{key}'")
        return self.get(node, key, kind, None)

    def choice(self, node: CommentedMap, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.get(node, key, str, default)
        if value not in allowed:
            raise self.error(node, key, f"'{key}' must be one of {', '.join(allowed)}")
        return value

    def str_list(self, node: CommentedMap, key: str) -> list[str]:
        if key not in node or node[key] is None:
            return []
        value = node[key]
        if not isinstance(value, CommentedSeq):
            raise self.error(node, key, f"'{key}' must be a list")
        return [str(item) for item in value]

    def items(self, node: CommentedMap, key: str) -> Iterator[CommentedMap]:
        """The mappings listed under ``key`` (none when it is absent)."""
        if key not in node or node[key] is None:
            return
        value = node[key]
        if not isinstance(value, CommentedSeq):
            raise self.error(node, key, f"'{key}' must be a list")
        for index, item in enumerate(value):
            if not isinstance(item, CommentedMap):
                raise self.error(value, index, f"each entry of '{key}' must be a mapping")
            yield item

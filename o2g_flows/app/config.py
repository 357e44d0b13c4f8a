"""The configuration of ``o2g-flows run``: a YAML file, ``O2G_*`` variables and flags.

Each setting comes from, in this order of precedence: a command-line flag, an environment
variable, the configuration file (``--config FILE``, else ``o2g-flows.yaml`` in the working
folder if there is one), the default. ``Settings.origin`` says where each value came from,
and ``Settings.report()`` prints them with secrets masked (``o2g-flows config check``).

```yaml
gateway:
  url: https://o2g.example.com      # none: the embedded simulator
  secondary: https://o2g-2.example.com
  login: admin
  password_file: /etc/o2g-flows/password
  ca: /etc/o2g-flows/ca.pem
flows: [/etc/o2g-flows/flows]
plugins: [/etc/o2g-flows/plugins]
state: /var/lib/o2g-flows/state.sqlite   # or postgresql://... shared by several instances
status: {listen: "127.0.0.1:8181", token_file: /etc/o2g-flows/status-token}
webhook: {listen: "127.0.0.1:8765"}   # POST /hooks/NAME, for flows on OnWebhook
logging: {level: info, format: json}
simulator: {pbx: pbx.yaml, traffic: traffic.yaml}   # without gateway.url: the embedded one
plugin_settings:                      # one section per plugin service, checked by the plugin
  mqtt: {url: "mqtt://127.0.0.1:1883", users: [alice]}
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from .._yaml import Location, SourceError, key_location, load_yaml, location_of
from ..engine import webhook
from ..engine.registry import PluginSettings

__all__ = ["DEFAULT_CONFIG", "ConfigError", "Settings", "load_settings"]

#: The file read when no ``--config`` is given, if it exists in the working folder.
DEFAULT_CONFIG = "o2g-flows.yaml"
_WEBHOOK = f"{webhook.DEFAULT_HOST}:{webhook.DEFAULT_PORT}"


class ConfigError(Exception):
    """The configuration cannot be used; ``errors`` are located (file:line:col)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class _Option:
    """One setting: where it sits in the file, its variable, its type and default."""

    name: str  # the Settings field
    path: tuple[str, ...]  # its place in the file
    env: str
    kind: type | tuple[type, ...]
    default: Any = None
    secret: bool = False
    choices: tuple[str, ...] = ()


_OPTIONS = (
    _Option("server", ("gateway", "url"), "O2G_URL", str),
    _Option("secondary", ("gateway", "secondary"), "O2G_SECONDARY", str),
    _Option("login", ("gateway", "login"), "O2G_LOGIN", str),
    _Option("password", ("gateway", "password"), "O2G_PASSWORD", str, secret=True),
    _Option("password_file", ("gateway", "password_file"), "O2G_PASSWORD_FILE", str),
    _Option("ca", ("gateway", "ca"), "O2G_CA", str),
    _Option("insecure", ("gateway", "insecure"), "O2G_INSECURE", bool, False),
    _Option("paths", ("flows",), "O2G_FLOWS", list, ["flows"]),
    _Option("plugins", ("plugins",), "O2G_PLUGINS", list, []),
    _Option("state", ("state",), "O2G_STATE", str),
    _Option("lease", ("lease",), "O2G_LEASE", (int, float), 4.0),
    _Option("grace", ("grace",), "O2G_GRACE", (int, float), 300.0),
    _Option("reload", ("reload",), "O2G_RELOAD", bool, True),
    _Option("timezone", ("timezone",), "O2G_TIMEZONE", str),
    _Option("status", ("status", "listen"), "O2G_STATUS", str),
    _Option("status_token", ("status", "token"), "O2G_STATUS_TOKEN", str, secret=True),
    _Option("status_token_file", ("status", "token_file"), "O2G_STATUS_TOKEN_FILE", str),
    _Option("webhook", ("webhook", "listen"), "O2G_WEBHOOK", str, _WEBHOOK),
    _Option("webhook_token", ("webhook", "token"), "O2G_FLOWS_WEBHOOK_TOKEN", str, secret=True),
    _Option("webhook_token_file", ("webhook", "token_file"), "O2G_WEBHOOK_TOKEN_FILE", str),
    _Option("sim_pbx", ("simulator", "pbx"), "O2G_SIM_PBX", str),
    _Option("traffic", ("simulator", "traffic"), "O2G_TRAFFIC", str),
    _Option(
        "log_level",
        ("logging", "level"),
        "O2G_LOG_LEVEL",
        str,
        "info",
        choices=("debug", "info", "warning"),
    ),
    _Option(
        "log_format", ("logging", "format"), "O2G_LOG_FORMAT", str, "text", choices=("text", "json")
    ),
)
_SECTIONS = {option.path[0] for option in _OPTIONS if len(option.path) > 1}
_PLUGIN_SETTINGS = "plugin_settings"


@dataclass
class Settings:
    """The effective settings of a run; ``origin`` maps each field to where it came from."""

    server: str | None = None
    secondary: str | None = None
    login: str | None = None
    password: str | None = None
    password_file: str | None = None
    ca: str | None = None
    insecure: bool = False
    paths: list[str] = field(default_factory=lambda: ["flows"])
    plugins: list[str] = field(default_factory=list)
    state: str | None = None
    lease: float = 4.0
    grace: float = 300.0
    reload: bool = True
    timezone: str | None = None
    status: str | None = None
    status_token: str | None = None
    status_token_file: str | None = None
    webhook: str = _WEBHOOK
    webhook_token: str | None = None
    webhook_token_file: str | None = None
    sim_pbx: str | None = None
    traffic: str | None = None
    log_level: str = "info"
    log_format: str = "text"
    plugin_settings: dict[str, PluginSettings] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)

    def secret(self, name: str) -> str | None:
        """``password`` or ``status_token``: given directly, or read from its file."""
        value = getattr(self, name)
        path = getattr(self, f"{name}_file")
        if value is None and path is not None:
            try:
                value = Path(path).read_text("utf-8").strip()
            except OSError as exc:
                problem = f"{name}_file {path}: cannot read it ({exc.strerror})"
                raise ConfigError([problem]) from None
        return value

    def report(self) -> str:
        """Every setting, its value (secrets masked) and where it came from."""
        lines = []
        for option in _OPTIONS:
            value = getattr(self, option.name)
            shown = "***" if option.secret and value is not None else value
            origin = self.origin.get(option.name, "default")
            lines.append(f"{'.'.join(option.path):<22} {shown!s:<40} ({origin})")
        for name, section in sorted(self.plugin_settings.items()):
            keys = ", ".join(map(str, section.values)) or "(empty)"  # values may hold secrets
            lines.append(f"{'plugin_settings.' + name:<22} {keys:<40} ({section.where()})")
        return "\n".join(lines)


def load_settings(
    config: str | os.PathLike[str] | None,
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The settings from ``config`` (or ``DEFAULT_CONFIG`` if present), the environment and
    ``flags`` (``None`` values are ignored); raises ``ConfigError`` listing every problem."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    errors: list[str] = []
    path = Path(config) if config is not None else Path(DEFAULT_CONFIG)
    if config is not None and not path.is_file():
        raise ConfigError([f"{path}: no such configuration file"])
    if path.is_file():
        _apply_file(settings, path, errors)
    for option in _OPTIONS:
        raw = environ.get(option.env)
        if raw is not None and raw != "":
            value = _from_text(option, raw, errors)
            if value is not None:
                _set(settings, option, value, f"${option.env}", errors)
        flag = flags.get(option.name)
        if flag is not None:
            _set(settings, option, flag, "flag", errors)
    if errors:
        raise ConfigError(errors)
    return settings


def _apply_file(settings: Settings, path: Path, errors: list[str]) -> None:
    try:
        data = load_yaml(path.read_text("utf-8"), path)
    except SourceError as exc:
        errors.append(str(exc))
        return
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"{path}: cannot read it ({exc})")
        return
    if data is None:
        return
    if not isinstance(data, CommentedMap):
        errors.append(f"{Location(str(path), 1, 1)}: a configuration is a mapping of settings")
        return
    known = {option.path: option for option in _OPTIONS}
    for key in data:
        value = data[key]
        if key == _PLUGIN_SETTINGS:
            _apply_plugin_settings(settings, path, data, errors)
        elif key in _SECTIONS and isinstance(value, CommentedMap):
            for sub in value:
                _apply_value(settings, path, value, sub, (key, sub), known, errors)
        else:
            _apply_value(settings, path, data, key, (key,), known, errors)


def _apply_plugin_settings(
    settings: Settings, path: Path, data: CommentedMap, errors: list[str]
) -> None:
    """``plugin_settings: {NAME: {...}}``: each section kept as written, for its plugin."""
    sections = data[_PLUGIN_SETTINGS]
    if not isinstance(sections, CommentedMap):
        where = location_of(data, path, _PLUGIN_SETTINGS)
        errors.append(f"{where}: plugin_settings must be a mapping of plugin names to sections")
        return
    for name in sections:
        section = sections[name]
        if not isinstance(name, str) or not isinstance(section, CommentedMap):
            where = location_of(sections, path, name)
            errors.append(f"{where}: plugin_settings.{name} must be a mapping of settings")
            continue
        settings.plugin_settings[name] = PluginSettings(name, section, str(path))
    settings.origin["plugin_settings"] = str(location_of(data, path, _PLUGIN_SETTINGS))


def _apply_value(
    settings: Settings,
    path: Path,
    node: CommentedMap,
    key: Any,
    where: tuple[Any, ...],
    known: dict[tuple[str, ...], _Option],
    errors: list[str],
) -> None:
    option = known.get(where)  # type: ignore[arg-type]
    if option is None:
        names = [".".join(candidate) for candidate in known] + sorted(_SECTIONS)
        names.append(_PLUGIN_SETTINGS)
        close = get_close_matches(".".join(map(str, where)), names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        name = ".".join(map(str, where))
        errors.append(f"{key_location(node, path, key)}: unknown setting {name!r}{hint}")
        return
    _set(settings, option, node[key], str(location_of(node, path, key)), errors)


def _from_text(option: _Option, raw: str, errors: list[str]) -> Any:
    """A variable's text as the option's type."""
    if option.kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        errors.append(f"${option.env}: {raw!r} is not true or false")
        return None
    if option.kind is list:
        return [part for part in raw.split(os.pathsep) if part]
    if option.kind == (int, float):
        try:
            return float(raw)
        except ValueError:
            errors.append(f"${option.env}: {raw!r} is not a number")
            return None
    return raw


def _set(settings: Settings, option: _Option, value: Any, origin: str, errors: list[str]) -> None:
    if option.kind is list and isinstance(value, str):
        value = [value]
    if option.kind is list:
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    elif option.kind == (int, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    else:
        ok = isinstance(value, option.kind)  # type: ignore[arg-type]
    if not ok:
        wanted = {bool: "true or false", list: "a list of paths", str: "text"}.get(
            option.kind,
            "a number >= 0",  # type: ignore[call-overload]
        )
        errors.append(f"{origin}: {'.'.join(option.path)} must be {wanted}, not {value!r}")
        return
    if option.choices and value not in option.choices:
        errors.append(
            f"{origin}: {'.'.join(option.path)} must be one of {', '.join(option.choices)}"
        )
        return
    setattr(settings, option.name, list(value) if option.kind is list else value)
    settings.origin[option.name] = origin

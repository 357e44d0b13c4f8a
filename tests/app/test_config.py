"""Configuration: a file with positions, O2G_* variables over it, flags over both."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from o2g_flows.app.config import _OPTIONS, ConfigError, Settings, load_settings
from o2g_flows.cli import main

CONFIG = """\
gateway:
  url: https://o2g.example.com
  login: admin
  password_file: {secret}
flows: [/etc/flows, /srv/flows]
state: /var/lib/o2g-flows/state.sqlite
logging: {{format: json}}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    path = tmp_path / "o2g-flows.yaml"
    path.write_text(CONFIG.format(secret=secret))
    return path


def test_flags_win_over_variables_which_win_over_the_file(config):
    settings = load_settings(
        config,
        {"login": "from-flag", "state": None},
        {"O2G_LOGIN": "from-env", "O2G_STATE": "/tmp/env.sqlite", "O2G_GRACE": "60"},
    )
    assert settings.server == "https://o2g.example.com"
    assert settings.login == "from-flag" and settings.origin["login"] == "flag"
    assert settings.state == "/tmp/env.sqlite" and settings.origin["state"] == "$O2G_STATE"
    assert settings.grace == 60.0
    assert settings.paths == ["/etc/flows", "/srv/flows"]
    assert settings.origin["paths"] == f"{config}:5:8"
    assert settings.log_format == "json"
    assert settings.secret("password") == "s3cret"


def test_every_problem_is_located(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("gateway:\n  pasword: x\n  insecure: maybe\nreload: 2\nnothing: 1\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {}, {"O2G_INSECURE": "perhaps"})
    assert raised.value.errors == [
        f"{path}:2:3: unknown setting 'gateway.pasword' (did you mean gateway.password?)",
        f"{path}:3:13: gateway.insecure must be true or false, not 'maybe'",
        f"{path}:4:9: reload must be true or false, not 2",
        f"{path}:5:1: unknown setting 'nothing'",
        "$O2G_INSECURE: 'perhaps' is not true or false",
    ]


def test_a_yaml_error_or_a_missing_file_is_one_located_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("gateway: [\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {}, {})
    (error,) = raised.value.errors
    assert error.startswith(f"{path}:2:1: ")
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "nope.yaml", {}, {})


def test_config_check_masks_secrets_and_says_where_values_come_from(config, capsys, monkeypatch):
    monkeypatch.setenv("O2G_PASSWORD", "hunter2")
    assert main(["config", "check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "s3cret" not in out
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert lines["gateway.password"].split()[1:] == ["***", "($O2G_PASSWORD)"]
    assert lines["gateway.url"].endswith(f"({config}:2:8)")
    assert lines["grace"].endswith("(default)")


def test_config_check_fails_on_an_unreadable_secret_file(tmp_path, capsys):
    path = tmp_path / "o2g-flows.yaml"
    path.write_text(f"gateway: {{password_file: {tmp_path / 'missing'}}}\n")
    assert main(["config", "check", "--config", str(path)]) == 1
    assert "password_file" in capsys.readouterr().err


def test_every_setting_has_an_option():
    assert {option.name for option in _OPTIONS} == {f.name for f in fields(Settings)} - {
        "origin",
        "plugin_settings",  # sections kept as written, for their plugins
    }

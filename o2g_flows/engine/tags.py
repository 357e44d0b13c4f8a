"""The local YAML tags of flow files: ``!env NAME``, ``!secret NAME`` and ``!include FILE``.

- ``!env NAME`` is the environment variable (``!env NAME:default`` when it may be unset);
- ``!secret NAME`` is the entry ``NAME`` of the nearest ``secrets.yaml`` in the flow file's
  folder or a folder above it (at most ``SECRET_LEVELS`` up);
- ``!include FILE`` is the YAML of ``FILE`` (relative to the including file), read with the
  same limits and tags; its errors are located in it.

``secrets.yaml``, and files and folders whose name starts with ``_`` (the place for
included parts), are not flows: the loader does not load them on their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._yaml import Limits, Location, SourceError, TagHandler, YMap, read_bytes, read_yaml

__all__ = ["MAX_INCLUDE_DEPTH", "SECRETS_FILE", "SECRET_LEVELS", "flow_tags", "is_flow_file"]

SECRETS_FILE = "secrets.yaml"
SECRET_LEVELS = 4
MAX_INCLUDE_DEPTH = 8


def is_flow_file(path: Path, root: Path) -> bool:
    """Whether a YAML file found under ``root`` is a flow (not secrets, not a part)."""
    if path.name == SECRETS_FILE:
        return False
    parts = path.relative_to(root).parts if path.is_relative_to(root) else (path.name,)
    return not any(part.startswith("_") for part in parts)


def flow_tags(file: str, limits: Limits, including: tuple[str, ...] = ()) -> dict[str, TagHandler]:
    """The tag handlers for the flow file ``file`` (``including``: the files including it)."""
    base = Path(file).parent

    def env(text: str, where: Location) -> tuple[Any, list[SourceError]]:
        name, has_default, default = text.strip().partition(":")
        value = os.environ.get(name)
        if value is not None:
            return value, []
        if has_default:
            return default, []
        return None, [
            SourceError(
                where,
                f"the environment variable {name} is not set (set it, or give a default: "
                f"!env {name}:VALUE)",
            )
        ]

    def secret(text: str, where: Location) -> tuple[Any, list[SourceError]]:
        name = text.strip()
        found = _secrets_file(base)
        if found is None:
            return None, [
                SourceError(
                    where,
                    f"!secret {name}: no {SECRETS_FILE} in {base} or the "
                    f"{SECRET_LEVELS} folders above it",
                )
            ]
        secrets, errors = _read(found, limits, {})
        if errors:
            return None, errors
        if not isinstance(secrets, YMap):
            return None, [SourceError(Location(str(found), 1, 1), "secrets are NAME: value")]
        if name not in secrets:
            return None, [SourceError(where, f"!secret {name}: no such entry in {found}")]
        return secrets[name], []

    def include(text: str, where: Location) -> tuple[Any, list[SourceError]]:
        target = base / text.strip()
        if str(target) in (*including, file):
            return None, [SourceError(where, f"!include {text}: includes itself (a cycle)")]
        if len(including) >= MAX_INCLUDE_DEPTH:
            return None, [
                SourceError(where, f"!include nested deeper than {MAX_INCLUDE_DEPTH} files")
            ]
        if not target.is_file():
            return None, [SourceError(where, f"!include {text}: no such file ({target})")]
        tags = flow_tags(str(target), limits, (*including, file))
        data, errors = _read(target, limits, tags)
        if data is None and not errors:
            errors = [SourceError(Location(str(target), 1, 1), "the included file is empty")]
        return data, errors

    return {"!env": env, "!secret": secret, "!include": include}


def _secrets_file(folder: Path) -> Path | None:
    for candidate in [folder, *folder.parents][: SECRET_LEVELS + 1]:
        path = candidate / SECRETS_FILE
        if path.is_file():
            return path
    return None


def _read(path: Path, limits: Limits, tags: dict[str, TagHandler]) -> tuple[Any, list[SourceError]]:
    try:
        text = read_bytes(path.read_bytes(), path, limits)
    except OSError as exc:
        return None, [SourceError(Location(str(path), 1, 1), f"cannot read: {exc.strerror}")]
    except SourceError as exc:
        return None, [exc]
    return read_yaml(text, path, limits, tags)

"""The published JSON Schema is the one the loader's tables produce."""

from __future__ import annotations

import json
from pathlib import Path

from o2g_flows.engine.registry import Registry
from o2g_flows.engine.schema import flow_schema

PUBLISHED = Path(__file__).parents[2] / "docs" / "flow.schema.json"


def test_docs_schema_is_up_to_date():
    assert json.loads(PUBLISHED.read_text()) == flow_schema(), (
        "regenerate: python -m o2g_flows.engine.schema > docs/flow.schema.json"
    )


def test_every_action_has_its_arguments_in_the_schema():
    schema = flow_schema()
    registry = Registry.builtin()
    described = {
        name for option in schema["$defs"]["action"]["anyOf"][1:] for name in option["required"]
    }
    assert described == set(registry.actions)
    redirect = next(
        o for o in schema["$defs"]["action"]["anyOf"][1:] if o["required"] == ["redirect"]
    )["properties"]["redirect"]
    assert redirect["required"] == ["to"] and not redirect["additionalProperties"]


def test_plugin_actions_and_events_join_the_schema():
    registry = Registry.builtin()
    registry.event("Tick")
    registry.action("page")(lambda ctx, args: None)
    schema = flow_schema(registry)
    assert "Tick" in schema["$defs"]["event"]["anyOf"][0]["enum"]
    assert "page" in schema["$defs"]["action"]["anyOf"][0]["enum"]


def test_the_language_page_describes_every_action_and_function():
    page = (Path(__file__).parents[2] / "docs" / "flows.md").read_text()
    registry = Registry.builtin()
    for name in registry.actions:
        assert f"`{name}`" in page, name
    for spec in registry.functions.custom():
        assert f"`{spec.name}(" in page, spec.name

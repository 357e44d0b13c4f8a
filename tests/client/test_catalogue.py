"""The client covers the whole catalogue, and the method table shows how."""

from __future__ import annotations

import argparse
import ast
import inspect

import pytest

from o2g_flows.client import O2GClient, methods, methods_table, types
from o2g_flows.client import _generate as generator
from o2g_flows.client.cli import register
from o2g_flows.client.events import build_filter
from o2g_flows.client.services import SERVICES
from o2g_flows.spec import EVENT_PACKAGES, endpoints, event_names


def test_every_catalogue_endpoint_has_exactly_one_method() -> None:
    by_endpoint: dict[str, list[str]] = {}
    for method in methods():
        by_endpoint.setdefault(method.endpoint, []).append(f"{method.service}.{method.name}")
    missing = [item["id"] for item in endpoints() if item["id"] not in by_endpoint]
    assert missing == []
    assert {key: value for key, value in by_endpoint.items() if len(value) > 1} == {}
    assert len(by_endpoint) == len(endpoints()) == 142


def test_each_method_lives_on_the_service_of_its_endpoint() -> None:
    services = {item["id"]: item["service"] for item in endpoints()}
    for method in methods():
        assert SERVICES[method.service].catalogue_name == services[method.endpoint]


def test_every_service_is_an_attribute_of_the_client() -> None:
    client = O2GClient("http://127.0.0.1:9", "alice", "1001")
    for attribute, service in SERVICES.items():
        assert isinstance(getattr(client, attribute), service)


def test_the_engine_method_names_exist_with_their_parameters() -> None:
    expected = {
        "telephony.make_call": ["callee", "device_id", "auto_answer"],
        "telephony.answer": ["call_ref", "device_id"],
        "telephony.release": ["call_ref"],
        "telephony.drop_me": ["call_ref"],
        "telephony.hold": ["call_ref", "device_id"],
        "telephony.retrieve": ["call_ref", "device_id"],
        "telephony.redirect": ["call_ref", "redirect_to", "anonymous"],
        "telephony.overflow_to_voicemail": ["call_ref"],
        "telephony.transfer": ["call_ref", "held_call_ref"],
        "telephony.blind_transfer": ["call_ref", "transfer_to", "anonymous"],
        "telephony.send_dtmf": ["call_ref", "device_id", "number"],
        "telephony.attach_data": ["call_ref", "associated_data", "device_id"],
        "telephony.send_mini_message": ["recipient", "message"],
        "telephony.get_calls": [],
        "telephony.get_call": ["call_ref"],
        "telephony.get_state": [],
        "telephony.request_snapshot": [],
        "routing.set_forward_route": ["forward_route"],
        "routing.cancel_forward_route": [],
        "routing.set_overflow_routes": ["overflow_routes"],
        "routing.cancel_overflow_routes": [],
        "routing.activate_dnd": [],
        "routing.cancel_dnd": [],
        "routing.get_state": [],
        "routing.request_snapshot": [],
        "acd.logon": ["pro_acd_device_number", "pg_group_number", "headset"],
        "acd.logoff": [],
        "acd.ready": [],
        "acd.pause": [],
        "acd.wrap_up": [],
        "acd.withdraw": ["reason_index"],
        "acd.get_state": [],
        "acd.request_snapshot": [],
    }
    for dotted, leading in expected.items():
        service, name = dotted.split(".")
        parameters = inspect.signature(getattr(SERVICES[service], name)).parameters
        positional = [p for p in parameters if p != "self"][: len(leading)]
        assert positional == leading, dotted
        if service != "telephony" or name in ("make_call", "release", "get_call", "redirect"):
            assert parameters["login_name"].kind is inspect.Parameter.KEYWORD_ONLY, dotted


def test_generated_files_are_up_to_date() -> None:
    # Compared as syntax trees (docstrings included), so another ruff version's layout passes.
    stale = [
        path.name
        for path, content in generator.generate().items()
        if ast.dump(ast.parse(path.read_text("utf-8"))) != ast.dump(ast.parse(content))
    ]
    assert stale == [], "run: python -m o2g_flows.client._generate"


def test_methods_table_lists_method_and_endpoint() -> None:
    table = methods_table()
    assert "o2g.telephony  (Call control)" in table
    line = next(line for line in table.splitlines() if "/answer " in line and "basic" not in line)
    assert line.split() == [
        "POST",
        "/telephony/calls/{callRef}/answer",
        "answer(call_ref,",
        "device_id)",
    ]
    assert len([line for line in table.splitlines() if line.startswith("  ")]) == 142


def test_methods_table_filters_by_service_and_text() -> None:
    routing = methods_table("routing")
    assert "o2g.routing" in routing and "o2g.telephony" not in routing
    found = methods_table(search="dtmf")
    assert "send_dtmf(call_ref, device_id, number)" in found
    assert "start_search_by_dtmf" in found
    with pytest.raises(ValueError, match="unknown service 'phone'"):
        methods_table("phone")


def test_api_subcommand_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["api", "acd", "--search", "withdraw"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert (
        "POST /acd/agent/withdraw" in out
        and "withdraw(reason_index=None, *, login_name=None)" in out
    )
    args = parser.parse_args(["api", "--search", "no-such-thing"])
    assert args.handler(args) == 1


def test_the_pilot_events_are_known_to_the_event_tables() -> None:
    """The flow loader and the client's types read the catalogue's event names."""
    assert EVENT_PACKAGES["pilot"] <= event_names()
    assert {"OnPilotCallCreated", "OnPilotCallQueued", "OnPilotCallRemoved"} <= set(types.__all__)
    assert build_filter("pilot", ["5000"]) == {"selectors": [{"names": ["pilot"], "ids": ["5000"]}]}

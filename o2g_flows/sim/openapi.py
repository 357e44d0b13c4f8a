"""The simulator's OpenAPI 3.1 document, generated from the API catalogue.

Every catalogue endpoint becomes an operation with its parameters, request body and
answers; every catalogue type a schema under ``components/schemas``; every error
answer a ``RestErrorInfo``. The document says what the simulator accepts: the body
rules of ``schema.py`` (extra enum values and fields, the either-or operand, a
conditional field) are applied, and unknown fields are allowed, as the simulator
ignores them. It is served at ``/api/rest/openapi.json`` and kept in
``docs/openapi.json``:

    python -m o2g_flows.sim.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from typing import Any

from o2g_flows.spec import API_PREFIX, catalogue, endpoints, find_type

from .schema import CONDITIONAL, EITHER_OR, EXTRA_ENUM_VALUES, EXTRA_FIELDS

__all__ = ["openapi_document"]

OPENAPI_PATH = "/api/rest/openapi.json"

_PRIMITIVES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "int": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "nonNegativeInteger": {"type": "integer", "minimum": 0},
    "dateTime": {"type": "string", "format": "date-time"},
}
#: Answers of the simulator that the catalogue does not list (see docs/sim-services.md): no
#: route set is 204, a directory search is created without a body.
_EXTRA_ANSWERS = {
    "GET /routing/forwardroute": {"204": {"description": "No forward route is set"}},
    "GET /routing/overflowroute": {"204": {"description": "No overflow route is set"}},
}
_EMPTY_ANSWERS = frozenset({"POST /directory/search", "POST /directory/searchbydtmf"})
_ERROR = {"$ref": "#/components/schemas/RestErrorInfo"}
_ERROR_ANSWER = {
    "description": "A RestErrorInfo (every error answer has one)",
    "content": {"application/json": {"schema": _ERROR}},
}


class _Schemas:
    """Component names for catalogue types; a name several services define differently
    gets one component per service (``Device_UserInformation``...)."""

    def __init__(self, types: list[dict[str, Any]]) -> None:
        self._by_key: dict[tuple[str, str], str] = {}
        self._by_name: dict[str, str] = {}
        self.components: dict[str, dict[str, Any]] = {}
        variants: dict[str, list[dict[str, Any]]] = {}
        for item in types:
            if item["kind"] != "primitive" and item["name"] not in _PRIMITIVES:
                variants.setdefault(item["name"], []).append(item)
        for name, items in variants.items():
            shapes = {json.dumps(_shape(item), sort_keys=True) for item in items}
            for item in items:
                component = name if len(shapes) == 1 else f"{name}_{_slug(item['service'])}"
                self._by_key[(item["service"], name)] = component
                self._by_name.setdefault(name, component)
        for name, items in variants.items():
            for item in items:
                component = self._by_key[(item["service"], name)]
                if component not in self.components:
                    self.components[component] = self._definition(item)

    def schema(self, type_name: str, service: str) -> dict[str, Any]:
        """The schema of a field, body or answer of ``type_name`` seen from ``service``."""
        if type_name in _PRIMITIVES:
            return dict(_PRIMITIVES[type_name])
        component = self._by_key.get((service, type_name)) or self._by_name.get(type_name)
        if component is None:
            return {}  # a type the catalogue names but does not define: any value
        return {"$ref": f"#/components/schemas/{component}"}

    def _definition(self, item: dict[str, Any]) -> dict[str, Any]:
        name, service = item["name"], item["service"]
        description = (item.get("description") or "").strip()
        if item["kind"] == "enum":
            values = [value["value"] for value in item["values"]]
            values += [v for v in EXTRA_ENUM_VALUES.get(name, ()) if v not in values]
            schema: dict[str, Any] = {"type": "string", "enum": values}
        else:
            properties: dict[str, Any] = {}
            required: list[str] = []
            for field in (*item.get("fields", []), *EXTRA_FIELDS.get(name, ())):
                properties[field["name"]] = self._field(name, service, field)
                conditional = (name, field["name"]) in CONDITIONAL
                if field["required"] and not field["is_list"] and not conditional:
                    required.append(field["name"])
            schema = {"type": "object", "properties": properties}
            if required:
                schema["required"] = required
        if description:
            schema["description"] = description
        return schema

    def _field(self, owner: str, service: str, field: dict[str, Any]) -> dict[str, Any]:
        schema = self.schema(field["type"], service)
        if field["is_list"]:
            schema = {"type": "array", "items": schema}
        alternative = EITHER_OR.get((owner, field["name"]))
        if alternative:
            listed = {"type": "array", "items": self.schema(alternative, service)}
            schema = {"anyOf": [schema, listed]}
        if field.get("description"):
            schema["description"] = field["description"].strip()
        return schema


def _shape(item: dict[str, Any]) -> Any:
    if item["kind"] == "enum":
        return [value["value"] for value in item["values"]]
    return [(f["name"], f["type"], f["is_list"], f["required"]) for f in item.get("fields", [])]


def _slug(service: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", service.title())


def _operation(endpoint: dict[str, Any], schemas: _Schemas) -> dict[str, Any]:
    service = endpoint["service"]
    operation: dict[str, Any] = {
        "operationId": re.sub(r"[^A-Za-z0-9]+", "_", endpoint["id"]).strip("_"),
        "summary": (endpoint["summary"] or endpoint["id"]).strip().splitlines()[0],
        "tags": [service],
    }
    if endpoint["licenses"]["names"]:
        operation["description"] = "Licences: " + ", ".join(endpoint["licenses"]["names"])
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", endpoint["path"])
    ]
    parameters += [
        {"name": q["name"], "in": "query", "schema": schemas.schema(q["type"], service)}
        for q in endpoint["query_params"]
    ]
    if parameters:
        operation["parameters"] = parameters
    body = endpoint["body"]
    if body is not None:
        operation["requestBody"] = {
            "required": _body_required(body["type"], service),
            "content": {"application/json": {"schema": schemas.schema(body["type"], service)}},
        }
    responses: dict[str, Any] = {}
    for answer in endpoint["responses"]:
        code = answer["code"]
        if code >= 300:
            continue  # every error is the default answer below
        entry: dict[str, Any] = {"description": answer["description"] or "OK"}
        if answer["media_type"] == "application/octet-stream":
            entry["content"] = {"application/octet-stream": {"schema": {}}}
        elif answer["type"] and endpoint["id"] not in _EMPTY_ANSWERS:
            entry["content"] = {
                "application/json": {"schema": schemas.schema(answer["type"], service)}
            }
        responses[str(code)] = entry
    responses |= _EXTRA_ANSWERS.get(endpoint["id"], {})
    responses["default"] = _ERROR_ANSWER
    operation["responses"] = responses
    return operation


def _body_required(type_name: str, service: str) -> bool:
    definition = find_type(type_name, service)
    return bool(definition and any(f["required"] for f in definition.get("fields", [])))


@cache
def _document() -> str:
    schemas = _Schemas(catalogue()["types"])
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints():
        paths.setdefault(endpoint["path"], {})[endpoint["method"].lower()] = _operation(
            endpoint, schemas
        )
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "O2G REST API 1.0 (o2g-flows simulator)",
            "version": "1.0",
            "description": (
                "The O2G 2.x REST API as the o2g-flows simulator serves it, generated from "
                "its API catalogue. Authenticate with GET /api/rest/authenticate?version=1.0 "
                "(Basic), open a session with POST /sessions; the AlcUserId and JSESSIONID "
                "cookies carry it. Unknown body fields are ignored."
            ),
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"session": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "AlcUserId"}},
        },
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def openapi_document() -> str:
    """The OpenAPI 3.1 document as JSON text."""
    return _document()


if __name__ == "__main__":
    sys.stdout.write(openapi_document())

"""The OpenAPI 3.1 document: generated from the catalogue, served, valid, and kept by the
simulator (a bounded schemathesis run finds no server error and no answer breaking it)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
from openapi_spec_validator import OpenAPIV31SpecValidator

from o2g_flows.sim import Simulator
from o2g_flows.sim.openapi import openapi_document
from o2g_flows.spec import endpoints

from .conftest import login

PUBLISHED = Path(__file__).parents[2] / "docs" / "openapi.json"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


def test_the_published_document_is_up_to_date() -> None:
    assert PUBLISHED.read_text("utf-8") == openapi_document(), (
        "regenerate: python -m o2g_flows.sim.openapi > docs/openapi.json"
    )


def test_the_document_is_valid_openapi_3_1_covering_every_endpoint() -> None:
    document = json.loads(openapi_document())
    OpenAPIV31SpecValidator(document).validate()  # the 3.1 meta-schema, and references
    operations = {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }
    assert operations == {endpoint["id"] for endpoint in endpoints()}
    for path, item in document["paths"].items():
        for operation in item.values():
            default = operation["responses"]["default"]["content"]["application/json"]
            assert default["schema"] == {"$ref": "#/components/schemas/RestErrorInfo"}, path
    make_call = document["components"]["schemas"]["MakeCallRequest"]
    assert "callee" not in make_call.get("required", [])  # a supervisor call has none


async def test_the_simulator_serves_the_document_without_a_session(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.get("/api/rest/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.text == openapi_document()


async def test_schemathesis_finds_no_server_error_and_no_answer_breaking_the_document(
    sim: Simulator, tmp_path: Path
) -> None:
    """Positive and negative cases for every operation, in a user session (~700 requests)."""
    alice = await login(sim, "alice", "1001")
    cookie = "; ".join(f"{name}={value}" for name, value in alice.cookies.items())
    await alice.aclose()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{sim.url}/api/rest/openapi.json",
        f"--checks={CHECKS}",
        "--max-examples=5",
        "--phases=examples,fuzzing",
        "--mode=all",
        "--generation-deterministic",
        "--continue-on-failure",
        "--request-timeout=5",
        "--exclude-path=/sessions",  # closing the session would end the run's session
        "--exclude-path=/users/{loginName}/password",
        "--warnings=off",
        "--no-color",
        f"--header=Cookie: {cookie}",
        cwd=tmp_path,  # whatever the run keeps on disk stays out of the project
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)  # a hang guard
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, text[-6000:]
    assert " passed" in text and "failure" not in text.lower(), text[-3000:]

"""Every endpoint of the API catalogue has a handler and answers (no 501, no crash)."""

from __future__ import annotations

import re

from o2g_flows.sim.api import handlers
from o2g_flows.spec import endpoints

#: Path parameter values naming things of the default PBX ("1" for any other).
SAMPLES = {
    "loginName": "alice",
    "deviceId": "2001",
    "mailboxId": "2001",
    "nodeId": "1",
    "objectName": "Subscriber",
    "objectId": "2001",
    "hgNumber": "2100",
}


def test_every_catalogue_endpoint_has_a_handler() -> None:
    registered = handlers()
    assert sorted(e["id"] for e in endpoints() if e["id"] not in registered) == []


async def test_every_endpoint_answers_an_administrator(session_of) -> None:
    """Called with plausible parameters, each endpoint answers as the spec says or refuses
    with a RestErrorInfo; none is unimplemented or crashes."""
    admin = await session_of("admin")
    problems = []
    for item in sorted(endpoints(), key=lambda e: e["id"] == "DELETE /sessions"):
        path = re.sub(r"\{(\w+)\}", lambda m: SAMPLES.get(m.group(1), "1"), item["path"])
        has_login = any(q["name"] == "loginName" for q in item["query_params"])
        answer = await admin.request(
            item["method"],
            path,
            params={"loginName": "alice"} if has_login else None,
            json={} if item["body"] else None,
        )
        if answer.status_code == 501:
            problems.append(f"{item['id']}: 501")
        elif answer.status_code >= 500:
            body = answer.json() if "json" in answer.headers.get("content-type", "") else {}
            if "code" not in body:  # a crash, not a RestErrorInfo answer
                problems.append(f"{item['id']}: {answer.status_code} {answer.text[:120]}")
    assert problems == []

"""Communication log: records with filters and pages, acknowledgement, deletion."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..api import ApiRequest, endpoint
from ..errors import RestError

Record = dict[str, Any]
_ROLES = ("CALLER", "CALLEE", "UNKNOWN")


@endpoint("GET /comlog/records")
async def get_records(request: ApiRequest) -> dict[str, Any]:
    """Matching records, newest first, one page of them (limit 0: all)."""
    query = request.query
    offset, limit = query.get("offset", 0), query.get("limit", 0)
    if offset < 0 or limit < 0:
        raise RestError.bad_parameter("offset and limit must not be negative")
    found = _matching(request)
    page = found[offset : offset + limit] if limit else found[offset:]
    if query.get("optimized"):
        page = _optimized(page)
    return {"comHistoryRecords": page, "offset": offset, "limit": limit, "totalCount": len(found)}


@endpoint("PUT /comlog/records")
async def acknowledge(request: ApiRequest) -> None:
    """Acknowledge (``acknowledge=true``) or unacknowledge the records of the body."""
    acknowledged = _flag(request.query, "acknowledge")
    if acknowledged is None:
        raise RestError.bad_parameter("the acknowledge query parameter (true or false) is required")
    login = request.user.login
    wanted = (request.body or {}).get("recordIds") or []
    known = {record["recordId"] for record in request.pbx.messaging.inbox(login).records}
    unknown = [str(ident) for ident in wanted if ident not in known]
    if unknown:
        raise RestError.not_found(f"Unknown record(s) {', '.join(unknown)}")
    request.pbx.messaging.acknowledge_records(login, wanted, acknowledged)


@endpoint("DELETE /comlog/records")
async def delete_records(request: ApiRequest) -> None:
    """Delete the matching records (all of them without a filter)."""
    login = request.user.login
    filtered = any(name != "loginName" for name in request.query)
    ids = {record["recordId"] for record in _matching(request)} if filtered else None
    request.pbx.messaging.delete_records(login, ids)


@endpoint("GET /comlog/records/recordIds")
async def record_ids(request: ApiRequest) -> dict[str, Any]:
    records = request.pbx.messaging.inbox(request.user.login).records
    return {"recordIds": [record["recordId"] for record in reversed(records)]}


@endpoint("GET /comlog/records/{recordId}")
async def get_record(request: ApiRequest) -> Record:
    return _record(request)


@endpoint("DELETE /comlog/records/{recordId}")
async def delete_record(request: ApiRequest) -> None:
    record = _record(request)
    request.pbx.messaging.delete_records(request.user.login, {record["recordId"]})


def _record(request: ApiRequest) -> Record:
    ident = request.path["recordId"]
    for record in request.pbx.messaging.inbox(request.user.login).records:
        if str(record["recordId"]) == ident:
            return record
    raise RestError.not_found(f"Unknown record {ident}")


def _matching(request: ApiRequest) -> list[Record]:
    """The user's records, newest first, that pass the query's filters."""
    query = request.query
    records = list(reversed(request.pbx.messaging.inbox(request.user.login).records))
    if query.get("recordIdList"):
        wanted = _ids(query["recordIdList"])
        return [record for record in records if record["recordId"] in wanted]
    tests = _tests(query)
    return [record for record in records if all(test(record) for test in tests)]


def _tests(query: dict[str, Any]) -> list[Callable[[Record], bool]]:
    tests: list[Callable[[Record], bool]] = []
    if _flag(query, "unanswered"):
        tests.append(lambda record: not _owner(record).get("answered", False))
    if _flag(query, "unacknowledged"):
        tests.append(lambda record: not record.get("acknowledged", False))
    if "afterDate" in query:
        after = _date(query, "afterDate")
        tests.append(lambda record: _begin(record) is not None and _begin(record) >= after)
    if "beforeDate" in query:
        before = _date(query, "beforeDate")
        tests.append(lambda record: _begin(record) is not None and _begin(record) < before)
    if "role" in query:
        role = query["role"]
        if role not in _ROLES:
            raise RestError.bad_parameter(f"role {role!r} is not one of {', '.join(_ROLES)}")
        tests.append(lambda record: _owner(record).get("role") == role)
    if "comRef" in query:
        tests.append(lambda record: record.get("comRef") == query["comRef"])
    if "remotePartyId" in query:
        party = query["remotePartyId"]
        tests.append(lambda record: party in _remote_ids(record))
    return tests


def _flag(query: dict[str, Any], name: str) -> bool | None:
    """A boolean query parameter, typed by the router or (DELETE) given as text."""
    value = query.get(name)
    if value is None or isinstance(value, bool):
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RestError.bad_parameter(f"query parameter {name}: {value!r} is not true or false")


def _ids(text: str) -> set[int]:
    try:
        return {int(item) for item in text.split(",") if item.strip()}
    except ValueError:
        raise RestError.bad_parameter(f"recordIdList {text!r}: expected record ids") from None


def _date(query: dict[str, Any], name: str) -> datetime:
    try:
        return _parse_date(query[name])
    except ValueError:
        raise RestError.bad_parameter(
            f"{name} {query[name]!r}: expected yyyy-MM-ddTHH:mm:ss.SSSZ"
        ) from None


def _parse_date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _begin(record: Record) -> datetime | None:
    return _parse_date(record["beginDate"]) if record.get("beginDate") else None


def _owner(record: Record) -> dict[str, Any]:
    """The record owner's participant: the one carrying ``role``."""
    return next((p for p in record.get("participants", []) if "role" in p), {})


def _remote_ids(record: Record) -> set[str]:
    ids: set[str] = set()
    for participant in record.get("participants", []):
        if "role" not in participant:
            ident = participant.get("identity", {}).get("id", {})
            ids.update(value for value in ident.values() if isinstance(value, str))
    return ids


def _optimized(records: list[Record]) -> list[Record]:
    """Full identities only at a participant's first appearance in the answer."""
    seen: set[str] = set()
    answer = copy.deepcopy(records)
    for record in answer:
        for participant in record.get("participants", []):
            identity = participant.get("identity", {})
            key = json.dumps(identity.get("id", {}), sort_keys=True)
            if key in seen:
                participant["identity"] = {"id": identity.get("id", {})}
            seen.add(key)
    return answer

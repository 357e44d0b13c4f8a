"""Directory search over the PBX phone book (its users and external contacts).

A search is started by POST, polled by GET until FINISH (or TIMEOUT when left unused),
and stopped by DELETE. Each session runs at most one search per user it acts for,
and at most five at a time.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from aiohttp import web

from ..api import ApiRequest, endpoint
from ..errors import RestError
from ..pbx import Pbx
from ..sessions import Session

Contact = dict[str, Any]
Test = Callable[[Contact], bool]

_PAGE = 10  # contacts given by one GET
_PER_SESSION = 5  # concurrent searches of one session (spec)
_FIELDS = {
    "lastName": lambda c: c.get("lastName", ""),
    "firstName": lambda c: c.get("firstName", ""),
    "id.phoneNumber": lambda c: c["id"].get("phoneNumber", ""),
    "id.loginName": lambda c: c["id"].get("loginName", ""),
}
_COMPARE = {
    "EQUAL_IGNORE_CASE": lambda value, operand: value == operand,
    "BEGIN_WITH": lambda value, operand: value.startswith(operand),
    "CONTAIN": lambda value, operand: operand in value,
    "END_WITH": lambda value, operand: value.endswith(operand),
}


def _keypad(layout: str) -> dict[str, str]:
    """Letter -> key digit, from ``"2ABC 3DEF ..."``."""
    return {letter: key[0] for key in layout.split() for letter in key[1:]}


#: Letters on the phone keys: ITU E.161, and the older CCITT layout (Q and Z on 1).
_KEYBOARDS = {
    "ITU": _keypad("2ABC 3DEF 4GHI 5JKL 6MNO 7PQRS 8TUV 9WXYZ"),
    "CCITT": _keypad("1QZ 2ABC 3DEF 4GHI 5JKL 6MNO 7PRS 8TUV 9WXY"),
}


@dataclass(eq=False)
class _Search:
    contacts: list[Contact]
    ready_at: float  # the phone book answers from then on (NOK before)
    used_at: float
    sent: int = 0


_searches: WeakKeyDictionary[Session, dict[str, _Search]] = WeakKeyDictionary()


@endpoint("POST /directory/search")
async def search(request: ApiRequest) -> web.Response:
    match = _criterion(request.body["filter"], "body.filter")
    return _start(request, match, request.body.get("limit"))


@endpoint("POST /directory/searchbydtmf")
async def search_by_dtmf(request: ApiRequest) -> web.Response:
    """Names typed on a phone keypad: each name begins with the given digits."""
    body = request.body
    keys = _KEYBOARDS[body["keyboardType"]]
    tests = [_dtmf(body["lastName"], "lastName", keys)]
    if body.get("firstName"):
        tests.append(_dtmf(body["firstName"], "firstName", keys))
    return _start(request, lambda contact: all(test(contact) for test in tests), body.get("limit"))


@endpoint("GET /directory/search")
async def next_results(request: ApiRequest) -> dict[str, Any]:
    """The next contacts (OK), none yet (NOK), the end (FINISH) or an expired search (TIMEOUT)."""
    login = request.user.login
    running = _searches.get(request.session, {})
    current = running.get(login)
    if current is None:
        raise RestError.not_found(f"No search in progress for {login}")
    now = time.monotonic()
    if now - current.used_at > request.pbx.timing.search_idle:
        del running[login]
        return {"resultCode": "TIMEOUT", "resultElements": []}
    current.used_at = now
    if now < current.ready_at:
        return {"resultCode": "NOK", "resultElements": []}
    if current.sent >= len(current.contacts):
        del running[login]
        return {"resultCode": "FINISH", "resultElements": []}
    page = current.contacts[current.sent : current.sent + _PAGE]
    current.sent += len(page)
    return {"resultCode": "OK", "resultElements": [{"contacts": [c]} for c in page]}


@endpoint("DELETE /directory/search")
async def stop(request: ApiRequest) -> None:
    """Stop the user's search (nothing to do when none runs)."""
    _searches.get(request.session, {}).pop(request.user.login, None)


def _start(request: ApiRequest, match: Test, limit: int | None) -> web.Response:
    """Run the search now; its results are served by GET (201, empty body)."""
    if limit is None:
        limit = 100
    if not 1 <= limit <= 100:
        raise RestError.bad_parameter(f"body.limit {limit} must be between 1 and 100")
    login, timing = request.user.login, request.pbx.timing
    running = _searches.setdefault(request.session, {})
    now = time.monotonic()
    for other, old in list(running.items()):
        if now - old.used_at > timing.search_idle:
            del running[other]
    if login not in running and len(running) >= _PER_SESSION:
        raise RestError.not_allowed(f"A session runs at most {_PER_SESSION} searches at a time")
    found = [contact for contact in _phone_book(request.pbx) if match(contact)][:limit]
    running[login] = _Search(found, ready_at=now + timing.search_delay, used_at=now)
    return web.Response(status=201)


def _phone_book(pbx: Pbx) -> list[Contact]:
    """Users and external contacts as directory PartyInfo, sorted by name."""
    contacts = [
        {
            "id": {"loginName": user.login, "phoneNumber": user.number},
            "firstName": user.first_name,
            "lastName": user.last_name,
        }
        for user in pbx.users.values()
    ]
    contacts += [
        {"id": {"phoneNumber": ext.number}, "firstName": ext.first_name, "lastName": ext.last_name}
        for ext in pbx.config.externals
    ]
    return sorted(contacts, key=lambda c: (c["lastName"].casefold(), c["firstName"].casefold()))


def _criterion(criterion: Any, where: str) -> Test:
    """A test on contacts from a Criterion (AND/OR take a list of criteria as operand)."""
    if not isinstance(criterion, dict):
        raise RestError.bad_parameter(f"{where}: expected a Criterion object")
    operation, operand = criterion.get("operation"), criterion.get("operand")
    if operation in ("AND", "OR"):
        if not isinstance(operand, list) or not operand:
            raise RestError.bad_parameter(f"{where}.operand: {operation} needs a list of criteria")
        tests = [_criterion(item, f"{where}.operand[{i}]") for i, item in enumerate(operand)]
        combine = all if operation == "AND" else any
        return lambda contact: combine(test(contact) for test in tests)
    if operation not in _COMPARE:
        allowed = ", ".join(["AND", "OR", *_COMPARE])
        raise RestError.bad_parameter(f"{where}.operation: {operation!r} is not one of {allowed}")
    field = criterion.get("field")
    if field not in _FIELDS:
        raise RestError.bad_parameter(
            f"{where}.field: {field!r} is not one of {', '.join(_FIELDS)}"
        )
    if not isinstance(operand, str):
        raise RestError.bad_parameter(f"{where}.operand: expected a string")
    value_of, compare, wanted = _FIELDS[field], _COMPARE[operation], operand.casefold()
    return lambda contact: compare(value_of(contact).casefold(), wanted)


def _dtmf(digits: str, field: str, keys: dict[str, str]) -> Test:
    """Contacts whose ``field`` typed on the keypad begins with ``digits``."""
    if not re.fullmatch(r"[0-9*#]+", digits):
        raise RestError.bad_parameter(f"body.{field}: {digits!r} is not a string of keypad digits")
    return lambda contact: _keyed(contact.get(field, ""), keys).startswith(digits)


def _keyed(name: str, keys: dict[str, str]) -> str:
    """The digits typed to spell ``name`` (accents dropped, other signs skipped)."""
    plain = unicodedata.normalize("NFKD", name).upper()
    return "".join(keys.get(char, char if char.isdigit() else "") for char in plain)

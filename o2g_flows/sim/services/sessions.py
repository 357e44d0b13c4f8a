"""Session management: open, describe, keep alive, close."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from o2g_flows.spec import API_PREFIX

from ..api import ApiRequest, endpoint
from ..sessions import Session

#: (serviceName, relativeUrl, licences of which one is needed; empty: none). The vendor
#: SDKs append only a resource id or their own suffix to a service's URL, so Comlog and
#: Voicemail point at their collections (``/comlog/records``, ``/messaging/mailboxes``).
_SERVICES = [
    ("Sessions", "/sessions", ()),
    ("Subscriptions", "/subscriptions", ()),
    ("Users", "/users", ()),
    ("Telephony", "/telephony/calls", ("TELEPHONY_BASIC", "TELEPHONY_ADVANCED")),
    ("Routing", "/routing", ("TELEPHONY_ADVANCED",)),
    ("EventSummary", "/eventSummary", ("TELEPHONY_ADVANCED",)),
    ("Comlog", "/comlog/records", ("TELEPHONY_ADVANCED",)),
    ("Directory", "/directory", ("TELEPHONY_ADVANCED",)),
    ("Voicemail", "/messaging/mailboxes", ("MESSAGING",)),
    ("PhoneSetProgramming", "/users", ("API_PHONESETPROG",)),
    ("AcdAgent", "/acd/agent", ("API_CONTACTCENTER_AGENT",)),
    ("Maintenance", "/system", ()),
]
#: The SDKs' UserManagement service (``/logins/{login}``...) is not in the 2.x API: not listed.
_ADMIN_SERVICES = [("PbxManagement", "/pbxs")]


def session_info(request: ApiRequest, session: Session) -> dict[str, Any]:
    """The SessionInfo of ``session``, services filtered by what its user may use."""
    base = f"{request.http.url.origin()}{API_PREFIX}"
    user = request.pbx.users.get(session.login)
    services = []
    for name, url, licenses in _SERVICES:
        if session.admin or not licenses or (user and user.licenses & set(licenses)):
            services.append({"serviceName": name, "serviceVersion": "1.0", "relativeUrl": url})
    if session.admin:
        services += [
            {"serviceName": name, "serviceVersion": "1.0", "relativeUrl": url}
            for name, url in _ADMIN_SERVICES
        ]
    return {
        "admin": session.admin,
        "timeToLive": int(session.ttl),
        "publicBaseUrl": base,
        "privateBaseUrl": base,
        "services": services,
    }


@endpoint("POST /sessions", session=False)
async def open_session(request: ApiRequest) -> web.Response:
    session = request.gateway.sessions.open(request.http.cookies.get("AlcUserId"), request.body)
    response = web.json_response(session_info(request, session))
    response.set_cookie("JSESSIONID", session.jsessionid, path="/api")
    return response


@endpoint("GET /sessions")
async def get_session(request: ApiRequest) -> dict[str, Any]:
    return session_info(request, request.session)


@endpoint("DELETE /sessions")
async def close_session(request: ApiRequest) -> None:
    request.gateway.sessions.close(request.session)


@endpoint("POST /sessions/keepalive")
async def keepalive(request: ApiRequest) -> None:
    """The router already restarted the session timer."""

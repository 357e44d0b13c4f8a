"""Maintenance: system status (the PBX file's node) and licence availability."""

from __future__ import annotations

from typing import Any

from ..api import ApiRequest, endpoint
from ..errors import RestError
from ..pbx import Pbx
from ..server import PRODUCT_VERSION

#: FLEX licence names of the O2G licence file, by the names the PBX file uses.
FLEX_NAMES = {
    "TELEPHONY_BASIC": "ROXE_API_TEL_BASIC",
    "TELEPHONY_ADVANCED": "ROXE_API_TEL_ADVANCED",
    "MESSAGING": "ROXE_API_MESSAGING",
    "API_PHONESETPROG": "ROXE_API_PHONESETPROG",
    "MANAGEMENT": "ROXE_API_MANAGEMENT",
    "API_CONTACTCENTER_AGENT": "ROXE_API_CONTACTCENTER_AGENT",
    "API_CONTACTCENTER_SUPERVISOR": "ROXE_API_CONTACTCENTER_SUPERVISOR",
    "ANALYTICS": "ROXE_API_ANALYTICS",
}


@endpoint("GET /system/status")
async def system_status(request: ApiRequest) -> dict[str, Any]:
    """The gateway and its one PBX node (administrators only)."""
    request.require_admin()
    pbx = request.pbx
    host = request.http.url.host or "localhost"
    config = pbx.config
    version = f"{PRODUCT_VERSION['major']}.{PRODUCT_VERSION['minor']}"
    return {
        "logicalAddress": {"fqdn": host, "ip": host},
        "startDate": pbx.objects.loaded_at,
        "ha": False,
        "primary": host,
        "primaryVersion": version,
        "pbxs": [
            {
                "name": config.name,
                "nodeId": config.node_id,
                "mainAddress": {"fqdn": config.name, "ip": "127.0.0.1"},
                "secondaryAddress": {},
                "version": config.version,
                "connected": True,
                "loaded": True,
                "ctiLinkState": "CONNECTED_MAIN",
                "secured": False,
                "monitoredUserNumber": len(pbx.users),
            }
        ],
        "license": {"lics": list(_licenses(pbx).values())},
        "configurationType": "FULL_SERVICES",
    }


@endpoint("GET /system/licenses", session=False)
async def license_available(request: ApiRequest) -> None:
    """204 when the licence file holds ``lic`` (FLEX name or PBX file name), else 404."""
    name = request.query.get("lic")
    if not name:
        raise RestError.bad_parameter("the lic query parameter is required")
    if not any(name in (lic["name"], key) for key, lic in _licenses(request.pbx).items()):
        raise RestError.not_found(f"No {name} licence in the licence file")


def _licenses(pbx: Pbx) -> dict[str, dict[str, Any]]:
    """The PBX file's licences as License objects; ``currentUsed`` counts their users."""
    return {
        key: {
            "name": FLEX_NAMES.get(key, key),
            "total": total,
            "currentUsed": sum(1 for user in pbx.users.values() if key in user.licenses),
        }
        for key, total in pbx.config.licenses.items()
        if total > 0
    }

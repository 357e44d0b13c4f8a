"""Phone Set Programming: a user's devices, their dynamic state, keys, PIN and PBX prefixes."""

from __future__ import annotations

import re
from typing import Any

from ..api import ApiRequest, endpoint
from ..errors import RestError
from ..pbx.config import Device

#: Programmable keys on the set itself, and on each add-on module.
_SET_KEYS = {"DESKPHONE": 10, "SOFTPHONE": 10}
_ADDON_KEYS = {
    "ADDON_10_KEYS": 10,
    "ADDON_20_KEYS": 20,
    "ADDON_40_KEYS": 40,
    "ADDON_EL_14_KEYS": 14,
}
_SOFT_KEYS = {"DESKPHONE": 6, "SOFTPHONE": 6}
_PIN_CONTROLS = (
    "PIN_Category",
    "PIN_Restricted_To_Owner_Set",
    "PIN_Universal_Access",
    "PIN_Group_Control",
)
#: The node's facility prefixes: (type, value) -> number.
PREFIXES = {
    ("Station_Facility_Type", "Do_not_disturb"): "60",
    ("Station_Facility_Type", "Lock"): "61",
    ("Station_Facility_Type", "Overflow_on_busy_on_associated"): "62",
    ("Station_Facility_Type", "Overflow_busy_noreply_on_associated"): "63",
    ("Station_Facility_Type", "Overflow_no_reply_on_associated"): "64",
    ("Station_Facility_Type", "Cancel_Overflow_on_associated"): "65",
    ("Station_Facility_Type", "Immediate_forwarding"): "51",
    ("Station_Facility_Type", "Immediate_forwarding_on_busy"): "52",
    ("Station_Facility_Type", "Forwarding_on_no_reply"): "53",
    ("Station_Facility_Type", "Forwarding_on_busy_or_no_reply"): "54",
    ("Station_Facility_Type", "Forwarding_cancellation"): "59",
    ("Station_Facility_Type", "Cancel_automatic_call_back_on_busy_station"): "66",
    ("General_Facility_Type", "Direct_call_pick_up"): "55",
    ("General_Facility_Type", "Group_call_pick_up"): "56",
    ("Local_Facility_Type", "Speed_call_to_associated_station"): "67",
    ("Local_Facility_Type", "Voice_Mail_Deposit"): "68",
    ("Local_Facility_Type", "Wake_up"): "69",
    ("Local_Facility_Type", "Wake_up_cancellation"): "70",
}


@endpoint("GET /users/{loginName}/devices")
async def devices(request: ApiRequest) -> dict[str, Any]:
    return {"devices": [device.as_json() for device in request.user.devices]}


@endpoint("GET /users/{loginName}/devices/{deviceId}")
async def device(request: ApiRequest) -> dict[str, Any]:
    return _device(request).as_json()


@endpoint("PUT /users/{loginName}/devices/{deviceId}/REActive")
async def set_remote_extension(request: ApiRequest) -> None:
    """Activate the remote extension: its MOBILE destination is selected in the routing."""
    _remote_extension(request)
    request.pbx.routing.set_remote_extension(request.user.login, _activate(request))


@endpoint("GET /users/{loginName}/devices/{deviceId}/REActiveState")
async def remote_extension_state(request: ApiRequest) -> dict[str, Any]:
    return {"active": _remote_extension(request).remote_extension_active}


@endpoint("GET /users/{loginName}/devices/{deviceId}/addons")
async def addons(request: ApiRequest) -> dict[str, Any]:
    return {"addonTypes": _device(request).addons or ["NO_EXTENSIONS"]}


@endpoint("PUT /users/{loginName}/devices/{deviceId}/associate")
async def set_associate(request: ApiRequest) -> None:
    """Set the associate (another internal number); an empty number clears it."""
    device = _device(request)
    number = (request.body or {}).get("number") or None
    if number is not None and (
        number == device.id or request.pbx.resolve(number).kind == "external"
    ):
        raise RestError.bad_parameter(
            f"body.number: {number} is not another internal number of the PBX"
        )
    device.associate = number


@endpoint("PUT /users/{loginName}/devices/{deviceId}/campon")
async def set_campon(request: ApiRequest) -> None:
    _device(request).campon = _activate(request)


@endpoint("GET /users/{loginName}/devices/{deviceId}/dynamicState")
async def dynamic_state(request: ApiRequest) -> dict[str, Any]:
    device = _device(request)
    state: dict[str, Any] = {"lock": device.lock, "campon": device.campon}
    if device.associate:
        state["associate"] = device.associate
    return state


@endpoint("PUT /users/{loginName}/devices/{deviceId}/lock")
async def set_lock(request: ApiRequest) -> None:
    _device(request).lock = _activate(request)


@endpoint("GET /users/{loginName}/devices/{deviceId}/pin")
async def get_pin(request: ApiRequest) -> dict[str, Any]:
    return dict(_device(request).pin)


@endpoint("PUT /users/{loginName}/devices/{deviceId}/pin")
async def set_pin(request: ApiRequest) -> None:
    """Change the given PIN fields (the others keep their value)."""
    device = _device(request)
    pin = {name: value for name, value in (request.body or {}).items() if value is not None}
    number = pin.get("Pin_Number")
    if number is not None and not re.fullmatch(r"\d{4,8}", number):
        raise RestError.bad_parameter("body.Pin_Number: a PIN has 4 to 8 digits")
    control = pin.get("Pin_Type_Of_Control")
    if control is not None and control not in _PIN_CONTROLS:
        raise RestError.bad_parameter(
            f"body.Pin_Type_Of_Control: {control!r} is not one of {', '.join(_PIN_CONTROLS)}"
        )
    if pin.get("Pin_Group", 0) < 0:
        raise RestError.bad_parameter("body.Pin_Group must not be negative")
    device.pin.update(pin)


@endpoint("GET /users/{loginName}/devices/{deviceId}/programmeableKeys")
async def programmeable_keys(request: ApiRequest) -> dict[str, Any]:
    """Every key of the set and its add-ons, programmed or not."""
    device = _device(request)
    return {
        "pkeys": [
            device.programmeable_keys.get(position, {"position": position, "locked": False})
            for position in range(1, _key_count(device) + 1)
        ]
    }


@endpoint("GET /users/{loginName}/devices/{deviceId}/programmedKeys")
async def programmed_keys(request: ApiRequest) -> dict[str, Any]:
    keys = _device(request).programmeable_keys
    return {"pkeys": [keys[position] for position in sorted(keys)]}


@endpoint("PUT /users/{loginName}/devices/{deviceId}/programmeableKeys/{position}")
async def set_programmeable_key(request: ApiRequest) -> None:
    """Program a key; only an administrator may lock a key or change a locked one."""
    device = _device(request)
    position = _position(request, _key_count(device))
    key = _key_body(request, position)
    current = device.programmeable_keys.get(position, {})
    if not request.session.admin and (current.get("locked") or key.get("locked")):
        raise RestError.not_allowed(f"key {position} is locked by the administrator")
    device.programmeable_keys[position] = {"position": position, "locked": False, **key}


@endpoint("DELETE /users/{loginName}/devices/{deviceId}/programmeableKeys/{position}")
async def delete_programmeable_key(request: ApiRequest) -> None:
    device = _device(request)
    position = _position(request, _key_count(device))
    if not request.session.admin and device.programmeable_keys.get(position, {}).get("locked"):
        raise RestError.not_allowed(f"key {position} is locked by the administrator")
    device.programmeable_keys.pop(position, None)


@endpoint("GET /users/{loginName}/devices/{deviceId}/softKeys")
async def soft_keys(request: ApiRequest) -> dict[str, Any]:
    keys = _device(request).soft_keys
    return {"skeys": [keys[position] for position in sorted(keys)]}


@endpoint("PUT /users/{loginName}/devices/{deviceId}/softKeys/{position}")
async def set_soft_key(request: ApiRequest) -> None:
    device = _device(request)
    position = _position(request, _SOFT_KEYS.get(device.type, 0))
    device.soft_keys[position] = {"position": position, **_key_body(request, position)}


@endpoint("DELETE /users/{loginName}/devices/{deviceId}/softKeys/{position}")
async def delete_soft_key(request: ApiRequest) -> None:
    device = _device(request)
    device.soft_keys.pop(_position(request, _SOFT_KEYS.get(device.type, 0)), None)


@endpoint("GET /users/{loginName}/prefixes")
async def prefix(request: ApiRequest) -> dict[str, Any]:
    """The number that activates a facility (``type`` and ``value``, case sensitive)."""
    kind, value = request.query.get("type"), request.query.get("value")
    if not kind or not value:
        raise RestError.bad_parameter("the type and value query parameters are required")
    number = PREFIXES.get((kind, value))
    if number is None:
        raise RestError.not_found(f"No prefix {kind}/{value} on this node")
    return {"value": value, "number": number}


def _device(request: ApiRequest) -> Device:
    ident = request.path["deviceId"]
    for item in request.user.devices:
        if item.id == ident:
            return item
    raise RestError.not_found(f"{request.user.login} has no device {ident}")


def _remote_extension(request: ApiRequest) -> Device:
    device = _device(request)
    if device.type != "MOBILE":
        raise RestError.bad_parameter(f"device {device.id} is not a remote extension (MOBILE)")
    return device


def _activate(request: ApiRequest) -> bool:
    activate = request.query.get("activate")
    if activate is None:
        raise RestError.bad_parameter("the activate query parameter (true or false) is required")
    return activate


def _key_count(device: Device) -> int:
    return _SET_KEYS.get(device.type, 0) + sum(_ADDON_KEYS.get(a, 0) for a in device.addons)


def _position(request: ApiRequest, count: int) -> int:
    text = request.path["position"]
    if not text.isdigit():
        raise RestError.bad_parameter(f"key position {text!r} is not a number")
    position = int(text)
    if not 1 <= position <= count:
        raise RestError.not_found(f"device {request.path['deviceId']} has no key {position}")
    return position


def _key_body(request: ApiRequest, position: int) -> dict[str, Any]:
    key = {name: value for name, value in (request.body or {}).items() if value is not None}
    if key.pop("position", position) != position:
        raise RestError.bad_parameter(
            f"body.position {request.body['position']} differs from the path position {position}"
        )
    return key

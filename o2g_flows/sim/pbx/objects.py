"""PBX management objects: the instances of the PBX file's ``pbx_objects`` and their model.

Each object type of the file (e.g. ``Subscriber``) becomes an object class whose model
lists the attributes its instances use; instances are created, read, modified and
deleted through the PBX management API.

Every user of the PBX is a ``Subscriber`` with the whole attribute list (defaults for
what the file does not set), and the number plan follows the Subscribers both ways:
creating one adds a user (login and password: its number), deleting one removes the
user, and a change of its name attributes changes the user's names (OnUserInfoChanged).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from ..errors import ErrorType, RestError
from .config import Device, User
from .messaging import iso_now

if TYPE_CHECKING:
    from .core import Pbx

__all__ = ["PbxObjects", "parse_filter"]

#: The attribute holding an instance's identifier, per object name ("Id" otherwise).
_ID_ATTRIBUTE = {"Subscriber": "Directory_Number"}
#: Special actions allowed per object name (PUT ``action``, DELETE ``force``).
_ACTIONS = {"Subscriber": ["ReinitMemory", "Resynchro", "FORCED_DELETE"]}
#: Objects whose creation and deletion the PBX notifies.
_NOTIFIED = frozenset({"Subscriber"})
#: Subscriber attributes giving a user's names, by priority (the spec's User description).
_LAST_NAME = ("UTF8_Phone_Book_Name", "Annu_Name")
_FIRST_NAME = ("UTF8_Phone_Book_First_Name", "Annu_First_Name")
_LIST_ACTIONS = ("add", "remove")
#: Every Subscriber attribute (the names the API text uses) with its default.
_SUBSCRIBER_DEFAULTS: dict[str, str] = {
    "Annu_Name": "",
    "Annu_First_Name": "",
    "UTF8_Phone_Book_Name": "",
    "UTF8_Phone_Book_First_Name": "",
    "Station_Type": "UA_VIRTUAL",
}
#: Licences of a user created as a Subscriber.
_CREATED_USER_LICENSES = frozenset({"TELEPHONY_ADVANCED"})


@dataclass(eq=False)
class _Instance:
    attributes: dict[str, dict[str, Any]]  # attribute name -> PbxAttribute
    version: int = 0


class PbxObjects:
    """Object instances by object name and id, with a per-session view for conflicts."""

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self.loaded_at = iso_now()  # when the PBX data were loaded (SystemStatus.startDate)
        self._objects: dict[str, dict[str, _Instance]] = {}
        for name, instances in pbx.config.pbx_objects.items():
            self._objects[name] = {
                str(object_id): _Instance(_attributes(name, str(object_id), values))
                for object_id, values in instances.items()
            }
        subscribers = self._objects.setdefault("Subscriber", {})
        for user in pbx.users.values():
            given = pbx.config.pbx_objects.get("Subscriber", {}).get(user.number, {})
            names = {"Annu_Name": user.last_name, "Annu_First_Name": user.first_name}
            subscribers[user.number] = _Instance(
                _attributes("Subscriber", user.number, {**names, **given})
            )
        self._models = {name: self._model(name) for name in self._objects}
        # version of each instance a session last read or wrote, to detect conflicts
        self._seen: WeakKeyDictionary[Any, dict[tuple[str, str], int]] = WeakKeyDictionary()

    # -- reading --------------------------------------------------------------------------------

    def root(self) -> dict[str, Any]:
        """The node object: the names of its instantiable sub-objects."""
        return {
            "objectName": "Node",
            "objectId": str(self._pbx.config.node_id),
            "attributes": [],
            "objectNames": sorted(self._objects),
            "create": False,
            "delete": False,
            "set": False,
            "get": True,
            "otherActions": [],
        }

    def model(self, name: str | None = None) -> dict[str, Any]:
        """The ObjectModel of one object, or of the node with every object below it."""
        if name is not None:
            self._instances(name)
            return self._models[name]
        return {
            "objectName": "Node",
            "attributes": [],
            "objects": [self._models[n] for n in sorted(self._models)],
            "hidden": False,
            "create": False,
            "delete": False,
            "set": False,
            "get": True,
            "otherActions": [],
        }

    def find(self, name: str, filter_: str | None, attributes: str | None) -> dict[str, Any]:
        """PbxObjectIds of the instances matching ``filter_`` (the spec's filter syntax)."""
        instances = self._instances(name)
        match = parse_filter(filter_) if filter_ else None
        ids = [oid for oid, inst in instances.items() if match is None or match(inst.attributes)]
        answer: dict[str, Any] = {"objectName": name, "objectIds": ids}
        if attributes:
            wanted = _names(attributes)
            answer["objects"] = [
                {"objectId": oid, "attributes": _select(instances[oid], wanted)} for oid in ids
            ]
        return answer

    def get(self, reader: Any, name: str, object_id: str, attributes: str | None) -> dict[str, Any]:
        """One instance as a PbxObject; ``reader`` (a session) now knows this version."""
        instance = self._instance(name, object_id)
        self._seen.setdefault(reader, {})[(name, object_id)] = instance.version
        model = self._models[name]
        return {
            "objectName": name,
            "objectId": object_id,
            "attributes": _select(instance, _names(attributes) if attributes else None),
            "objectNames": [],
            **{key: model[key] for key in ("create", "delete", "set", "get", "otherActions")},
        }

    # -- changes --------------------------------------------------------------------------------

    def create(self, name: str, attributes: list[dict[str, Any]]) -> str:
        """Create an instance from PbxAttribute objects; its id comes from the id attribute."""
        instances = self._instances(name)
        id_name = id_attribute(name)
        given = self._checked(name, attributes)
        ident = given.get(id_name, {}).get("value") or []
        if len(ident) != 1 or not ident[0]:
            raise RestError.bad_parameter(f"creating a {name} needs one {id_name} value")
        object_id = ident[0]
        if object_id in instances:
            raise _conflict(f"{name} {object_id} already exists")
        if name == "Subscriber" and self._pbx.resolve(object_id).kind != "external":
            raise _conflict(f"number {object_id} is already used in the numbering plan")
        instance = _Instance({**_attributes(name, object_id, {}), **given})
        instances[object_id] = instance
        if name in _NOTIFIED:
            self._emit("OnPbxObjectInstanceCreated", name, object_id)
        if name == "Subscriber":
            self._pbx.add_user(
                User(
                    login=object_id,
                    password=object_id,
                    number=object_id,
                    first_name=_first_value(instance, _FIRST_NAME),
                    last_name=_first_value(instance, _LAST_NAME),
                    devices=[Device(object_id)],
                    licenses=set(_CREATED_USER_LICENSES),
                )
            )
        return object_id

    def modify(
        self,
        writer: Any,
        name: str,
        object_id: str,
        attributes: list[dict[str, Any]],
        action: str | None,
    ) -> None:
        """Change attribute values (or add/remove list items, or run an allowed action)."""
        instance = self._instance(name, object_id)
        if action and action.lower() not in _LIST_ACTIONS:
            self._check_action(name, action)
            return
        seen = self._seen.setdefault(writer, {})
        if seen.get((name, object_id), instance.version) != instance.version:
            raise _conflict(
                f"{name} {object_id} was modified by someone else since you read it: GET it again"
            )
        changes = self._checked(name, attributes)
        if not changes:
            raise RestError.bad_parameter(f"no attribute to change on {name} {object_id}")
        id_name = id_attribute(name)
        if id_name in changes and changes[id_name].get("value") != [object_id]:
            raise RestError.bad_parameter(f"{id_name} identifies the {name}: it cannot change")
        for key, change in changes.items():
            instance.attributes[key] = _edited(instance.attributes.get(key), change, action)
        instance.version += 1
        seen[(name, object_id)] = instance.version
        self._emit("OnPbxObjectInstanceModified", name, object_id)
        if name == "Subscriber":
            self._sync_user(object_id, instance, changes)

    def delete(self, name: str, object_id: str, force: bool) -> None:
        """Delete an instance (``force``: the FORCED_DELETE action, where the model allows it)."""
        instances = self._instances(name)
        self._instance(name, object_id)
        if force:
            self._check_action(name, "FORCED_DELETE")
        user = self._pbx.user_by_number(object_id) if name == "Subscriber" else None
        if user is not None and user.number == object_id:
            self._pbx.remove_user(user)
        del instances[object_id]
        if name in _NOTIFIED:
            self._emit("OnPbxObjectInstanceDeleted", name, object_id)

    # -- helpers --------------------------------------------------------------------------------

    def _instances(self, name: str) -> dict[str, _Instance]:
        try:
            return self._objects[name]
        except KeyError:
            raise RestError.not_found(f"No object {name} in the PBX model") from None

    def _instance(self, name: str, object_id: str) -> _Instance:
        try:
            return self._instances(name)[object_id]
        except KeyError:
            raise RestError.not_found(f"No {name} instance {object_id}") from None

    def _check_action(self, name: str, action: str) -> None:
        allowed = self._models[name]["otherActions"]
        if action not in allowed:
            listed = ", ".join(allowed) or "none"
            raise RestError(
                ErrorType.NOT_SUPPORTED,
                f"action {action} is not allowed on {name} (allowed: {listed})",
                status=405,
            )

    def _checked(self, name: str, attributes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """PbxAttribute objects by name, each a known attribute of the object's model."""
        known = {a["name"] for a in self._models[name]["attributes"]}
        checked: dict[str, dict[str, Any]] = {}
        for index, attribute in enumerate(attributes):
            key = attribute.get("name")
            if not key:
                raise RestError.bad_parameter(f"body.attributes[{index}]: the name is missing")
            if key not in known:
                raise RestError.bad_parameter(
                    f"body.attributes[{index}]: {name} has no attribute {key}"
                )
            checked[key] = {
                k: v
                for k, v in attribute.items()
                if k in ("value", "complexValue") and v is not None
            }
            checked[key]["name"] = key
        return checked

    def _model(self, name: str) -> dict[str, Any]:
        id_name = id_attribute(name)
        values: dict[str, list[list[Any]]] = {}
        for instance in self._objects[name].values():
            for key, attribute in instance.attributes.items():
                values.setdefault(key, []).append(attribute.get("value", []))
        names = [id_name, *sorted(key for key in values if key != id_name)]
        return {
            "objectName": name,
            "attributes": [
                _attribute_model(key, key == id_name, values.get(key, [])) for key in names
            ],
            "objects": [],
            "hidden": False,
            "create": True,
            "delete": True,
            "set": True,
            "get": True,
            "otherActions": list(_ACTIONS.get(name, [])),
        }

    def _sync_user(
        self, number: str, instance: _Instance, changes: dict[str, dict[str, Any]]
    ) -> None:
        """Keep a PBX user's names in step with its Subscriber (OnUserInfoChanged)."""
        user = self._pbx.user_by_number(number)
        if user is None or user.number != number:
            return
        last, first = user.last_name, user.first_name
        if set(changes) & set(_LAST_NAME):
            last = _first_value(instance, _LAST_NAME)
        if set(changes) & set(_FIRST_NAME):
            first = _first_value(instance, _FIRST_NAME)
        if (last, first) == (user.last_name, user.first_name):
            return
        user.last_name, user.first_name = last, first
        self._pbx.emit(
            {
                "eventName": "OnUserInfoChanged",
                "loginName": user.login,
                "user": self._pbx.user_json(user),
            }
        )

    def _emit(self, event_name: str, name: str, object_id: str) -> None:
        self._pbx.emit(
            {
                "eventName": event_name,
                "objectName": name,
                "objectId": object_id,
                "nodeId": str(self._pbx.config.node_id),
            }
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            name: {oid: list(inst.attributes.values()) for oid, inst in instances.items()}
            for name, instances in self._objects.items()
        }


def _attributes(name: str, object_id: str, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An instance's PbxAttributes: its id, the defaults of its object, then ``values``."""
    id_name = id_attribute(name)
    defaults = _SUBSCRIBER_DEFAULTS if name == "Subscriber" else {}
    merged = {**defaults, **{key: value for key, value in values.items() if key != id_name}}
    return {
        id_name: {"name": id_name, "value": [object_id]},
        **{key: _attribute(key, value) for key, value in merged.items()},
    }


def id_attribute(name: str) -> str:
    """The attribute identifying the instances of object ``name``."""
    return _ID_ATTRIBUTE.get(name, "Id")


# -- filters ------------------------------------------------------------------------------------

_CONDITION = re.compile(r"\s*(\w+)\s*(==|!=|=ge=|=le=)\s*(.*?)\s*")
Match = Callable[[dict[str, dict[str, Any]]], bool]


def parse_filter(text: str) -> Match:
    """A predicate on instance attributes from ``a==v* and b!=w or c=ge=3`` (and binds first)."""
    alternatives = [
        [_condition(part, text) for part in re.split(r"\s+and\s+", branch)]
        for branch in re.split(r"\s+or\s+", text.strip())
    ]
    return lambda attributes: any(
        all(test(attributes) for test in branch) for branch in alternatives
    )


def _condition(part: str, text: str) -> Match:
    found = _CONDITION.fullmatch(part)
    if found is None or not found.group(3):
        raise RestError.bad_parameter(f"filter {text!r}: cannot read the condition {part!r}")
    key, operator, operand = found.groups()
    operand = operand.strip('"')

    def values(attributes: dict[str, dict[str, Any]]) -> list[str]:
        return attributes.get(key, {}).get("value", [])

    if operator == "!=":
        return lambda attributes: operand not in values(attributes)
    if operator == "==":
        test = _wildcard(operand)
        return lambda attributes: any(test(v) for v in values(attributes))
    sign = 1 if operator == "=ge=" else -1
    return lambda attributes: any(_compare(v, operand) * sign >= 0 for v in values(attributes))


def _wildcard(operand: str) -> Callable[[str], bool]:
    if len(operand) > 1 and operand.endswith("*"):
        return lambda value: value.startswith(operand[:-1])
    if len(operand) > 1 and operand.startswith("*"):
        return lambda value: value.endswith(operand[1:])
    return lambda value: value == operand


def _compare(value: str, operand: str) -> int:
    """-1, 0 or 1; numerically when both are numbers."""
    try:
        left, right = float(value), float(operand)
    except ValueError:
        return (value > operand) - (value < operand)
    return (left > right) - (left < right)


# -- attribute helpers --------------------------------------------------------------------------


def _attribute(name: str, value: Any) -> dict[str, Any]:
    """A PbxAttribute from a PBX file value (a scalar or a list of scalars)."""
    items = value if isinstance(value, list) else [value]
    return {"name": name, "value": [_text(item) for item in items]}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _select(instance: _Instance, wanted: Iterable[str] | None) -> list[dict[str, Any]]:
    if wanted is None:
        return list(instance.attributes.values())
    return [instance.attributes[name] for name in wanted if name in instance.attributes]


def _edited(
    current: dict[str, Any] | None, change: dict[str, Any], action: str | None
) -> dict[str, Any]:
    """The attribute after a change: replaced, or with items added or removed."""
    if not action:
        return change
    merged = {"name": change["name"]}
    for field in ("value", "complexValue"):
        items = list((current or {}).get(field, []))
        for item in change.get(field, []):
            if action.lower() == "add" and item not in items:
                items.append(item)
            elif action.lower() == "remove" and item in items:
                items.remove(item)
        if items or field == "value":
            merged[field] = items
    return merged


def _attribute_model(name: str, identifier: bool, values: list[list[Any]]) -> dict[str, Any]:
    flat = [str(item) for items in values for item in items]
    numeric = bool(flat) and all(item.lstrip("-").isdigit() for item in flat)
    return {
        "name": name,
        "mandatory": identifier,
        "typeValue": "integer" if numeric else "octetString",
        "multiValue": any(len(items) > 1 for items in values),
        "allowedValues": [],
        "filtering": True,
    }


def _first_value(instance: _Instance, names: tuple[str, ...]) -> str:
    for name in names:
        values = instance.attributes.get(name, {}).get("value") or []
        if values and values[0]:
            return values[0]
    return ""


def _conflict(message: str) -> RestError:
    return RestError(ErrorType.NOT_EXPECTED, message, status=409)

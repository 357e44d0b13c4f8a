"""Actions: declared parameters (checked at load) and what each one does when it runs.

Every O2G action goes through the gateway, so offline runs record instead of sending.
Plugins add actions with ``Registry.action`` (``o2g_flows.plugins``).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .gateway import ActionError, Gateway

if TYPE_CHECKING:
    from .model import Flow
    from .state import Execution

__all__ = [
    "BUILTIN_ACTIONS",
    "FOR_EACH",
    "MAX_FOR_EACH",
    "ActionContext",
    "ActionSpec",
    "Param",
    "check_call",
    "check_type",
    "client_methods",
    "describe_type",
]

Runner = Callable[["ActionContext", dict[str, Any]], Awaitable[Any]]

_TYPES = ("string", "phone", "integer", "number", "boolean", "object", "array", "any")


@dataclass(frozen=True, slots=True)
class Param:
    """A declared action parameter.

    ``type``: string, phone (a number written as text; a YAML integer is accepted),
    integer, number, boolean, object, array or any. ``default`` may be a template
    (``"${event.callRef}"``), evaluated when the action runs.
    """

    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action flows can use: its name, parameters and the coroutine that runs it.

    ``effect`` actions are what offline tests expect (``set`` and ``log`` are not);
    ``shorthand`` names the parameter a bare scalar fills (``log: "text"``); ``free_form``
    accepts any keys (``set``).
    """

    name: str
    run: Runner
    params: tuple[Param, ...] = ()
    doc: str = ""
    effect: bool = True
    shorthand: str | None = None
    free_form: bool = False

    def param(self, name: str) -> Param | None:
        """The declared parameter ``name``, or None."""
        for param in self.params:
            if param.name == name:
                return param
        return None


@dataclass(slots=True)
class ActionContext:
    """What a running action can reach."""

    execution: Execution
    gateway: Gateway
    emit: Callable[[dict[str, Any]], None]
    logger: logging.Logger
    action: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    flow: Flow | None = None

    def set_vars(self, values: dict[str, Any]) -> None:
        """Set the execution's variables (``vars.NAME`` in later steps)."""
        self.execution.set_vars(values, self.flow.vars if self.flow is not None else {})


def check_type(param: Param, value: Any) -> tuple[bool, Any]:
    """``(ok, value)``: whether ``value`` suits ``param``, with phone integers made text."""
    kind = param.type
    if value is None:
        return (not param.required), value
    if param.choices and value not in param.choices:
        return False, value
    if kind == "any":
        return True, value
    if kind == "phone":
        if isinstance(value, int) and not isinstance(value, bool):
            return True, str(value)
        return isinstance(value, str), value
    if kind == "string":
        return isinstance(value, str), value
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool), value
    if kind == "boolean":
        return isinstance(value, bool), value
    if kind == "object":
        return isinstance(value, dict), value
    return isinstance(value, list), value


def describe_type(param: Param) -> str:
    """What ``param`` accepts, for error messages (``a phone number (text)``)."""
    if param.choices:
        return "one of " + ", ".join(param.choices)
    return {
        "phone": "a phone number (text)",
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "object": "a mapping",
        "array": "a list",
    }.get(param.type, "a value")


# -- O2G actions ----------------------------------------------------------------------------------

_CALL = Param("call", default="${event.callRef}", doc="call reference (default: the event's)")
_USER = Param(
    "user",
    default="${event.loginName}",
    doc="the user acted for, in an administrator session (default: the event's user)",
)
_DEVICE = Param(
    "device",
    type="phone",
    default="${event.legs[0].deviceId || event.modifiedLegs[0].deviceId}",
    doc="the device (default: the event's first leg)",
)


def _o2g(method: str, mapping: dict[str, str]) -> Runner:
    """An action calling ``method`` with flow arguments renamed per ``mapping``."""

    async def run(ctx: ActionContext, args: dict[str, Any]) -> Any:
        kwargs = {client: args.get(flow) for flow, client in mapping.items()}
        kwargs["login_name"] = args.get("user")
        return await ctx.gateway.invoke(method, kwargs, ctx.action)

    run.__name__ = method.replace(".", "_")
    return run


def _o2g_action(name: str, method: str, doc: str, *params: Param, **extra: str) -> ActionSpec:
    mapping = {param.name: extra.get(param.name, param.name) for param in params}
    mapping.pop("user", None)
    return ActionSpec(name, _o2g(method, mapping), (*params, _USER), doc)


def _destination(to: str) -> dict[str, str]:
    if to.lower() == "voicemail":
        return {"type": "VOICEMAIL"}
    return {"type": "NUMBER", "number": to}


_FORWARD_TYPES = {"busy": "BUSY", "no_answer": "NO_ANSWER", "busy_no_answer": "BUSY_NO_ANSWER"}


async def _forward(ctx: ActionContext, args: dict[str, Any]) -> Any:
    route: dict[str, Any] = {"destinations": [_destination(args["to"])]}
    if args.get("when", "immediate") != "immediate":
        route["forwardType"] = _FORWARD_TYPES[args["when"]]
    kwargs = {"forward_route": route, "login_name": args.get("user")}
    return await ctx.gateway.invoke("routing.set_forward_route", kwargs, ctx.action)


async def _overflow(ctx: ActionContext, args: dict[str, Any]) -> Any:
    route = {
        "overflowType": _FORWARD_TYPES[args.get("when") or "no_answer"],
        "destinations": [_destination(args["to"])],
    }
    kwargs = {"overflow_routes": [route], "login_name": args.get("user")}
    return await ctx.gateway.invoke("routing.set_overflow_routes", kwargs, ctx.action)


_TO_ROUTE = Param("to", type="phone", required=True, doc="a number, or 'voicemail'")

_O2G_ACTIONS = (
    _o2g_action(
        "answer",
        "telephony.answer",
        "Answer a ringing call on a device.",
        _CALL,
        _DEVICE,
        call="call_ref",
        device="device_id",
    ),
    _o2g_action("hangup", "telephony.release", "Release the call.", _CALL, call="call_ref"),
    _o2g_action(
        "redirect",
        "telephony.redirect",
        "Redirect a ringing call to a number (VOICEMAIL: the user's mailbox).",
        _CALL,
        Param("to", type="phone", required=True, doc="destination number"),
        Param("anonymous", type="boolean"),
        call="call_ref",
        to="redirect_to",
    ),
    _o2g_action(
        "overflow_to_voicemail",
        "telephony.overflow_to_voicemail",
        "Caller side: send the call ringing out to the callee's voicemail.",
        _CALL,
        call="call_ref",
    ),
    _o2g_action(
        "transfer",
        "telephony.transfer",
        "Transfer the active call to the held one.",
        _CALL,
        Param("held_call", required=True, doc="reference of the held call"),
        call="call_ref",
        held_call="held_call_ref",
    ),
    _o2g_action(
        "blind_transfer",
        "telephony.blind_transfer",
        "Transfer a call to a number at once.",
        _CALL,
        Param("to", type="phone", required=True),
        Param("anonymous", type="boolean"),
        call="call_ref",
        to="transfer_to",
    ),
    _o2g_action(
        "make_call",
        "telephony.make_call",
        "Place a call from the user's device.",
        Param("to", type="phone", required=True, doc="number to call"),
        Param("device", type="phone", doc="the device to call from"),
        Param("auto_answer", type="boolean"),
        to="callee",
        device="device_id",
    ),
    _o2g_action(
        "hold",
        "telephony.hold",
        "Put a call on hold.",
        _CALL,
        _DEVICE,
        call="call_ref",
        device="device_id",
    ),
    _o2g_action(
        "retrieve",
        "telephony.retrieve",
        "Take a held call back.",
        _CALL,
        _DEVICE,
        call="call_ref",
        device="device_id",
    ),
    _o2g_action(
        "send_dtmf",
        "telephony.send_dtmf",
        "Send DTMF digits on a call.",
        _CALL,
        _DEVICE,
        Param("digits", type="phone", required=True),
        call="call_ref",
        device="device_id",
        digits="number",
    ),
    _o2g_action(
        "attach_data",
        "telephony.attach_data",
        "Attach correlator data to a call.",
        _CALL,
        Param("data", required=True),
        Param("device", type="phone"),
        call="call_ref",
        data="associated_data",
        device="device_id",
    ),
    _o2g_action(
        "mini_message",
        "telephony.send_mini_message",
        "Send a mini-message to a phone.",
        Param("to", type="phone", required=True, doc="recipient phone number"),
        Param("message", required=True),
        to="recipient",
    ),
    ActionSpec(
        "forward",
        _forward,
        (
            _TO_ROUTE,
            Param("when", default="immediate", choices=("immediate", *_FORWARD_TYPES)),
            _USER,
        ),
        "Forward the user's calls to a number or voicemail.",
    ),
    _o2g_action("cancel_forward", "routing.cancel_forward_route", "Cancel the forward."),
    ActionSpec(
        "overflow",
        _overflow,
        (_TO_ROUTE, Param("when", default="no_answer", choices=tuple(_FORWARD_TYPES)), _USER),
        "Overflow the user's calls when busy and/or not answered.",
    ),
    _o2g_action("cancel_overflow", "routing.cancel_overflow_routes", "Cancel the overflow."),
    _o2g_action("dnd", "routing.activate_dnd", "Activate do-not-disturb."),
    _o2g_action("cancel_dnd", "routing.cancel_dnd", "Cancel do-not-disturb."),
    _o2g_action(
        "agent_logon",
        "acd.logon",
        "Log an agent on a pro-ACD device.",
        Param("proacd", type="phone", required=True, doc="pro-ACD device number"),
        Param("pg", type="phone", doc="processing group number"),
        Param("headset", type="boolean"),
        proacd="pro_acd_device_number",
        pg="pg_group_number",
    ),
    _o2g_action("agent_logoff", "acd.logoff", "Log the agent off."),
    _o2g_action("agent_ready", "acd.ready", "Put the agent in READY."),
    _o2g_action("agent_pause", "acd.pause", "Put the agent in PAUSE."),
    _o2g_action("agent_wrapup", "acd.wrap_up", "Put the agent in WRAPUP."),
    _o2g_action(
        "agent_withdraw",
        "acd.withdraw",
        "Withdraw the agent (with a reason index).",
        Param("reason", type="integer", doc="index of the withdraw reason"),
        reason="reason_index",
    ),
)


# -- engine actions -------------------------------------------------------------------------------


async def _set(ctx: ActionContext, args: dict[str, Any]) -> Any:
    ctx.set_vars(args)
    return None


async def _emit(ctx: ActionContext, args: dict[str, Any]) -> Any:
    event = dict(args.get("data") or {})
    event["eventName"] = args["event"]
    ctx.emit(event)
    return None


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


async def _log(ctx: ActionContext, args: dict[str, Any]) -> Any:
    execution = ctx.execution
    ctx.logger.log(
        _LEVELS[args.get("level") or "info"],
        "%s[%s] %s",
        execution.flow,
        execution.key,
        args["message"],
    )
    return None


async def _http(ctx: ActionContext, args: dict[str, Any]) -> Any:
    return await ctx.gateway.http(
        args.get("method") or "POST",
        args["url"],
        json=args.get("json"),
        headers=args.get("headers"),
        timeout=float(args.get("timeout") or 10.0),
        action=ctx.action,
    )


#: Services whose methods a flow may not call: the engine owns the session and its events.
ENGINE_OWNED_SERVICES = frozenset({"sessions", "subscriptions"})


@functools.cache
def client_methods() -> dict[str, inspect.Signature]:
    """``service.method`` -> signature, for every public method ``call:`` may use."""
    from ..client.services import SERVICES

    found: dict[str, inspect.Signature] = {}
    for service, cls in SERVICES.items():
        if service in ENGINE_OWNED_SERVICES:
            continue
        for name, function in inspect.getmembers(cls, inspect.iscoroutinefunction):
            if not name.startswith("_"):
                found[f"{service}.{name}"] = inspect.signature(function)
    return found


def check_call(method: str, names: Iterable[str] | None) -> list[str]:
    """What is wrong with ``call: {method, args}`` (``names``: the args given, if known)."""
    methods = client_methods()
    if method not in methods:
        service = method.partition(".")[0]
        if method.startswith("_") or ("._" in method) or service in ENGINE_OWNED_SERVICES:
            return [f"call: {method!r} is not a method flows may call (the engine owns it)"]
        close = difflib.get_close_matches(method, list(methods), n=1)
        hint = f"did you mean {close[0]}?" if close else "methods are service.method"
        return [f"call: no client method {method!r} ({hint})"]
    if names is None:
        return []
    params = {
        name: param
        for name, param in methods[method].parameters.items()
        if name not in ("self", "login_name")
        and param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD)
    }
    problems = []
    for name in names:
        if name not in params:
            close = difflib.get_close_matches(name, list(params), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            takes = ", ".join(params) or "no arguments"
            problems.append(f"call: {method} has no argument {name!r}{hint}; it takes {takes}")
    missing = [
        name
        for name, param in params.items()
        if param.default is inspect.Parameter.empty and name not in names
    ]
    if missing:
        problems.append(
            f"call: {method} is missing the argument{'s' * (len(missing) > 1)} "
            f"{', '.join(missing)} (give {'them' if len(missing) > 1 else 'it'} in args:)"
        )
    return problems


async def _call(ctx: ActionContext, args: dict[str, Any]) -> Any:
    method = args["method"]
    if not isinstance(method, str) or method not in client_methods():
        problems = check_call(str(method), None)
        raise ActionError(problems[0] if problems else f"call: bad method {method!r}")
    kwargs = dict(args.get("args") or {})
    kwargs.setdefault("login_name", args.get("user"))
    return await ctx.gateway.invoke(method, kwargs, ctx.action)


#: The action that runs its ``do:`` once per item of a list (the step runner runs it).
FOR_EACH = "for_each"
#: At most this many items per for_each (more is an error of the action).
MAX_FOR_EACH = 1000


async def _for_each(ctx: ActionContext, args: dict[str, Any]) -> Any:
    raise ActionError("for_each runs in the step runner")  # never called: see executor


_ENGINE_ACTIONS = (
    ActionSpec(
        FOR_EACH,
        _for_each,
        (
            Param("items", type="any", required=True, doc="the list to go through"),
            Param("as", doc="the name of the item in do: (default item)"),
            Param("do", type="any", required=True, doc="the actions run for each item"),
        ),
        "Run the actions of do: once for each item of a list (the item is ${item}).",
        effect=False,
    ),
    ActionSpec(
        "set", _set, doc="Set execution variables (vars.NAME).", effect=False, free_form=True
    ),
    ActionSpec(
        "emit",
        _emit,
        (Param("event", required=True, doc="event name"), Param("data", type="object")),
        "Emit an event other flows can match (eventName plus data).",
    ),
    ActionSpec(
        "log",
        _log,
        (
            Param("message", type="any", required=True),
            Param("level", default="info", choices=tuple(_LEVELS)),
        ),
        "Write a line to the engine log.",
        effect=False,
        shorthand="message",
    ),
    ActionSpec(
        "http",
        _http,
        (
            Param("url", required=True),
            Param("method", default="POST", choices=("GET", "POST", "PUT", "PATCH", "DELETE")),
            Param("json", type="any", doc="JSON body"),
            Param("headers", type="object"),
            Param("timeout", type="number", default=10),
        ),
        "Call a webhook (httpx); the result is {status, body}.",
    ),
    ActionSpec(
        "call",
        _call,
        (
            Param("method", required=True, doc="client method, e.g. telephony.get_calls"),
            Param("args", type="object", doc="keyword arguments of the method"),
            _USER,
        ),
        "Call any O2G client method by name (the whole API).",
    ),
)

BUILTIN_ACTIONS: tuple[ActionSpec, ...] = (*_O2G_ACTIONS, *_ENGINE_ACTIONS)

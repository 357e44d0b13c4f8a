"""JMESPath functions flows need beyond the standard ones, and the table plugins extend.

Each function is registered with its JMESPath argument types; the loader checks names and
arity of every call at load time, the interpreter checks types at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from jmespath import functions as _jp
from jmespath.visitor import Options, TreeInterpreter

__all__ = [
    "BUILTIN_FUNCTIONS",
    "FunctionSpec",
    "FunctionTable",
    "is_holiday",
    "parse_days",
    "parse_hours",
    "parse_windows",
    "remote_number",
]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A JMESPath function: its callable and one list of allowed types per argument.

    ``types`` entries use JMESPath type names (``string``, ``number``, ``object``, ``array``,
    ``boolean``, ``null``, ``array-string``...); an empty list accepts anything. With
    ``variadic`` the last argument may repeat (and the arity is a minimum).
    """

    name: str
    func: Callable[..., Any]
    types: tuple[tuple[str, ...], ...]
    variadic: bool = False
    doc: str = ""


class FunctionTable:
    """The functions expressions may call: JMESPath's own plus registered ones."""

    def __init__(self, specs: list[FunctionSpec] | None = None) -> None:
        self._custom: dict[str, FunctionSpec] = {}
        self._functions: _jp.Functions | None = None
        self._interpreter: TreeInterpreter | None = None
        for spec in specs or ():
            self.add(spec)

    def add(self, spec: FunctionSpec) -> None:
        """Register ``spec``; a name already taken is a ``ValueError``."""
        if spec.name in self._custom or spec.name in _jp.Functions.FUNCTION_TABLE:
            raise ValueError(f"JMESPath function {spec.name}() is already defined")
        self._custom[spec.name] = spec
        self._functions = None
        self._interpreter = None

    def copy(self) -> FunctionTable:
        """A table with the same registered functions, to add to independently."""
        return FunctionTable(list(self._custom.values()))

    def arity_of(self, name: str) -> tuple[int, bool] | None:
        """``(argument count, variadic)`` of a known function, or None."""
        spec = self._custom.get(name)
        if spec is not None:
            return len(spec.types), spec.variadic
        builtin = _jp.Functions.FUNCTION_TABLE.get(name)
        if builtin is None:
            return None
        signature = builtin["signature"]
        variadic = bool(signature) and bool(signature[-1].get("variadic"))
        return len(signature), variadic

    def names(self) -> list[str]:
        """Every function name, JMESPath's and registered ones, sorted."""
        return sorted({*self._custom, *_jp.Functions.FUNCTION_TABLE})

    def custom(self) -> list[FunctionSpec]:
        """The registered functions (built-in flow functions and plugins')."""
        return list(self._custom.values())

    def functions(self) -> _jp.Functions:
        """A ``jmespath.functions.Functions`` instance holding the registered functions."""
        if self._functions is None:
            namespace: dict[str, Any] = {}
            for spec in self._custom.values():
                signature = [{"types": list(types)} for types in spec.types]
                if spec.variadic and signature:
                    signature[-1]["variadic"] = True
                namespace[f"_func_{spec.name}"] = _jp.signature(*signature)(_method(spec.func))
            self._functions = type("FlowFunctions", (_jp.Functions,), namespace)()
        return self._functions

    def interpreter(self) -> TreeInterpreter:
        """A JMESPath interpreter knowing these functions, shared by every expression
        (``ParsedResult.search`` would build one per evaluation)."""
        if self._interpreter is None:
            self._interpreter = TreeInterpreter(Options(custom_functions=self.functions()))
        return self._interpreter


def _method(func: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Any, *args: Any) -> Any:
        return func(*args)

    method.__name__ = getattr(func, "__name__", "function")
    return method


# -- time windows ---------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def parse_windows(text: str) -> tuple[tuple[int, int], ...]:
    """``"08:00-12:00, 14:00-18:00"`` as minute ranges; raises ``ValueError`` when malformed."""
    windows = []
    for part in text.split(","):
        start, sep, end = part.strip().partition("-")
        if not sep:
            raise ValueError(f"time window {part.strip()!r} is not HH:MM-HH:MM")
        windows.append((_minutes(start), _minutes(end)))
    return tuple(windows)


def _minutes(text: str) -> int:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::\d{2})?\s*", text)
    if not match or int(match[1]) > 24 or int(match[2]) > 59:
        raise ValueError(f"{text.strip()!r} is not a time of day (HH:MM)")
    return int(match[1]) * 60 + int(match[2])


@lru_cache(maxsize=256)
def parse_days(text: str) -> frozenset[str]:
    """``"mon-fri,sun"`` as a set of day names; raises ``ValueError`` when malformed."""
    days: set[str] = set()
    for part in text.lower().split(","):
        first, sep, last = (piece.strip()[:3] for piece in part.partition("-"))
        if first not in _DAYS or (sep and last not in _DAYS):
            raise ValueError(f"{part.strip()!r} is not a day or range of days (mon..sun)")
        if not sep:
            days.add(first)
            continue
        i, j = _DAYS.index(first), _DAYS.index(last)
        span = range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)]
        days.update(_DAYS[k] for k in span)
    return frozenset(days)


def _time_in(when: Any, windows: str) -> bool:
    text = when.get("time") if isinstance(when, dict) else when
    if not isinstance(text, str):
        return False
    minute = _minutes(text)
    for start, end in parse_windows(windows):
        inside = start <= minute < end if start <= end else minute >= start or minute < end
        if inside:
            return True
    return False


def _weekday_in(when: Any, days: str) -> bool:
    day = when.get("weekday") if isinstance(when, dict) else when
    return isinstance(day, str) and day.lower()[:3] in parse_days(days)


# -- business calendar ---------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays  # 70 ms to import: only when a calendar is asked for

    try:
        table = holidays.country_holidays(country.upper(), subdiv=subdivision, years=year)
    except NotImplementedError:
        where = country if subdivision is None else f"{country}/{subdivision}"
        raise ValueError(f"no public holidays are known for {where!r}") from None
    return frozenset(table)


def is_holiday(day: date, country: str, subdivision: str | None = None) -> bool:
    """True when ``day`` is a public holiday of ``country`` (ISO code, maybe a subdivision);
    raises ``ValueError`` for a country or subdivision the ``holidays`` package lacks."""
    return day in _holidays(country, subdivision, day.year)


def _moment(when: Any) -> tuple[date, int] | None:
    """The date and minute of the day of ``now`` or of ISO text (a date alone is midnight)."""
    if isinstance(when, dict):
        when = f"{when.get('date')}T{when.get('time')}"
    if not isinstance(when, str):
        return None
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return None
    return moment.date(), moment.hour * 60 + moment.minute


def _holiday(when: Any, country: str, *subdivision: str) -> bool:
    if len(subdivision) > 1:
        raise ValueError("holiday(now, country[, subdivision]) takes at most 3 arguments")
    if isinstance(when, dict):
        when = when.get("date")
    try:
        day = date.fromisoformat(when[:10]) if isinstance(when, str) else None
    except ValueError:
        day = None
    return day is not None and is_holiday(day, country, *subdivision)


@lru_cache(maxsize=256)
def parse_hours(text: str) -> tuple[tuple[frozenset[str], tuple[tuple[int, int], ...]], ...]:
    """``"mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"`` as (days, minute ranges)
    pairs; raises ``ValueError`` when malformed."""
    parts = []
    for part in text.split(";"):
        match = re.fullmatch(r"\s*(\S.*?)\s+(\d.*?)\s*", part)
        if not match:
            raise ValueError(f"opening hours {part.strip()!r} are not 'DAYS HH:MM-HH:MM,...'")
        parts.append((parse_days(match[1]), parse_windows(match[2])))
    return tuple(parts)


def _open_at(when: Any, hours: str, *country: str) -> bool:
    if len(country) > 1:
        raise ValueError("open_at(now, hours[, country]) takes at most 3 arguments")
    moment = _moment(when)
    if moment is None:
        return False
    day, minute = moment
    if country and is_holiday(day, country[0]):
        return False
    today, yesterday = _DAYS[day.weekday()], _DAYS[day.weekday() - 1]
    for days, windows in parse_hours(hours):
        for start, end in windows:
            if start < end:
                inside = today in days and start <= minute < end
            else:  # past midnight: the hours after it belong to the day before
                inside = (today in days and minute >= start) or (yesterday in days and minute < end)
            if inside:
                return True
    return False


# -- text and numbers -----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regex_match(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and _pattern(pattern).search(value) is not None


def _normalize_number(number: Any, *country: str) -> str | None:
    """Digits only, ``00`` as ``+``; with a country code, a national ``0...`` becomes ``+CC...``."""
    if number is None:
        return None
    text = re.sub(r"[\s.\-()/]", "", str(number))
    if text.startswith("00"):
        text = "+" + text[2:]
    if country and isinstance(country[0], str) and text.startswith("0"):
        text = "+" + country[0].lstrip("+") + text[1:]
    return text


def remote_number(event: Any) -> str | None:
    """The phone number of the other party of a call event (first participant)."""
    if not isinstance(event, dict):
        return None
    for field in ("participants", "addedParticipants", "modifiedParticipants"):
        parties = event.get(field)
        if isinstance(parties, list) and parties and isinstance(parties[0], dict):
            identity = parties[0].get("identity") or {}
            number = (identity.get("id") or {}).get("phoneNumber")
            return number if number is not None else parties[0].get("participantId")
    return None


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _upper(text: str | None) -> str | None:
    return None if text is None else text.upper()


# -- arithmetic and time arithmetic ---------------------------------------------------------------


def _add(*numbers: float) -> float:
    return sum(numbers)


def _sub(a: float, b: float) -> float:
    return a - b


def _mul(*numbers: float) -> float:
    product: float = 1
    for number in numbers:
        product *= number
    return product


def _div(a: float, b: float) -> float:
    if b == 0:
        raise ValueError("div(): division by zero")
    quotient = a / b
    return int(quotient) if quotient.is_integer() and isinstance(a, int) else quotient


def _mod(a: float, b: float) -> float:
    if b == 0:
        raise ValueError("mod(): division by zero")
    return a % b


def _round(number: float, *digits: float) -> float:
    places = int(digits[0]) if digits else 0
    return round(number, places) if places else round(number)


def _epoch(moment: Any) -> float | None:
    """Seconds since 1970 of ``now``, ISO text (a zone, or UTC) or a number of seconds."""
    if moment is None:
        return None
    if isinstance(moment, int | float) and not isinstance(moment, bool):
        return moment
    if isinstance(moment, dict):
        return moment.get("epoch")
    try:
        parsed = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{moment!r} is not an ISO date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _seconds_between(start: Any, end: Any) -> float | None:
    first, last = _epoch(start), _epoch(end)
    return None if first is None or last is None else last - first


def _add_seconds(moment: Any, seconds: float) -> str | None:
    """ISO text ``seconds`` after ``moment`` (in the zone of ``now`` or of the text)."""
    if moment is None:
        return None
    zone = UTC
    if isinstance(moment, dict):
        zone = datetime.fromisoformat(moment["iso"]).tzinfo or UTC
    elif isinstance(moment, str):
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        zone = parsed.tzinfo or UTC
    epoch = _epoch(moment)
    assert epoch is not None
    return datetime.fromtimestamp(epoch + seconds, zone).isoformat()


_STR_OR_NULL = ("string", "null")
_TIME = ("object", "string", "null")
_NUMBER = ("number",)
_MOMENT = ("object", "string", "number", "null")

BUILTIN_FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "time_in",
        _time_in,
        (_TIME, ("string",)),
        doc="time_in(now, '08:00-12:00,14:00-18:00'): inside a window (may wrap midnight)",
    ),
    FunctionSpec(
        "weekday_in",
        _weekday_in,
        (_TIME, ("string",)),
        doc="weekday_in(now, 'mon-fri'): the day is one of the listed days or ranges",
    ),
    FunctionSpec(
        "holiday",
        _holiday,
        (_TIME, ("string",)),
        variadic=True,
        doc="holiday(now, 'FR'[, subdivision]): a public holiday of that country (ISO code)",
    ),
    FunctionSpec(
        "open_at",
        _open_at,
        (_TIME, ("string",)),
        variadic=True,
        doc="open_at(now, 'mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00'[, 'FR']): "
        "inside the opening hours, and not a public holiday of the country when given",
    ),
    FunctionSpec(
        "regex_match",
        _regex_match,
        ((), ("string",)),
        doc="regex_match(value, pattern): a string value in which the pattern is found",
    ),
    FunctionSpec(
        "normalize_number",
        _normalize_number,
        ((),),
        variadic=True,
        doc="normalize_number(number[, country]): '01 40 00 00 01', '33' -> '+33140000001'",
    ),
    FunctionSpec(
        "remote_number",
        remote_number,
        ((),),
        doc="remote_number(event): the other party's phone number in a call event",
    ),
    FunctionSpec("lower", _lower, (_STR_OR_NULL,), doc="lower(text)"),
    FunctionSpec("add", _add, (_NUMBER, _NUMBER), variadic=True, doc="add(a, b, ...): a + b"),
    FunctionSpec("sub", _sub, (_NUMBER, _NUMBER), doc="sub(a, b): a - b"),
    FunctionSpec("mul", _mul, (_NUMBER, _NUMBER), variadic=True, doc="mul(a, b, ...): a * b"),
    FunctionSpec("div", _div, (_NUMBER, _NUMBER), doc="div(a, b): a / b (error when b is 0)"),
    FunctionSpec("mod", _mod, (_NUMBER, _NUMBER), doc="mod(a, b): the remainder of a / b"),
    FunctionSpec("round", _round, (_NUMBER, _NUMBER), variadic=True, doc="round(x[, digits])"),
    FunctionSpec(
        "epoch", _epoch, (_MOMENT,), doc="epoch(time): seconds since 1970 of now or ISO text"
    ),
    FunctionSpec(
        "seconds_between",
        _seconds_between,
        (_MOMENT, _MOMENT),
        doc="seconds_between(start, end): end - start in seconds (now, ISO text, epoch)",
    ),
    FunctionSpec(
        "add_seconds",
        _add_seconds,
        (_MOMENT, _NUMBER),
        doc="add_seconds(time, n): ISO text n seconds later (n < 0: earlier)",
    ),
    FunctionSpec("upper", _upper, (_STR_OR_NULL,), doc="upper(text)"),
)

"""The business calendar: holiday() and open_at(), in expressions and in flows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from o2g_flows.engine import load_text
from o2g_flows.engine.expressions import EvaluationError, Expression
from o2g_flows.engine.functions import is_holiday, parse_hours
from o2g_flows.engine.registry import Registry

TABLE = Registry.builtin().functions


def now(day: str, time: str = "10:00:00") -> dict[str, Any]:
    return {"date": day, "time": time}


def evaluate(source: str, **context: Any) -> Any:
    return Expression(source, TABLE).evaluate(context)


@pytest.mark.parametrize(
    ("day", "country", "expected"),
    [
        ("2025-04-21", "FR", True),  # Easter Monday
        ("2025-05-29", "FR", True),  # Ascension
        ("2025-07-14", "FR", True),
        ("2025-07-15", "FR", False),
        ("2025-07-04", "US", True),
        ("2025-07-14", "US", False),
        ("2025-10-03", "DE", True),
    ],
)
def test_holiday_knows_each_countrys_public_holidays(day: str, country: str, expected: bool):
    assert evaluate(f"holiday(now, '{country}')", now=now(day)) is expected
    assert evaluate(f"holiday('{day}', '{country}')") is expected


def test_holiday_takes_a_subdivision():
    assert evaluate("holiday('2025-12-26', 'FR')") is False
    assert evaluate("holiday('2025-12-26', 'FR', '57')") is True  # Moselle
    assert is_holiday(date(2025, 1, 6), "DE", "BY") and not is_holiday(date(2025, 1, 6), "DE")


def test_holiday_of_an_unknown_country_is_an_evaluation_error():
    with pytest.raises(EvaluationError, match="no public holidays are known for 'XX'"):
        evaluate("holiday(now, 'XX')", now=now("2025-01-01"))
    with pytest.raises(EvaluationError, match="'FR/ZZ'"):
        evaluate("holiday(now, 'FR', 'ZZ')", now=now("2025-01-01"))


def test_holiday_of_something_that_is_no_date_is_false():
    assert evaluate("holiday(`null`, 'FR')") is False
    assert evaluate("holiday('soon', 'FR')") is False


HOURS = "mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"


@pytest.mark.parametrize(
    ("day", "time", "expected"),
    [
        ("2025-01-06", "08:00:00", True),  # Monday, opening
        ("2025-01-06", "12:30:00", False),  # lunch
        ("2025-01-06", "17:59:00", True),
        ("2025-01-06", "18:00:00", False),  # closing is exclusive
        ("2025-01-11", "10:00:00", True),  # Saturday morning
        ("2025-01-11", "15:00:00", False),
        ("2025-01-12", "10:00:00", False),  # Sunday
    ],
)
def test_open_at_reads_days_and_windows(day: str, time: str, expected: bool):
    assert evaluate(f"open_at(now, '{HOURS}')", now=now(day, time)) is expected


def test_open_at_is_closed_on_the_countrys_holidays():
    easter_monday = now("2025-04-21")
    assert evaluate(f"open_at(now, '{HOURS}')", now=easter_monday) is True
    assert evaluate(f"open_at(now, '{HOURS}', 'FR')", now=easter_monday) is False
    assert evaluate(f"open_at('2025-04-22T10:00', '{HOURS}', 'FR')") is True


def test_open_at_hours_past_midnight_belong_to_the_day_they_start():
    hours = "fri 22:00-02:00"
    assert evaluate(f"open_at('2025-01-10T23:00', '{hours}')") is True  # Friday
    assert evaluate(f"open_at('2025-01-11T01:00', '{hours}')") is True  # Saturday night
    assert evaluate(f"open_at('2025-01-11T23:00', '{hours}')") is False
    assert evaluate(f"open_at('2025-01-10T01:00', '{hours}')") is False  # Thursday night


def test_malformed_hours_are_errors():
    assert parse_hours("mon, wed-fri 08:00-12:00, 14:00-18:00")[0][0] == {
        "mon",
        "wed",
        "thu",
        "fri",
    }
    for bad in ("mon-fri", "08:00-12:00", "someday 08:00-12:00", "mon 8h-12h"):
        with pytest.raises(ValueError):
            parse_hours(bad)
    with pytest.raises(EvaluationError):
        evaluate("open_at(now, 'mon-fri')", now=now("2025-01-06"))


def test_calendar_functions_are_checked_at_load():
    flow = 'flow: f\non: OnCallCreated\nwhen: "{}"\ndo: [answer]\n'
    assert load_text(flow.format("holiday(now, 'FR') || open_at(now, 'mon 08:00-09:00')")).ok
    result = load_text(flow.format("holiday(now)"), "f.yaml")
    assert [str(e) for e in result.errors] == [
        "f.yaml:3:8: bad expression: holiday() takes at least 2 arguments, got 1"
    ]

"""Schedules in a running engine: delivered to their flow, kept across restarts, reloaded."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from o2g_flows.engine import Observer, SqliteStore, load_text
from o2g_flows.engine.testing import OfflineEngine
from o2g_flows.engine.timers import VirtualClock

PARIS = ZoneInfo("Europe/Paris")

EVENING = """\
flow: evening
users: [alice]
schedule:
  - {name: closing, cron: "0 18 * * mon-fri", timezone: Europe/Paris,
     do: [{dnd: {user: alice}}, {log: "closing at ${event.time}, ${event.late}s late"}]}
"""


def paris(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


class Node(OfflineEngine):
    """An engine in Paris, on a state file if given, its clock shared across restarts."""

    def __init__(self, clock: VirtualClock, text: str, state: Path | None = None) -> None:
        result = load_text(text, "flow.yaml")
        assert not result.errors, result.report()
        super().__init__(
            result.flows,
            clock=clock,
            store=SqliteStore(state) if state else None,
            timezone="Europe/Paris",
            schedule_horizon=float("inf"),
        )

    def done(self) -> list[tuple[str, Any]]:
        """``(action, message or user)`` of the actions run."""
        return [(name, args.get("message", args.get("user"))) for name, args in self.actions]


async def test_a_schedule_reaches_its_flow_whatever_its_users_at_local_time():
    node = Node(VirtualClock(paris("2025-01-06T17:00:00")), EVENING)
    await node.engine.start()
    assert node.engine.users() == set()  # a schedule subscribes to nobody's events
    await node.run_until(paris("2025-01-06T17:59:59"))
    assert node.done() == []
    await node.run_until(paris("2025-01-06T18:00:00"))
    assert node.done() == [
        ("dnd", "alice"),
        ("log", "closing at 2025-01-06T18:00:00+01:00, 0s late"),
    ]
    await node.engine.stop()


async def test_a_firing_missed_while_stopped_fires_at_start_within_the_grace(tmp_path):
    clock = VirtualClock(paris("2025-01-06T17:00:00"))
    first = Node(clock, EVENING, tmp_path / "state.sqlite")
    await first.engine.start()
    await first.engine.stop()

    clock.now = paris("2025-01-06T18:02:00")  # stopped across 18:00, restarted 2 min later
    second = Node(clock, EVENING, tmp_path / "state.sqlite")
    await second.engine.start()
    await second.run_until(clock.now)
    assert second.done() == [
        ("dnd", "alice"),
        ("log", "closing at 2025-01-06T18:00:00+01:00, 120s late"),
    ]
    await second.engine.stop()

    third = Node(clock, EVENING, tmp_path / "state.sqlite")  # fired once: not again
    await third.engine.start()
    await third.run_until(clock.now)
    assert third.done() == []
    await third.engine.stop()


async def test_a_firing_missed_beyond_the_grace_is_reported_not_fired(tmp_path, caplog):
    clock = VirtualClock(paris("2025-01-06T17:00:00"))
    first = Node(clock, EVENING, tmp_path / "state.sqlite")
    await first.engine.start()
    await first.engine.stop()

    clock.now = paris("2025-01-06T19:00:00")
    second = Node(clock, EVENING, tmp_path / "state.sqlite")
    notes: list[str] = []

    class Notes(Observer):
        def flow_note(self, at: float, flow: str, text: str) -> None:
            notes.append(f"{flow}: {text}")

    second.engine.observe.add(Notes())
    await second.engine.start()
    await second.run_until(clock.now)
    assert second.done() == []
    assert notes == [
        "evening: schedule closing missed at 2025-01-06T18:00:00+01:00, beyond the 300s grace"
    ]
    await second.run_until(paris("2025-01-07T18:00:00"))  # the next one fires as usual
    assert second.done()[0] == ("dnd", "alice")
    await second.engine.stop()


async def test_a_reloaded_schedule_is_armed_again_and_start_entries_fire_on_load():
    node = Node(VirtualClock(paris("2025-01-06T17:00:00")), EVENING)
    await node.engine.start()
    changed = load_text(
        EVENING.replace("0 18 * * mon-fri", "30 17 * * mon-fri")
        + '  - {name: loaded, start: true, do: [{log: "loaded"}]}\n',
        "flow.yaml",
    ).flows
    assert node.engine.update(changed).changed == ["evening"]
    await node.run_until(paris("2025-01-06T17:30:00"))
    assert [message for _, message in node.done()] == [
        "loaded",
        "alice",
        "closing at 2025-01-06T17:30:00+01:00, 0s late",
    ]
    await node.run_until(paris("2025-01-06T18:30:00"))  # the old 18:00 is gone
    assert len(node.done()) == 3
    await node.engine.stop()

"""The rules behind cancelling, postponing and duplicating events, and picking one of a channel's
events by its day, with chosen clocks on every backend."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot import outbox
from bot.db import Database, unit_of_work
from bot.events import rules as events
from bot.events.rules import EventChangeRefused, FormProblems, WhichEvent
from bot.models import Delivery, DeliveryStatus, Event, EventStatus, Reminder, ReminderStatus
from bot.slack.messages import notice
from tests.cast import CHANNEL, DAY, at


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 11, 10), date(2026, 12, 8)),  # 2nd Tuesday → 2nd Tuesday
    (date(2026, 12, 29), date(2027, 1, 26)),  # a 5th Tuesday → January's last, across the year
    (date(2024, 2, 26), date(2024, 3, 25)),  # the seed's 4th Monday
    (date(2031, 1, 31), date(2031, 2, 28)),  # a 5th Friday → February's last
])
def test_the_same_weekday_of_the_month_next_month(day: date, expected: date) -> None:
    assert events.same_weekday_next_month(day) == expected
    assert expected.weekday() == day.weekday()


def test_a_duplicate_of_an_old_event_defaults_to_the_next_one_still_to_come(database: Database, event_id: int) -> None:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)  # the seed on Monday 3 March 2031 (1st Monday), 14:30
        assert events.next_in_series(event, now=at("09:00")) == date(2031, 4, 7)
        assert events.next_in_series(event, now=at("09:00", date(2031, 6, 2))) == date(2031, 6, 2)
        assert events.next_in_series(event, now=at("15:00", date(2031, 6, 2))) == date(2031, 7, 7)


def test_cancelling_stops_the_reminders_and_unsent_posts_and_frees_the_channel(
    database: Database, event_id: int
) -> None:
    now = at("10:00")
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        outbox.notice(session, recipient=CHANNEL, message=notice("Coming soon"), now=now,
                      workspace_id=event.workspace_id, event_id=event.id)
        assert events.cancel_event(session, event=event, now=now) == 1
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        assert event.status == EventStatus.CANCELLED
        assert set(session.scalars(select(Reminder.status).where(Reminder.event_id == event_id))) == {
            ReminderStatus.CANCELLED}
        assert set(session.scalars(select(Delivery.status).where(Delivery.event_id == event_id))) == {
            DeliveryStatus.SKIPPED}
        assert events.current_event(session, workspace_id=event.workspace_id, channel_id=CHANNEL) is None
        # Passed over as "the latest", still found by its day; cancelling twice is refused.
        assert events.latest_event(session, workspace_id=event.workspace_id, channel_id=CHANNEL) is None
        assert events.event_to_read(session, workspace_id=event.workspace_id, channel_id=CHANNEL, on=DAY,
                                    usage="/event report").id == event_id
        with pytest.raises(EventChangeRefused, match="is cancelled, so it cannot be cancelled"):
            events.cancel_event(session, event=event, now=now)


def test_postponing_refuses_a_past_day_and_the_same_times_and_changes_nothing(
    database: Database, event_id: int
) -> None:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        was = event.starts_at
        with pytest.raises(FormProblems) as passed:
            events.postpone_event(session, event=event, date="2031-03-01", start="14:30", end="16:00", now=at("10:00"))
        assert "passed" in passed.value.problems["date"]
        with pytest.raises(FormProblems, match="planned already"):
            events.postpone_event(session, event=event, date=DAY.isoformat(), start="14:30", end="16:00",
                                  now=at("10:00"))
        moved = events.postpone_event(session, event=event, date=(DAY + timedelta(days=7)).isoformat(),
                                      start="14:30", end="16:00", now=at("10:00"))
        assert moved.starts_at == was + timedelta(days=7)
        event.status = EventStatus.LIVE
        with pytest.raises(EventChangeRefused, match="under way"):
            events.postpone_event(session, event=event, date=(DAY + timedelta(days=14)).isoformat(),
                                  start="14:30", end="16:00", now=at("10:00"))


def test_a_day_after_a_command_is_read_strictly() -> None:
    assert events.split_day("all 2026-11-12") == (date(2026, 11, 12), "all")
    assert events.split_day("answered") == (None, "answered")
    for bad in ("12/11/2026", "2026-13-40", "2026-11-12 2026-11-13"):
        with pytest.raises(WhichEvent):
            events.split_day(bad)

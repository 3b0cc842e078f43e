"""Someone removes eventbot from the workspace while a reminder is waiting: against `eventbot serve`
(with its scheduler) and the local Slack double."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import db
from bot.db import Database
from bot.models import EventStatus, ReminderStatus
from tests.apprunner import RunningApp, migrate, start_eventbot
from tests.reminder_world import add_reminder, attendee_ids, double, make_event, populate, reminder_status
from tests.slackdouble import SlackDouble


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    slack = double().start()
    yield slack
    assert slack.internal_errors == []
    slack.stop()


@pytest.fixture
def sessions_for(database_url: str) -> Iterator[Database]:
    migrate(database_url)
    engine = db.make_engine(database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def app(slack: SlackDouble, database_url: str, sessions_for: Database, tmp_path: Path) -> Iterator[RunningApp]:
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_after_an_uninstall_the_waiting_reminder_never_goes_out(
    slack: SlackDouble, sessions_for: Database, app: RunningApp
) -> None:
    people = attendee_ids(3)
    populate(slack, people)
    event_id = make_event(sessions_for, attendees=people, ends_at=now() - timedelta(minutes=5),
                          status=EventStatus.CLOSED)
    due = now() + timedelta(seconds=6)
    reminder_id = add_reminder(sessions_for, event_id, due_at=due)
    # Bolt's start-up check and the scheduler's first tick have asked who the bot is: from here on
    # every Web API call would be about the reminder.
    slack.wait_for_calls("auth.test", 2, timeout=20)

    answers = slack.uninstall_app()
    calls_before = len(slack.calls)
    assert [answer.status for answer in answers] == [200, 200], [answer.body for answer in answers]
    uninstalled = slack.deliveries[-1].payload
    assert uninstalled["event"]["type"] == "app_uninstalled"
    # Slack retries an event it thinks was not acknowledged: the app answers and does nothing new.
    assert slack.send_event(uninstalled["event"], event_id=uninstalled["event_id"], retry_num=1).status == 200
    slack.wait_for(lambda: reminder_status(sessions_for, reminder_id) == ReminderStatus.CANCELLED, timeout=10)

    # Past the due time by several of the scheduler's 2-second reminder ticks.
    while now() < due + timedelta(seconds=8):
        time.sleep(0.2)
    assert [call.method for call in slack.calls[calls_before:]] == []
    assert {person: slack.dms(person) for person in people} == {person: [] for person in people}
    assert reminder_status(sessions_for, reminder_id) == ReminderStatus.CANCELLED
    log = app.log()
    assert "reminders cancelled: 1" in log
    assert "Traceback" not in log, log

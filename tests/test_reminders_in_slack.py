"""Evaluation reminders tried as organisers and attendees would, against `eventbot serve` and
`eventbot worker` processes and the local Slack double."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import db
from bot.db import Database, unit_of_work
from bot.models import Delivery, DeliveryStatus, EventStatus, Person, ReminderStatus
from tests.apprunner import RunningApp, migrate, start_eventbot
from tests.conftest import BACKENDS
from tests.reminder_world import (
    CHANNEL,
    ORGANISER,
    add_reminder,
    attendee_ids,
    double,
    event_of,
    make_event,
    populate,
    reminder_status,
    rows,
)
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
def processes() -> Iterator[list[RunningApp]]:
    started: list[RunningApp] = []
    yield started
    for process in started:
        process.stop()


def now() -> datetime:
    return datetime.now(timezone.utc)


def worker(slack: SlackDouble, database_url: str, tmp_path: Path, processes: list[RunningApp]) -> RunningApp:
    running = start_eventbot("worker", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path,
                             wait_for_health=False)
    processes.append(running)
    deadline = time.monotonic() + 30
    while "worker started" not in running.log():
        assert running.process.poll() is None and time.monotonic() < deadline, running.log()
        time.sleep(0.05)
    return running


def dms(slack: SlackDouble, people: list[str]) -> dict[str, int]:
    return {person: len(slack.dms(person)) for person in people}


def slash(slack: SlackDouble, text: str, user: str = ORGANISER) -> str:
    before = len(slack.response_url_posts)
    assert slack.send_slash_command("/event", text, user_id=user, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=15)
    reply = slack.response_url_posts[-1]
    return reply["text"] + "\n" + str(reply.get("blocks") or "")


def known_an_hour_ago(sessions_for: Database, workspace_id: int, slack_user_id: str) -> None:
    """Mark a person's profile as looked up an hour ago. The worker, already running, may be enrolling the
    channel's members at this moment and so may have made the row first, or make it meanwhile."""
    for attempt in range(3):
        try:
            with unit_of_work(sessions_for) as session:
                person = session.scalars(select(Person).where(
                    Person.workspace_id == workspace_id, Person.slack_user_id == slack_user_id)).one_or_none()
                if person is None:
                    person = Person(workspace_id=workspace_id, slack_user_id=slack_user_id)
                    session.add(person)
                person.timezone = "Europe/London"
                person.profile_refreshed_at = now() - timedelta(hours=1)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def test_a_reminder_made_in_the_modal_goes_out_from_a_separate_worker_and_a_completion_stops_the_next(
    slack: SlackDouble, database_url: str, sessions_for: Database, tmp_path: Path,
    processes: list[RunningApp],
) -> None:
    people = attendee_ids(6)
    zones = {people[1]: "America/New_York", people[2]: "Asia/Kolkata"}
    slack.add_user("U0ANOTHERBOT", "anotherbot", is_bot=True)
    populate(slack, people, zones=zones, extra_members=("U0ANOTHERBOT",))
    app = start_eventbot("serve", "--no-scheduler", api_url=slack.api_url, database_url=database_url,
                         log_dir=tmp_path)
    processes.append(app)
    slack.set_app_url(app.events_url)
    worker(slack, database_url, tmp_path, processes)

    close = now() + timedelta(seconds=4)
    # The session is under way (the worker starts it); it closes in four seconds.
    event_id = make_event(sessions_for, attendees=[], ends_at=close, status=EventStatus.SCHEDULED)
    gone = people[5]
    # Looked up an hour ago, deactivated since: the reminder will try, and Slack will refuse.
    known_an_hour_ago(sessions_for, event_of(sessions_for, event_id).workspace_id, gone)
    slack.deactivate_user(gone)

    # An attendee may not schedule reminders; the organiser may.
    assert "Only a chair or organiser" in slash(slack, "remind", user=people[0])
    assert slack.send_slash_command("/event", "remind", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=10)
    view = slack.open_views(ORGANISER)[-1]
    bad = slack.submit_view(view["id"], user_id=ORGANISER, values={
        "when": {"value": "after the coffee"}, "audience": {"value": "dm"}, "text": {"value": "Go {here}"}})
    assert set(bad.json["errors"]) == {"when", "text"}
    good = slack.submit_view(view["id"], user_id=ORGANISER, values={
        "when": {"value": "at close"}, "audience": {"value": "dm"},
        "only_incomplete": {"value": ["only_incomplete"]},
        "text": {"value": "Thank you for coming! The evaluation form: {form_url}"}})
    assert good.status == 200 and good.json is None, good.body
    slack.wait_for(lambda: slack.ephemeral(channel_id=CHANNEL, user_id=ORGANISER), timeout=10)
    assert "Reminder scheduled" in slack.ephemeral(channel_id=CHANNEL, user_id=ORGANISER)[-1]["text"]
    assert now() < close  # made before it was due
    # A second reminder, as a programme file would have it, a few seconds after the first.
    second_due = close + timedelta(seconds=5)
    second = add_reminder(sessions_for, event_id, due_at=second_due, when_spec="at close, again",
                          text="A last reminder: {form_url}".replace("{form_url}", "https://forms.example.org/e"))

    # The organiser who runs the event is not reminded of its evaluation (not included).
    reached = [p for p in people if p != gone]
    slack.wait_for(lambda: all(n >= 1 for n in dms(slack, reached).values()), timeout=45)
    assert dms(slack, [ORGANISER]) == {ORGANISER: 0}
    assert now() - close < timedelta(seconds=30)
    assert all(n == 1 for n in dms(slack, reached).values())
    assert dms(slack, ["U0ANOTHERBOT", gone]) == {"U0ANOTHERBOT": 0, gone: 0}
    first_dm = slack.dms(people[0])[0]
    assert first_dm["text"].startswith("Thank you for coming! The evaluation form: https://forms.example.org/")

    # people[0] has done the form and says so.
    slack.send_block_action(user_id=people[0], action_id="evaluation_completed", channel_id=slack.im_channel(people[0]),
                            message_ts=first_dm["ts"])
    slack.wait_for(lambda: "Thank you: you said you completed" in str(slack.dms(people[0])[0]["blocks"]), timeout=10)
    assert "evaluation_completed" not in str(slack.dms(people[0])[0]["blocks"])  # no button left to press

    others = [p for p in reached if p != people[0]]
    slack.wait_for(lambda: all(n == 2 for n in dms(slack, others).values()), timeout=45)
    assert now() - second_due < timedelta(seconds=30)
    slack.wait_for(lambda: reminder_status(sessions_for, second) == ReminderStatus.SENT, timeout=10)
    assert len(slack.dms(people[0])) == 1  # no later reminder to someone who completed it

    listing = slash(slack, "reminders")
    assert "*1* of" in listing  # one has completed the form
    assert "could not be delivered" in listing and f"<@{gone}>" in listing and "channel_not_found" in listing
    failed = [r for r in rows(sessions_for) if r.status == DeliveryStatus.FAILED]
    assert {r.recipient_slack_id for r in failed} == {gone} and all(r.attempts == 1 for r in failed)
    assert len([c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == gone]) == 2  # once each

    # A third, for tomorrow morning: changed, then cancelled, from the list's buttons.
    assert slack.send_slash_command("/event", "remind", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=10)
    view = slack.open_views(ORGANISER)[-1]
    assert slack.submit_view(view["id"], user_id=ORGANISER, values={
        "when": {"value": "next day 09:00"}, "audience": {"value": "channel"},
        "text": {"value": "Morning all: {form_url}"}}).json is None
    listing = slash(slack, "reminders")
    assert "post in the channel" in listing and "“next day 09:00”" in listing
    mine = slack.ephemeral(channel_id=CHANNEL, user_id=ORGANISER)[-1]

    def click(action_id: str, message: dict) -> None:
        """Press that button on the newest reminder (the highest id) in the list."""
        buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == action_id]
        newest = max(buttons, key=lambda button: int(button["value"]))
        assert slack.send_block_action(user_id=ORGANISER, action_id=action_id, value=newest["value"],
                                       channel_id=CHANNEL, message_ts=message["ts"]).status == 200

    click("reminder_change", mine)
    slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=10)
    change = slack.open_views(ORGANISER)[-1]
    assert change["title"]["text"] == "Change reminder"
    assert slack.submit_view(change["id"], user_id=ORGANISER, values={
        "when": {"value": "next day 09:30"}, "audience": {"value": "channel"},
        "text": {"value": "Morning all: {form_url}"}}).json is None
    listing = slash(slack, "reminders")
    assert "“next day 09:30”" in listing and "“next day 09:00”" not in listing
    mine = slack.ephemeral(channel_id=CHANNEL, user_id=ORGANISER)[-1]
    click("reminder_cancel", mine)
    slack.wait_for(lambda: "Cancelled" in str(slack.ephemeral(channel_id=CHANNEL, user_id=ORGANISER)[-1]["blocks"]),
                   timeout=10)


def test_kill_9_in_the_middle_of_a_fan_out_then_a_restart_leaves_everyone_exactly_one_dm(
    slack: SlackDouble, database_url: str, sessions_for: Database, tmp_path: Path,
    processes: list[RunningApp],
) -> None:
    people = attendee_ids(40)
    populate(slack, people)
    ended = now() - timedelta(hours=7)
    event_id = make_event(sessions_for, attendees=people, ends_at=ended)
    # Due at the close, seven hours ago, while nothing ran: past its six hours' grace.
    missed = add_reminder(sessions_for, event_id, due_at=ended)
    # Due now: a rate-limited fan-out that the worker is killed in the middle of.
    current = add_reminder(sessions_for, event_id, due_at=now(), when_spec="2031-01-01 10:00")
    slack.rate_limit("chat.postMessage", per="workspace", calls=10, period=1)

    first = worker(slack, database_url, tmp_path, processes)
    slack.wait_for(lambda: sum(dms(slack, people).values()) >= 20, timeout=30)
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    at_kill = sum(dms(slack, people).values())
    assert at_kill < len(people), "the fan-out finished before the kill; the test proves nothing"

    worker(slack, database_url, tmp_path, processes)
    slack.wait_for(lambda: all(n >= 1 for n in dms(slack, people).values()), timeout=40)
    slack.wait_for(lambda: reminder_status(sessions_for, current) == ReminderStatus.SENT, timeout=10)
    time.sleep(2.2)  # another delivery tick: still nothing twice
    counts = dms(slack, people)
    assert set(counts.values()) == {1}, {p: n for p, n in counts.items() if n != 1}
    assert all(r.status == DeliveryStatus.SENT for r in rows(sessions_for, current))

    assert reminder_status(sessions_for, missed) == ReminderStatus.MISSED
    assert rows(sessions_for, missed) == []
    [notice] = slack.dms(ORGANISER)
    assert "was not sent" in notice["blocks"][0]["text"]["text"]


if "postgresql" in BACKENDS:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_two_workers_on_postgresql_send_no_duplicate(
        slack: SlackDouble, database_url: str, sessions_for: Database, tmp_path: Path,
        processes: list[RunningApp],
    ) -> None:
        people = attendee_ids(150)
        populate(slack, people)
        event_id = make_event(sessions_for, attendees=people, ends_at=now() - timedelta(minutes=5))
        slack.rate_limit("chat.postMessage", per="workspace", calls=50, period=1)
        workers = [start_eventbot("worker", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path,
                                  wait_for_health=False) for _ in range(2)]
        processes.extend(workers)
        slack.wait_for(lambda: all("worker started" in w.log() for w in workers), timeout=30)
        reminder_id = add_reminder(sessions_for, event_id, due_at=now())

        slack.wait_for(lambda: all(n >= 1 for n in dms(slack, people).values()), timeout=40)
        slack.wait_for(lambda: reminder_status(sessions_for, reminder_id) == ReminderStatus.SENT, timeout=10)
        time.sleep(2.2)
        assert set(dms(slack, people).values()) == {1}
        # One of them runs the scheduled jobs; the other stands by, its sender running too.
        standby = ["another scheduler is running" in w.log() for w in workers]
        assert sorted(standby) == [False, True]
        sent_by = [sum(int(n) for n in re.findall(r"DeliveryRun\(sent=(\d+)", w.log())) for w in workers]
        # The after-the-event job may send a post of its own (the event ended five minutes ago), so
        # the workers' runs add up to every row sent, each once, of which the reminder has one a person.
        with unit_of_work(sessions_for) as session:
            sent_rows = session.scalar(select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.SENT))
        assert len(rows(sessions_for, reminder_id)) == len(people)
        # Both workers run a sender, but which of them claims the rows is a matter of timing (a pass
        # claims a batch at once): what must hold is that every row was sent once, by one of them.
        assert sum(sent_by) == sent_rows, (sent_by, sent_rows)

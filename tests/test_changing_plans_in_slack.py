"""An organiser changes an event's plans over time, in Slack: cancels it (after confirming), postpones it
to a new day, or duplicates the last one for the same weekday next month."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot import db
from bot.events.blocks import CANCEL_ACTION
from bot.models import (
    AgendaSegment,
    Delivery,
    DeliveryStatus,
    Event,
    EventRole,
    EventStatus,
    ReflectionPrompt,
    Reminder,
    ReminderStatus,
    Role,
)
from tests.apprunner import RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, ORGANISER, seed_programme
from tests.slackdouble import SlackDouble
from tests.test_running_a_session import channel_texts, run_cli

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    programme = seed_programme(date.today() + timedelta(days=2), tmp_path)
    result = run_cli("event", "import", str(programme), "--channel", CHANNEL, slack=slack, database_url=database_url,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


def say(slack: SlackDouble, text: str, user: str = ORGANISER) -> str:
    """`/event <text>`: what the person is shown, in the ack or after it (or "" when a form opened)."""
    before, views = len(slack.response_url_posts), len(slack.calls_to("views.open"))
    response = slack.send_slash_command("/event", text, user_id=user, channel_id=CHANNEL)
    assert response.status == 200
    if response.json and response.json.get("text"):
        return response.json["text"]
    slack.wait_for(lambda: len(slack.response_url_posts) > before or len(slack.calls_to("views.open")) > views,
                   timeout=15)
    if len(slack.response_url_posts) > before:
        reply = slack.response_url_posts[-1]
        return reply["text"] + "\n" + json.dumps(reply.get("blocks") or [])
    return ""


def form(slack: SlackDouble, user: str = ORGANISER) -> dict[str, Any]:
    return slack.open_views(user)[-1]


def submit(slack: SlackDouble, view: dict[str, Any], values: dict[str, str], user: str = ORGANISER) -> dict | None:
    """Press the form's button: the field errors shown, or None when it closed."""
    response = slack.submit_view(view["id"], user_id=user, values={k: {"value": v} for k, v in values.items()})
    assert response.status == 200 and response.slack_error is None
    if response.json:
        assert response.json["response_action"] == "errors"
        return response.json["errors"]
    return None


def sessions(database_url: str) -> Any:
    engine = db.make_engine(database_url)
    return engine, db.make_session_factory(engine)


def test_an_organiser_cancels_after_confirming_and_the_channel_is_told_once(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    assert "takes nothing after it" in say(slack, "cancel now")
    assert "Only an organiser" in say(slack, "cancel", user=CHAIR)
    asked = say(slack, "cancel")
    assert "cannot be undone" in asked and CANCEL_ACTION in asked
    question = slack.wait_for(lambda: [m for m in slack.ephemeral(CHANNEL, ORGANISER)
                                       if CANCEL_ACTION in json.dumps(m.get("blocks"))], timeout=10)[-1]
    engine, factory = sessions(database_url)
    try:
        with db.unit_of_work(factory) as session:  # nothing changed by asking
            assert session.scalars(select(Event.status)).one() == EventStatus.SCHEDULED
        value = json.loads(question["blocks"][-1]["elements"][0]["value"])

        before = len(slack.response_url_posts)
        assert slack.send_block_action(user_id=ORGANISER, action_id=CANCEL_ACTION, value=json.dumps(value),
                                       channel_id=CHANNEL, message_ts=question["ts"]).status == 200
        done = slack.wait_for(lambda: slack.response_url_posts[before:], timeout=15)[-1]
        assert "is cancelled" in done["text"]
        slack.wait_for(lambda: any("is cancelled" in t for t in channel_texts(slack)), timeout=15)
        slack.wait_for(lambda: [m for m in slack.dms(ORGANISER) if "cancelled" in m["text"]], timeout=15)

        # The question is replaced by the answer, so it cannot be pressed twice; asking again finds nothing.
        assert CANCEL_ACTION not in json.dumps([m.get("blocks") for m in slack.ephemeral(CHANNEL, ORGANISER)
                                                if m["ts"] == question["ts"]])
        assert "There is no event coming up" in say(slack, "cancel")
        assert sum("is cancelled" in t for t in channel_texts(slack)) == 1

        with db.unit_of_work(factory) as session:
            event = session.scalars(select(Event)).one()
            assert event.status == EventStatus.CANCELLED
            assert set(session.scalars(select(Reminder.status))) == {ReminderStatus.CANCELLED}
            assert session.scalar(select(func.count(Delivery.id)).where(
                Delivery.event_id == event.id, Delivery.status == DeliveryStatus.PENDING)) == 0
        # No longer the channel's event for live commands; the channel is free for another.
        assert "no event" in say(slack, "status", user=CHAIR).lower()
        assert "There is no event coming up" in say(slack, "postpone")
    finally:
        engine.dispose()
    assert "Traceback" not in app.log()


def test_an_organiser_postpones_and_everything_planned_moves_with_it(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    engine, factory = sessions(database_url)
    try:
        with db.unit_of_work(factory) as session:
            event = session.scalars(select(Event)).one()
            was = event.starts_at
            segments_before = list(session.scalars(select(AgendaSegment.scheduled_at).order_by(AgendaSegment.position)))
        assert "Only an organiser" in say(slack, "postpone", user=CHAIR)
        assert say(slack, "postpone") == ""
        view = form(slack)
        new_day = (was + timedelta(days=7)).astimezone(LONDON).date()
        errors = submit(slack, view, {"date": "2001-01-01", "start": "10:00", "end": "11:30"})
        assert errors and "passed" in errors["date"]
        errors = submit(slack, view, {"date": new_day.isoformat(), "start": "10:00", "end": "09:00"})
        assert errors and "after the start" in errors["end"]
        with db.unit_of_work(factory) as session:  # bad input changed nothing
            assert session.scalars(select(Event.starts_at)).one() == was
        assert submit(slack, view, {"date": new_day.isoformat(), "start": "10:00", "end": "11:30"}) is None

        slack.wait_for(lambda: any("has moved" in t for t in channel_texts(slack)), timeout=15)
        with db.unit_of_work(factory) as session:
            event = session.scalars(select(Event)).one()
            local = event.starts_at.astimezone(LONDON)
            assert (local.date(), local.strftime("%H:%M")) == (new_day, "10:00")
            shift = event.starts_at - was
            after = list(session.scalars(select(AgendaSegment.scheduled_at).order_by(AgendaSegment.position)))
            assert after == [moment + shift for moment in segments_before]

        # Once the session is under way it keeps its day.
        assert "Now:" not in " ".join(channel_texts(slack))
        say(slack, "start", user=CHAIR)
        slack.wait_for(lambda: any(t.startswith("Now:") for t in channel_texts(slack)), timeout=15)
        assert "under way" in say(slack, "postpone")
    finally:
        engine.dispose()
    assert "Traceback" not in app.log()


def test_an_organiser_duplicates_the_last_event_for_the_same_weekday_next_month(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    assert "has not happened yet" in say(slack, "duplicate")  # one coming event per channel
    say(slack, "start", user=CHAIR)
    slack.wait_for(lambda: any(t.startswith("Now:") for t in channel_texts(slack)), timeout=15)
    say(slack, "close", user=CHAIR)
    assert "Only an organiser" in say(slack, "duplicate", user=ATTENDEES[0])

    engine, factory = sessions(database_url)
    try:
        with db.unit_of_work(factory) as session:
            source = session.scalars(select(Event)).one()
            source_id, source_start = source.id, source.starts_at.astimezone(LONDON)
            source_counts = (len(source.segments), len(source.prompts),
                             session.scalar(select(func.count(Reminder.id)).where(Reminder.event_id == source.id)))
            team = {(r.person_id, r.role) for r in source.roles if r.role != Role.ATTENDEE}
        assert say(slack, "duplicate") == ""
        view = form(slack)
        offered = next(b["element"]["initial_date"] for b in view["blocks"] if b.get("block_id") == "date")
        offered_day = date.fromisoformat(offered)
        assert offered_day.weekday() == source_start.weekday()
        assert (offered_day.day - 1) // 7 == (source_start.day - 1) // 7 or offered_day.day > 21
        assert (offered_day.year * 12 + offered_day.month) - (source_start.year * 12 + source_start.month) == 1
        assert "of the month" in json.dumps(view["blocks"])

        start, end = source_start.strftime("%H:%M"), "16:00"
        errors = submit(slack, view, {"title": " ", "date": offered, "start": start, "end": end})
        assert errors and "title" in errors
        assert submit(slack, view, {"title": "Provider collaboratives, part 2", "date": offered, "start": start,
                                    "end": end}) is None
        slack.wait_for(lambda: [m for m in slack.ephemeral(CHANNEL, ORGANISER) if "same programme" in m["text"]],
                       timeout=15)
        with db.unit_of_work(factory) as session:
            copy = session.scalars(select(Event).where(Event.id != source_id)).one()
            assert copy.status == EventStatus.SCHEDULED and copy.channel_id == CHANNEL
            local = copy.starts_at.astimezone(LONDON)
            assert (local.date(), local.strftime("%H:%M")) == (offered_day, start)
            assert (len(copy.segments), len(copy.prompts), session.scalar(select(func.count(Reminder.id)).where(
                Reminder.event_id == copy.id))) == source_counts
            assert team <= {(r.person_id, r.role) for r in copy.roles}
            assert not [r for r in copy.roles if r.role == Role.ATTENDEE]
            first = session.scalars(select(AgendaSegment).where(AgendaSegment.event_id == copy.id)
                                    .order_by(AgendaSegment.position)).first()
            assert first is not None and first.scheduled_at.astimezone(LONDON).strftime("%H:%M") == start
            assert session.scalars(select(ReflectionPrompt).where(ReflectionPrompt.event_id == copy.id,
                                                                  ReflectionPrompt.posted_at.is_not(None))).all() == []
            # The old event is as it was.
            assert session.get_one(Event, source_id).status == EventStatus.CLOSED
            assert session.scalar(select(func.count(EventRole.id)).where(EventRole.event_id == source_id)) > len(team)
        assert datetime.now(timezone.utc) < copy.starts_at
    finally:
        engine.dispose()
    assert "Traceback" not in app.log()


def test_an_organisers_open_home_follows_a_postponement_without_being_opened_again(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    from bot.slack.text import local_date_and_time
    from tests.test_home_in_slack import home_text, open_home, wait_for_home

    open_home(slack, ORGANISER)
    engine, factory = sessions(database_url)
    try:
        with db.unit_of_work(factory) as session:
            event = session.scalars(select(Event)).one()
            was = local_date_and_time(event.starts_at, timezone=event.timezone)
            new_day = (event.starts_at + timedelta(days=7)).astimezone(LONDON).date()
        assert was in home_text(slack, ORGANISER)
        assert say(slack, "postpone") == ""
        assert submit(slack, form(slack), {"date": new_day.isoformat(), "start": "10:00", "end": "11:30"}) is None
        with db.unit_of_work(factory) as session:
            event = session.scalars(select(Event)).one()
            now_at = local_date_and_time(event.starts_at, timezone=event.timezone)
        wait_for_home(slack, ORGANISER, lambda text: now_at in text and was not in text)
    finally:
        engine.dispose()

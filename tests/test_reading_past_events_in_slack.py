"""A channel's past events stay readable after the next one is set up there: digests, reports and
follow-ups take a day (`/event report 2026-11-12`), or list the channel's events when the one coming
has not happened yet, while live commands keep acting on the coming one."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import db
from bot.models import Event, EventStatus, Question
from tests.apprunner import RunningApp
from tests.cast import ATTENDEES, CHAIR, ORGANISER
from tests.slackdouble import SlackDouble
from tests.test_changing_plans_in_slack import app, form, say, sessions, submit  # noqa: F401 - `app` is a fixture
from tests.test_qa_in_slack import ask
from tests.test_running_a_session import channel_texts


def test_the_last_event_stays_readable_by_its_day_once_the_next_is_set_up(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    say(slack, "start", user=CHAIR)
    slack.wait_for(lambda: any(t.startswith("Now:") for t in channel_texts(slack)), timeout=15)
    assert "posted" in ask(slack, ATTENDEES[0], "Who owns the improvement data?")["text"]
    say(slack, "close", user=CHAIR)
    engine, factory = sessions(database_url)
    try:
        with db.unit_of_work(factory) as session:
            first = session.scalars(select(Event)).one()
            first_id, first_title = first.id, first.title
        # The follow-up ledger opens after the close (a scheduler job).
        slack.wait_for(lambda: "improvement data" in say(slack, "followups", user=CHAIR), timeout=30)
        assert f"Report: {first_title}" in say(slack, "report", user=CHAIR)

        # The next one is set up in the same channel.
        assert say(slack, "duplicate") == ""
        view = form(slack)
        day = next(b["element"]["initial_date"] for b in view["blocks"] if b.get("block_id") == "date")
        assert submit(slack, view, {"title": "The next session", "date": day, "start": "14:30", "end": "16:00"}) is None
        with db.unit_of_work(factory) as session:
            when = session.get_one(Event, first_id).starts_at
        first_date = when.date().isoformat()  # London is on GMT or BST: 14:30 is the same day in UTC

        # Without a day, reading commands list the channel's events instead of an empty digest.
        listed = say(slack, "report", user=CHAIR)
        assert "has not happened yet" in listed and first_date in listed and "The next session" in listed
        assert "takes nothing" not in listed
        # With the day, the old event's report, digest, reflections and ledger.
        assert f"Report: {first_title}" in say(slack, f"report {first_date}", user=CHAIR)
        assert "People who asked a question: *1*" in say(slack, f"report {first_date}", user=CHAIR)
        assert "improvement data" in say(slack, f"questions all {first_date}", user=CHAIR)
        assert "improvement data" in say(slack, f"followups {first_date}", user=CHAIR)
        assert first_title.split(":")[0] in say(slack, f"reflections {first_date}", user=CHAIR)

        # Bad input is answered and changes nothing.
        assert "not a day eventbot can read" in say(slack, "report 12/11/2026", user=CHAIR)
        no_event = say(slack, "report 2001-01-01", user=CHAIR)
        assert "no event on 2001-01-01" in no_event and first_date in no_event
        assert "takes only a day" in say(slack, f"report {first_date} please", user=CHAIR)
        assert "Which questions" in say(slack, f"questions everything {first_date}", user=CHAIR)
        assert "Only a chair or organiser" in say(slack, f"report {first_date}", user=ATTENDEES[1])

        # Live commands act on the coming event; the old one's data is untouched.
        assert "The next session" in say(slack, "status", user=ORGANISER)
        with db.unit_of_work(factory) as session:
            assert session.get_one(Event, first_id).status == EventStatus.CLOSED
            assert session.scalar(select(func.count(Question.id)).where(Question.event_id == first_id)) == 1
    finally:
        engine.dispose()
    assert "Traceback" not in app.log()

"""A person's data as they meet it in Slack: `/event privacy` shows what is held (with the whole as
a file in their DM), and `/event forget-me` asks first, then erases them and redraws their card."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import db
from bot.models import Event, EventRole, Person, Question, Role
from bot.privacy.blocks import FORGET_ME_ACTION
from tests import reminder_world as world
from tests.apprunner import RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHANNEL, seed_programme
from tests.slackdouble import SlackDouble
from tests.test_qa_in_slack import ask, button, cards, click
from tests.test_running_a_session import chair, channel_texts, run_cli

ASKER = ATTENDEES[0]


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    programme = seed_programme(date.today() + timedelta(days=2), tmp_path)
    result = run_cli("event", "import", str(programme), "--channel", CHANNEL, slack=slack, database_url=database_url,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    chair(slack, "start")
    slack.wait_for(lambda: "Now: Welcome and introduction" in channel_texts(slack), timeout=15)
    yield running
    running.stop()


def say(slack: SlackDouble, text: str, user: str = ASKER) -> str:
    """`/event <text>` from a person: what they are shown, answered at once or after the ack."""
    before = len(slack.response_url_posts)
    response = slack.send_slash_command("/event", text, user_id=user, channel_id=CHANNEL)
    assert response.status == 200
    if response.json and response.json.get("text"):
        return response.json["text"] + "\n" + json.dumps(response.json.get("blocks") or [])
    reply = slack.wait_for(lambda: slack.response_url_posts[before:], timeout=15)[-1]
    return reply["text"] + "\n" + json.dumps(reply.get("blocks") or [])


def card_of(slack: SlackDouble, words: str) -> dict:
    return slack.wait_for(lambda: next((c for c in cards(slack) if words in json.dumps(c["blocks"])), None),
                          timeout=10)


def test_a_person_sees_their_data_then_is_forgotten_after_confirming(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    assert "posted" in ask(slack, ASKER, "How did Wye Valley free up time for improvement?")["text"]
    assert "posted" in ask(slack, ATTENDEES[1], "Who owns the improvement data?")["text"]
    mine = card_of(slack, "Wye Valley")
    assert ASKER in json.dumps(mine["blocks"])  # credited by name
    theirs = card_of(slack, "Who owns the improvement data")
    click(slack, ASKER, theirs, "question_upvote")
    slack.wait_for(lambda: "Upvote (1)" in json.dumps(card_of(slack, "Who owns the improvement data")["blocks"]),
                   timeout=10)

    shown = say(slack, "privacy")
    assert "questions: 1" in shown and "votes: 1" in shown and "Wye Valley free up time" in shown
    upload = slack.wait_for(lambda: [f for f in slack.uploaded_files if f.get("filename") == "eventbot-my-data.csv"],
                            timeout=10)[-1]
    assert upload["channel_id"] == slack.im_channel(ASKER)
    assert b"How did Wye Valley free up time" in upload["content"]
    # Bad input changes nothing and says so.
    assert "takes nothing after it" in say(slack, "privacy everything")
    assert "Nothing was erased" in say(slack, "forget-me please")

    asked = say(slack, "forget-me")
    assert "cannot be undone" in asked and FORGET_ME_ACTION in asked
    question = slack.wait_for(lambda: [m for m in slack.ephemeral(CHANNEL, ASKER)
                                       if FORGET_ME_ACTION in json.dumps(m.get("blocks"))], timeout=10)[-1]
    before = len(slack.response_url_posts)
    response = slack.send_block_action(user_id=ASKER, action_id=FORGET_ME_ACTION,
                                       value=button(question, FORGET_ME_ACTION)["value"], channel_id=CHANNEL,
                                       message_ts=question["ts"])
    assert response.status == 200
    done = slack.wait_for(lambda: slack.response_url_posts[before:], timeout=15)[-1]
    assert "forgotten you" in done["text"]
    assert "votes deleted: 1" in json.dumps(done["blocks"])
    assert "questions kept only as anonymous text: 1" in json.dumps(done["blocks"])

    # Her card is redrawn without her name, and her vote is gone from the other card.
    slack.wait_for(lambda: ASKER not in json.dumps(card_of(slack, "Wye Valley")["blocks"]), timeout=20)
    assert "anonymous" in json.dumps(card_of(slack, "Wye Valley")["blocks"]).lower()
    engine = db.make_engine(database_url)
    try:
        with db.make_session_factory(engine)() as session:
            assert session.scalars(select(Person).where(Person.slack_user_id == ASKER)).first() is None
            assert {q.asker_person_id for q in session.scalars(select(Question).where(
                Question.text.like("How did Wye Valley%")))} == {None}
    finally:
        engine.dispose()
    # Asking again, she is told nothing is held; the chair's digest still lists her question.
    assert "holds nothing about you" in say(slack, "privacy")
    assert "Wye Valley" in chair(slack, "questions all")
    # Typed confirmation works as the button does.
    typed = say(slack, "forget-me confirm", user=ATTENDEES[1])
    assert "forgotten you" in typed and "questions kept only as anonymous text: 1" in typed
    assert "Traceback" not in app.log()


def test_the_running_scheduler_purges_an_event_past_its_retention_and_tells_its_organiser(
    database_url: str, tmp_path: Path
) -> None:
    slack = world.double().start()
    try:
        people = world.attendee_ids(3)
        world.populate(slack, people)
        migrate(database_url)
        engine = db.make_engine(database_url)
        sessions = db.make_session_factory(engine)
        closed = datetime.now(timezone.utc) - timedelta(days=181)
        expired = world.make_event(sessions, attendees=people, ends_at=closed, title="Spring <webinar> & more")
        recent = world.make_event(sessions, attendees=people, ends_at=datetime.now(timezone.utc) - timedelta(days=10),
                                  title="Recent webinar")
        with db.unit_of_work(sessions) as session:
            session.get_one(Event, recent).channel_id = "C0RECENT"
        running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
        try:
            told = slack.wait_for(lambda: [m for m in slack.dms(world.ORGANISER)
                                           if "retention period" in m["text"] + json.dumps(m["blocks"])], timeout=30)
            assert len(told) == 1 and "Spring &lt;webinar&gt; &amp; more" in json.dumps(told[0]["blocks"])
            with db.unit_of_work(sessions) as session:
                assert session.get_one(Event, expired).personal_data_purged_at is not None
                assert session.get_one(Event, recent).personal_data_purged_at is None
                assert session.scalars(select(EventRole).where(EventRole.event_id == expired,
                                                               EventRole.role == Role.ATTENDEE)).all() == []
            assert "purged the personal data of event" in running.log() and "Traceback" not in running.log()
        finally:
            running.stop()
            engine.dispose()
    finally:
        slack.stop()

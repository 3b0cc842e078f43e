"""An organiser sends a programme file to eventbot's DM: checked and imported as the command line
does (the same messages), or made the programme of the channel's event; the export goes back in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import db
from bot.db import unit_of_work
from bot.models import AgendaSegment, Event, Reminder, ReminderStatus
from tests.apprunner import BOT_USER_ID, RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHANNEL, DAY, ORGANISER, seed_programme_text
from tests.slackdouble import SlackDouble


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


def send_file(slack: SlackDouble, user: str, content: str, filename: str = "programme.toml") -> str:
    """Share a file in the user's DM with eventbot; eventbot's answer there."""
    dm = slack.im_channel(user)
    answers = len([m for m in slack.messages(dm) if m.get("user") == BOT_USER_ID or m.get("bot_id")])
    slack.user_uploads(user, dm, filename=filename, content=content.encode())
    replies = slack.wait_for(lambda: [m for m in slack.messages(dm) if m.get("user") == BOT_USER_ID or m.get("bot_id")]
                             [answers:], timeout=15)
    return replies[0]["text"]


def with_channel(text: str) -> str:
    return text.replace("[event]\n", f'[event]\nchannel = "{CHANNEL}"\n', 1)


def titles(database_url: str) -> list[str]:
    engine = db.make_engine(database_url)
    try:
        with unit_of_work(db.make_session_factory(engine)) as session:
            return [s.title for s in session.query(AgendaSegment).order_by(AgendaSegment.position)]
    finally:
        engine.dispose()


def test_a_file_sent_to_eventbot_is_imported_replaced_and_refused_as_the_command_line_would(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    seed = with_channel(seed_programme_text(DAY))
    # Someone who may not set events up: nothing is imported.
    answer = send_file(slack, ATTENDEES[0], seed)
    assert "only the people who may set events up can import a programme" in answer
    assert titles(database_url) == []

    answer = send_file(slack, ORGANISER, seed)
    assert answer.startswith(f"eventbot: imported 'Provider collaboratives: improving equitably' into channel {CHANNEL} "
                             "(event 1)\n  minara.chowdhury@example.org is U0MINARA1")
    assert titles(database_url)[1] == "Presentation one: Delivering the Equity agenda through Quality Improvement"

    # The export, changed and sent back, replaces the programme of the event in that channel.
    assert slack.send_slash_command("/event", "programme export", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    exported = slack.wait_for(lambda: slack.uploaded_files, timeout=10)[-1]["content"].decode()
    changed = exported.replace('title = "Interactive Q&A"', 'title = "Questions from the room"')
    changed = re.sub(r'\n\[\[reminders\]\]\nwhen = "at close"[^\[]*', "\n", changed)
    answer = send_file(slack, ORGANISER, changed)
    assert answer.startswith("eventbot: the programme of 'Provider collaboratives: improving equitably' in channel "
                             f"{CHANNEL} is now the file's (event 1)")
    assert "Questions from the room" in titles(database_url)
    engine = db.make_engine(database_url)
    try:
        with unit_of_work(db.make_session_factory(engine)) as session:
            reminders = session.query(Reminder).order_by(Reminder.id).all()
            assert [(r.when_spec, r.status) for r in reminders if r.status != ReminderStatus.CANCELLED] == [
                ("next day 10:00", ReminderStatus.SCHEDULED)]
            assert session.query(Event).count() == 1
    finally:
        engine.dispose()

    # A file with problems: the command line's report, and nothing changed.
    before = titles(database_url)
    broken = changed.replace('start = "15:05"', 'start = "16:05"').replace('kind = "qa"', 'kind = "quiz"')
    answer = send_file(slack, ORGANISER, broken, filename="broken.toml")
    assert answer.startswith("3 problems in the programme file:\n  broken.toml: agenda[3].start: 16:05 is outside")
    assert "broken.toml: agenda[4].kind: unknown value 'quiz'" in answer
    assert titles(database_url) == before
    # A file for another time is refused rather than half taken.
    answer = send_file(slack, ORGANISER, changed.replace('end = "16:00"', 'end = "16:30"'))
    assert "change the event with `/event setup` first" in answer
    assert titles(database_url) == before

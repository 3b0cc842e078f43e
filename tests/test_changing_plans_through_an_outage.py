"""An organiser postpones, cancels or sets up an event while the database is down: they are told it
was not saved, nothing half-done stays behind, and once the database is back the same form works, once.

PostgreSQL is stopped for 10 s. SQLite, an embedded file, cannot be stopped: another connection
holds its write lock for 40 s, so eventbot's transactions wait out their 30 s busy timeout and
fail, long after Slack stopped waiting for the form's answer (Slack then shows the form's own
error and keeps it open).
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import select

from bot import db
from bot.events.blocks import CANCEL_ACTION
from bot.models import Event, EventStatus, Reminder
from tests.apprunner import RunningApp
from tests.cast import CHANNEL, ORGANISER
from tests.databases import database_outage
from tests.slackdouble import SlackDouble
from tests.test_changing_plans_in_slack import LONDON, app, form, say, sessions, submit  # noqa: F401 - fixture
from tests.test_running_a_session import channel_texts

NOT_SAVED = "not answering, so nothing was saved"


def test_postponing_and_cancelling_while_the_database_is_down_are_refused_and_then_work_once(
    app: RunningApp, slack: SlackDouble, database_url: str  # noqa: F811 - the fixture
) -> None:
    sqlite = database_url.startswith("sqlite")
    engine, factory = sessions(database_url)
    try:
        with db.unit_of_work(factory) as session:
            event = session.scalars(select(Event)).one()
            was = event.starts_at
            reminders_before = sorted(session.scalars(select(Reminder.due_at)))
        new_day = (was + timedelta(days=7)).astimezone(LONDON).date().isoformat()
        moved = {"date": new_day, "start": "10:00", "end": "11:30"}

        assert say(slack, "postpone") == ""
        view = form(slack)
        say(slack, "cancel")
        question = slack.wait_for(lambda: [m for m in slack.ephemeral(CHANNEL, ORGANISER)
                                           if CANCEL_ACTION in json.dumps(m.get("blocks"))], timeout=10)[-1]
        value = question["blocks"][-1]["elements"][0]["value"]
        replies = len(slack.response_url_posts)

        with database_outage(database_url, seconds=40 if sqlite else 10) as outage:
            answers: dict[str, object] = {}
            clicks = [
                threading.Thread(target=lambda: answers.setdefault("postpone", slack.submit_view(
                    view["id"], user_id=ORGANISER, values={k: {"value": v} for k, v in moved.items()}))),
                threading.Thread(target=lambda: answers.setdefault("cancel", slack.send_block_action(
                    user_id=ORGANISER, action_id=CANCEL_ACTION, value=value, channel_id=CHANNEL,
                    message_ts=question["ts"]))),
            ]
            for click in clicks:
                click.start()
            for click in clicks:
                click.join()
            postponing = answers["postpone"]
            if sqlite:
                # Slack gave up waiting after 3 s: it shows its own error on the form and keeps it open.
                assert postponing.status != 200  # type: ignore[attr-defined]
            else:
                assert postponing.json["response_action"] == "errors"  # type: ignore[attr-defined]
                assert NOT_SAVED in postponing.json["errors"]["date"]  # type: ignore[attr-defined]
            # The cancel button was acknowledged at once; what became of it comes through its response URL.
            told = slack.wait_for(lambda: slack.response_url_posts[replies:], timeout=outage.remaining() + 40)
            assert NOT_SAVED in told[-1]["text"]

        with db.unit_of_work(factory) as session:  # nothing half-done
            event = session.scalars(select(Event)).one()
            assert (event.starts_at, event.status) == (was, EventStatus.SCHEDULED)
            assert sorted(session.scalars(select(Reminder.due_at))) == reminders_before
        assert not any("has moved" in t or "is cancelled" in t for t in channel_texts(slack))

        # The same form, submitted again now the database is back, saves once and tells the channel once.
        assert submit(slack, view, moved) is None
        slack.wait_for(lambda: any("has moved" in t for t in channel_texts(slack)), timeout=15)
        with db.unit_of_work(factory) as session:
            event = session.scalars(select(Event)).one()
            assert event.starts_at.astimezone(LONDON).date().isoformat() == new_day
            assert all(after > before for after, before in zip(
                sorted(session.scalars(select(Reminder.due_at))), reminders_before, strict=True))
        assert sum("has moved" in t for t in channel_texts(slack)) == 1
    finally:
        engine.dispose()
    assert "Traceback" not in app.log()

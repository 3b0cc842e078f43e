"""No token or signing secret in a log line: a whole session run in Slack at LOG_LEVEL=DEBUG (start,
questions, votes, a DM reminder, the close, a person's data), then every line the app wrote is searched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot import db
from bot.logs import Redacting
from bot.models import Event, Workspace
from bot.workspaces import ensure_workspace
from tests.apprunner import BOT_TOKEN, SIGNING_SECRET, RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHANNEL, seed_programme
from tests.reminder_world import add_reminder
from tests.slackdouble import SlackDouble
from tests.test_privacy_in_slack import say
from tests.test_qa_in_slack import ask, cards, click
from tests.test_running_a_session import chair, channel_texts, run_cli

TOKEN_KEY = Fernet.generate_key().decode()
# A token stored for another workspace's OAuth install: at rest, and never in a log line either.
STORED_TOKEN = "xoxb-9999-8888-anotherworkspacestoredtoken"


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningApp]:
    migrate(database_url)
    monkeypatch.setenv("EVENTBOT_TOKEN_KEY", TOKEN_KEY)
    engine = db.make_engine(database_url)
    with db.unit_of_work(db.make_session_factory(engine)) as session:
        ensure_workspace(session, team_id="T0OTHERWS").bot_token = STORED_TOKEN
    engine.dispose()
    programme = seed_programme(date.today() + timedelta(days=2), tmp_path)
    result = run_cli("event", "import", str(programme), "--channel", CHANNEL, slack=slack, database_url=database_url,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path,
                             LOG_LEVEL="DEBUG", EVENTBOT_TOKEN_KEY=TOKEN_KEY)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


def test_a_whole_session_at_debug_logs_no_token_no_secret(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    chair(slack, "start")
    slack.wait_for(lambda: "Now: Welcome and introduction" in channel_texts(slack), timeout=15)
    assert "posted" in ask(slack, ATTENDEES[0], "How did Wye Valley free up time for improvement?")["text"]
    card = slack.wait_for(lambda: cards(slack), timeout=10)[0]
    click(slack, ATTENDEES[1], card, "question_upvote")
    slack.wait_for(lambda: "Upvote (1)" in json.dumps(cards(slack)[0]["blocks"]), timeout=10)
    assert "is closed" in chair(slack, "close")
    engine = db.make_engine(database_url)
    sessions = db.make_session_factory(engine)
    with db.unit_of_work(sessions) as session:
        event_id = session.scalars(select(Event.id)).one()
        stored = session.scalars(select(Workspace).where(Workspace.team_id == "T0OTHERWS")).one().bot_token
    assert stored == STORED_TOKEN  # the app's key opens it
    add_reminder(sessions, event_id, due_at=datetime.now(timezone.utc))
    engine.dispose()
    slack.wait_for(lambda: slack.dms(ATTENDEES[0]), timeout=20)
    assert "What eventbot holds about you" in say(slack, "privacy", user=ATTENDEES[0])
    app.stop()

    log = app.log()
    assert "DEBUG" in log and "chat.postMessage" in log  # it really logged at DEBUG, Slack calls included
    for secret in (BOT_TOKEN, SIGNING_SECRET, STORED_TOKEN, TOKEN_KEY, BOT_TOKEN.split("-", 1)[1]):
        assert secret not in log, f"a secret is in the log: {[line for line in log.splitlines() if secret in line][:3]}"
    assert "Traceback" not in log


def test_the_log_guard_masks_tokens_and_secrets_a_library_might_print(caplog: pytest.LogCaptureFixture) -> None:
    guard = Redacting([SIGNING_SECRET, TOKEN_KEY])
    caplog.handler.addFilter(guard)
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        logger.debug("request body: %s", {"token": BOT_TOKEN, "refresh": "xoxe.xoxb-1-abc", "app": "xapp-1-A1-2-x"})
        logger.warning("secret %s and key %s", SIGNING_SECRET, TOKEN_KEY)
        try:
            raise RuntimeError(f"failed with {STORED_TOKEN}")
        except RuntimeError:
            logger.exception("it broke")
    shown = caplog.text + "".join(record.exc_text or "" for record in caplog.records)
    for secret in (BOT_TOKEN, "xoxe.xoxb-1-abc", "xapp-1-A1-2-x", SIGNING_SECRET, TOKEN_KEY, STORED_TOKEN):
        assert secret not in shown
    assert shown.count("(redacted)") >= 6

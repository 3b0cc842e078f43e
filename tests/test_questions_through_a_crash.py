"""A question `/ask` acknowledged is stored once, and its asker told, even when the web process that
took it is killed before storing it (issue #9: kill -9 at any moment leaves every acknowledged
item posted exactly once; the load test lost two such questions with the process it killed).

The process that dies is a real one: it journals the question as `/ask` does between the ack and
the commit, then kills itself with SIGKILL. The running web process on the same host finds its
journal and stores what it held.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot import db
from bot.db import unit_of_work
from bot.models import Question, Workspace
from tests.apprunner import RunningApp
from tests.cast import ATTENDEES, CHANNEL
from tests.slackdouble import SlackDouble
from tests.test_faults import database, live_event, processes, slack  # noqa: F401  (fixtures)
from tests.test_redraws_across_processes import cards

ROOT = Path(__file__).resolve().parent.parent

# Takes a question as `/ask` does after its ack, then dies: before storing it, or just after.
DYING = """
import os, signal, sys
from bot import db
from bot.clock import utcnow
from bot.questions import journal
from bot.questions import slack as questions_slack
from bot.questions.intake import AskIntake

url, workspace_id, channel, asker, text, response_url, when = sys.argv[1:]
database = db.make_session_factory(db.make_engine(url))
intake = AskIntake(database, journal.default_directory(url) / "asks")
intake.start(take_over=False)  # this process only takes the question; the running one takes over
with intake.taking(workspace_id=int(workspace_id), channel_id=channel, asker_slack_id=asker, text=text,
                   response_url=response_url):
    if when == "after storing":
        questions_slack.ask(database, workspace_id=int(workspace_id), channel_id=channel, asker_slack_id=asker,
                            text=text, now=utcnow())
    os.kill(os.getpid(), signal.SIGKILL)
"""


def die_holding(database_url: str, workspace_id: int, asker: str, text: str, response_url: str, when: str) -> None:
    dying = subprocess.run([sys.executable, "-c", DYING, database_url, str(workspace_id), CHANNEL, asker, text,
                            response_url, when], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert dying.returncode == -9, dying.stderr


def stored(database: db.Database, text: str) -> int:  # noqa: F811
    with unit_of_work(database) as session:
        return session.scalar(select(func.count(Question.id)).where(Question.text == text)) or 0


def test_questions_a_killed_process_acknowledged_are_stored_once_and_their_askers_told(
        slack: SlackDouble, database_url: str, database: db.Database,  # noqa: F811
        tmp_path: Path, processes: list[RunningApp]) -> None:  # noqa: F811
    app = live_event(slack, database_url, tmp_path, processes)
    with unit_of_work(database) as session:
        workspace_id = session.scalars(select(Workspace.id)).one()

    lost = "Asked as the process died: is it kept?"
    kept = "Stored just before the process died: is it stored twice?"
    replies = len(slack.response_url_posts)
    urls = {text: slack.new_response_url(channel_id=CHANNEL, user_id=asker)
            for text, asker in ((lost, ATTENDEES[0]), (kept, ATTENDEES[1]))}
    die_holding(database_url, workspace_id, ATTENDEES[0], lost, urls[lost], "before storing")
    die_holding(database_url, workspace_id, ATTENDEES[1], kept, urls[kept], "after storing")

    # The live web process looks at the journals every few seconds.
    slack.wait_for(lambda: stored(database, lost) == 1, timeout=30)
    # Each asker is told once, through their command's response URL (the double's record of posts
    # to response URLs does not keep the URL: what each is told tells them apart).
    told = slack.wait_for(lambda: [p["text"] for p in slack.response_url_posts[replies:]]
                          if len(slack.response_url_posts) - replies >= 2 else None, timeout=30)
    assert sorted("posted in the channel" in text for text in told) == [False, True], told
    assert any("Your question is stored: eventbot was restarting" in text for text in told)
    slack.wait_for(lambda: {c["text"] for c in cards(slack).values()} >= {f"Question: {lost}", f"Question: {kept}"},
                   timeout=30)
    assert stored(database, lost) == stored(database, kept) == 1
    assert sum(1 for c in cards(slack).values() if c["text"] in (f"Question: {lost}", f"Question: {kept}")) == 2
    assert "stored 1 acknowledged questions" in app.log() and "Traceback" not in app.log()

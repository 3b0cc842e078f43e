"""After the event, as people meet it in Slack: the close hands open questions to their presenters,
who answer from their DM, and the asker hears back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.apprunner import RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, seed_programme
from tests.slackdouble import SlackDouble
from tests.test_qa_in_slack import ask, cards
from tests.test_running_a_session import chair, channel_texts, run_cli


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


def test_a_presenter_answers_from_the_dm_the_close_sent_them(app: RunningApp, slack: SlackDouble) -> None:
    asked = ask(slack, ATTENDEES[0], "How did Wye Valley free up time for improvement?")
    assert "posted" in asked["text"]
    slack.wait_for(lambda: cards(slack), timeout=10)
    # Asked of nobody in particular: after the close it is the chairs' to answer.
    assert "is closed" in chair(slack, "close")
    listing = slack.wait_for(lambda: next((m for m in slack.dms(CHAIR)
                                           if "question_answer_in_thread" in json.dumps(m["blocks"])), None), timeout=20)
    assert "How did Wye Valley free up time" in json.dumps(listing["blocks"])

    slack.send_block_action(user_id=CHAIR, action_id="question_answer_in_thread", channel_id=slack.im_channel(CHAIR),
                            message_ts=listing["ts"])
    view = slack.wait_for(lambda: slack.open_views(CHAIR), timeout=10)[-1]
    assert slack.submit_view(view["id"], user_id=CHAIR, values={"answer": {
        "value": "By protecting one afternoon a week for the improvement team."}}).status == 200
    told = slack.wait_for(lambda: [m for m in slack.dms(ATTENDEES[0]) if "answered" in m["text"]], timeout=15)[-1]
    assert "protecting one afternoon a week" in json.dumps(told["blocks"])
    card = cards(slack)[0]
    replies = slack.wait_for(lambda: slack.replies(CHANNEL, card["ts"]), timeout=10)
    assert "protecting one afternoon a week" in json.dumps(replies[-1]["blocks"])
    # With every follow-up answered, the channel hears how the questions went.
    close_out = slack.wait_for(lambda: [t for t in channel_texts(slack) if "answered" in t.lower()
                                        and t.startswith("Your questions")], timeout=20)
    assert close_out
    ledger = chair(slack, "followups")
    assert "0 open" in ledger and "1 answered" in ledger

"""What people type, through the running app and the Slack double: long and invisible questions,
dismissing one at its limit, and reflections replied in a thread and sent to the channel too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.questions.rules import MAX_REASON_LENGTH
from bot.slack.text import escape
from tests.apprunner import RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, seed_programme
from tests.slackdouble import SlackDouble
from tests.test_qa_in_slack import ask as ask_and_hear
from tests.test_qa_in_slack import button, card_text, cards
from tests.test_running_a_session import chair, channel_texts, prompt_ts, run_cli
from tests.test_texts import markup


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


def ask(slack: SlackDouble, user: str, text: str) -> str:
    """What the asker is told: a refusal in the ack, or the confirmation that follows the save."""
    return ask_and_hear(slack, user, text).get("text", "")


def test_long_and_invisible_questions_are_refused_and_one_at_the_limit_can_be_dismissed(
    app: RunningApp, slack: SlackDouble
) -> None:
    refusal = ask(slack, ATTENDEES[0], "&" * 700)
    assert "Your question is too long once & < > are counted as Slack shows them" in refusal
    assert "3500 characters" in refusal and "1000 or fewer" in refusal
    assert "empty" in ask(slack, ATTENDEES[0], "\u200b\u2060\ufeff\u00ad")
    assert cards(slack) == []

    assert "posted in the channel" in ask(slack, ATTENDEES[0], "&" * 200)  # 1,000 characters as Slack shows it
    card = slack.wait_for(lambda: cards(slack), timeout=10)[0]
    assert escape("&" * 200) in card_text(card)

    slack.send_block_action(user_id=CHAIR, action_id="question_more", channel_id=CHANNEL, message_ts=card["ts"],
                            selected_option=next(o["value"] for o in button(card, "question_more")["options"]
                                                 if o["value"].startswith("dismiss:")))
    view = slack.wait_for(lambda: slack.open_views(CHAIR), timeout=10)[-1]
    reason = markup(MAX_REASON_LENGTH)
    response = slack.submit_view(view["id"], user_id=CHAIR, values={"reason": {"value": reason}})
    assert response.ok and response.json is None, response.body
    slack.wait_for(lambda: "Removed by a chair" in card_text(slack.message(CHANNEL, card["ts"])), timeout=10)
    slack.wait_for(lambda: any(escape(reason) in m["text"] for m in slack.dms(ATTENDEES[0])), timeout=10)


def test_a_reply_sent_to_the_channel_too_is_one_reflection_that_follows_edits_and_deletion(
    app: RunningApp, slack: SlackDouble
) -> None:
    chair(slack, "prompt improvement")
    prompt = prompt_ts(slack, "improvement")

    def digest() -> str:
        chair(slack, "reflections")
        return json.dumps(slack.response_url_posts[-1]["blocks"])

    reply = slack.user_posts(ATTENDEES[3], CHANNEL, "Small tests of change", thread_ts=prompt,
                             also_send_to_channel=True)
    # Slack delivered it as a broadcast and then as "changed" with the same text: still one reflection.
    slack.wait_for(lambda: "Small tests of change" in digest(), timeout=20)
    assert "*Improvement* (1)" in digest()

    slack.user_edits(ATTENDEES[3], CHANNEL, reply["ts"], "Small tests of change, run often")
    slack.wait_for(lambda: "Small tests of change, run often" in digest(), timeout=20)
    assert "*Improvement* (1)" in digest()

    slack.user_deletes(ATTENDEES[3], CHANNEL, reply["ts"])
    slack.wait_for(lambda: "*Improvement* (0)" in digest(), timeout=20)
    assert "Small tests of change" not in digest()


def test_a_reply_edited_down_to_nothing_visible_leaves_the_digest(app: RunningApp, slack: SlackDouble) -> None:
    chair(slack, "prompt equity")
    prompt = prompt_ts(slack, "equity")

    def digest() -> str:
        chair(slack, "reflections")
        return json.dumps(slack.response_url_posts[-1]["blocks"])

    reply = slack.user_posts(ATTENDEES[2], CHANNEL, "Who is missing from the room?", thread_ts=prompt)
    slack.wait_for(lambda: "Who is missing from the room?" in digest(), timeout=20)
    # Only a zero-width space left (as when the words are cut and a file kept): taken back, as a deletion is.
    slack.user_edits(ATTENDEES[2], CHANNEL, reply["ts"], "\u200b")
    slack.wait_for(lambda: "*Equity* (0)" in digest(), timeout=20)
    assert "Who is missing" not in digest()

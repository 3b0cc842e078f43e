"""Upvoting in Slack: each click is acked at once, and once the vote is written the voter is told
privately that it counts (the first time), or that it was taken back (every time). (A refused click, on a question answered since the card
was drawn, is told why through the same path: `tests/test_questions.py` covers the reasons.)"""

from __future__ import annotations

import time

from tests.apprunner import RunningApp
from tests.cast import ATTENDEES, CHANNEL
from tests.slackdouble import SlackDouble
from tests.test_qa_in_slack import app, ask, cards, click, moderate  # noqa: F401 - `app` is the fixture

VOTER = ATTENDEES[3]


def told(slack: SlackDouble, before: int) -> str:
    return slack.wait_for(lambda: slack.ephemeral(CHANNEL, VOTER)[before:], timeout=10)[-1]["text"]


def test_a_voter_is_told_privately_whether_their_vote_counts(app: RunningApp, slack: SlackDouble) -> None:
    ask(slack, ATTENDEES[0], "How do we scale?")
    card = slack.wait_for(lambda: cards(slack), timeout=10)[0]

    before = len(slack.ephemeral(CHANNEL, VOTER))
    started = time.monotonic()
    click(slack, VOTER, card, "question_upvote")
    assert time.monotonic() - started < 2.0  # the ack does not wait for the write or the confirmation
    assert "Your vote counts" in told(slack, before)
    slack.wait_for(lambda: "Upvote (1)" in str(cards(slack)[0]["blocks"]), timeout=15)
    assert not [m for m in slack.ephemeral(CHANNEL, ATTENDEES[4])]  # only the voter is told

    time.sleep(2.2)  # past the double-click window: a second click takes the vote back
    before = len(slack.ephemeral(CHANNEL, VOTER))
    click(slack, VOTER, card, "question_upvote")
    assert "taken back" in told(slack, before)
    slack.wait_for(lambda: "Upvote (1)" not in str(cards(slack)[0]["blocks"]), timeout=15)

    # Voting again, and on another question: it counts, and they are not told so a second time.
    ask(slack, ATTENDEES[1], "What would the patients say?")
    slack.wait_for(lambda: len(cards(slack)) == 2, timeout=10)
    before = len(slack.ephemeral(CHANNEL, VOTER))
    for each in cards(slack):
        time.sleep(2.2)
        click(slack, VOTER, each, "question_upvote")
    slack.wait_for(lambda: str([c["blocks"] for c in cards(slack)]).count("Upvote (1)") == 2, timeout=20)
    time.sleep(1.0)
    assert [m["text"] for m in slack.ephemeral(CHANNEL, VOTER)[before:]] == []

    assert "Traceback" not in app.log()

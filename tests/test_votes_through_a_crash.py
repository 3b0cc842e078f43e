"""Upvotes that were acknowledged survive the web process being killed before it wrote them, and
are written exactly once (issue #13: the load test lost acknowledged votes with the killed process).

The database is stopped while people vote, so the clicks are certain to be still unwritten in the
process when it is killed; once the database is back, the next web process on the host writes them.
A click is a toggle: a voter who took their vote back is written as not voting, and clicks that were
written before the kill are not written again.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bot import db
from bot.db import unit_of_work
from bot.models import Person, Question, Vote
from bot.questions.rules import DOUBLE_CLICK_WINDOW
from tests.apprunner import RunningApp, kill_9
from tests.cast import CHANNEL
from tests.databases import database_outage
from tests.slackdouble import SlackDouble
from tests.test_faults import ASKERS, ask_all, database, live_event, processes, serve, slack  # noqa: F401  (fixtures)
from tests.test_redraws_across_processes import cards, shown_count, upvote_value

CARDS = 3


def stored(database: db.Database) -> Counter[tuple[str, str]]:  # noqa: F811
    """(question text, voter) for every vote stored."""
    with unit_of_work(database) as session:
        return Counter(session.execute(
            select(Question.text, Person.slack_user_id).join(Vote, Vote.question_id == Question.id)
            .join(Person, Person.id == Vote.person_id)).all())


def click(slack: SlackDouble, voter: str, card: dict) -> None:
    response = slack.send_block_action(user_id=voter, action_id="question_upvote", value=upvote_value(card),
                                       channel_id=CHANNEL, message_ts=card["ts"])
    assert response.status == 200


def test_acknowledged_votes_of_a_killed_web_process_are_written_once_by_the_next(
        slack: SlackDouble, database_url: str, database: db.Database,  # noqa: F811
        tmp_path: Path, processes: list[RunningApp]) -> None:  # noqa: F811
    first = live_event(slack, database_url, tmp_path, processes)
    for thread in ask_all(slack, ASKERS[:CARDS]):
        thread.join()
    slack.wait_for(lambda: len(cards(slack)) == CARDS, timeout=30)
    posted = sorted(cards(slack).values(), key=lambda card: card["ts"])
    text_of = {card["ts"]: card["text"].removeprefix("Question: ") for card in posted}

    # Written before the kill: these must not be written a second time (each would be taken back).
    before = [(voter, card) for voter in ASKERS[:4] for card in posted[:2]]
    for voter, card in before:
        click(slack, voter, card)
    slack.wait_for(lambda: sum(stored(database).values()) == len(before), timeout=15)

    # SQLite cannot be stopped: its outage is a held write lock, which the writer waits on.
    with database_outage(database_url, seconds=12):
        during = [(voter, card) for voter in ASKERS[4:10] for card in posted]
        for voter, card in during:
            click(slack, voter, card)
        # One voter changes their mind: a second click (after a double click's window) takes it back.
        time.sleep(DOUBLE_CLICK_WINDOW.total_seconds() + 0.2)
        click(slack, ASKERS[4], posted[0])
        kill_9(first)
    survivor = serve(slack, database_url, tmp_path, processes)

    expected = Counter({(text_of[card["ts"]], voter): 1 for voter, card in before + during})
    del expected[(text_of[posted[0]["ts"]], ASKERS[4])]
    slack.wait_for(lambda: stored(database) == expected, timeout=60)
    # And the cards follow, redrawn by the process that wrote the votes.
    slack.wait_for(lambda: {ts: shown_count(card) for ts, card in cards(slack).items()} == {
        card["ts"]: sum(n for (text, _), n in expected.items() if text == text_of[card["ts"]]) for card in posted},
        timeout=60)
    time.sleep(6)  # another look at the journals finds nothing more to write
    assert stored(database) == expected
    assert "wrote 19 acknowledged votes" in survivor.log()
    assert "Traceback" not in survivor.log()

"""Reflections back to the room: the close counts only prompted themes; chairs choose what is shared."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import Database, unit_of_work
from bot.events.people import NotAllowed
from bot.models import Event, Reflection, ReflectionTheme
from bot.reflections import rules as reflections
from bot.reflections import slack as reflections_slack
from bot.run_of_show import slack as run_of_show_slack
from tests.apprunner import BOT_USER_ID
from tests.cast import ATTENDEES, CHAIR, CHANNEL, at
from tests.posting import deliver
from tests.slackdouble import SlackDouble


def workspace_of(database: Database, event_id: int) -> int:
    with unit_of_work(database) as session:
        return session.get_one(Event, event_id).workspace_id


@pytest.fixture
def closed(database: Database, client: WebClient, slack: SlackDouble, event_id: int) -> dict[str, int]:
    """Two prompts posted (improvement, equity), three reflections (one anonymous), then the close."""
    run_of_show_slack.run_due_work(database, client, now=at("14:30"), exclude_from_attendees=frozenset({BOT_USER_ID}))
    for theme in (ReflectionTheme.IMPROVEMENT, ReflectionTheme.EQUITY):
        run_of_show_slack.post_prompt(database, event_id=event_id, theme=theme, now=at("14:35"))
    deliver(database, client, at("14:35"))
    workspace_id = workspace_of(database, event_id)
    ids = {}
    with unit_of_work(database) as session:
        prompts = {p.theme: p.id for p in session.get_one(Event, event_id).prompts}
    for key, theme, who, text, anonymous in [
        ("measure", ReflectionTheme.IMPROVEMENT, ATTENDEES[0], "Measure before you change anything.", False),
        ("power", ReflectionTheme.EQUITY, ATTENDEES[1], "Who holds the data holds the power.", True),
        ("aims", ReflectionTheme.EQUITY, ATTENDEES[2], "Equity needs deliberate aims.", False),
    ]:
        with unit_of_work(database) as session:
            ids[key] = reflections.share_privately(session, workspace_id=workspace_id, prompt_id=prompts[theme],
                                                   slack_user_id=who, text=text, anonymous=anonymous).id
    run_of_show_slack.close_event(database, event_id=event_id, now=at("16:00"))
    deliver(database, client, at("16:00"))
    return ids


def test_the_close_counts_only_the_themes_that_were_prompted(slack: SlackDouble, closed: dict[str, int]) -> None:
    close = json.dumps(slack.messages(CHANNEL)[-1]["blocks"])
    assert "Improvement: 1 reflection" in close and "Equity: 2 reflections" in close
    assert "Collaborative working" not in close and "Next steps" not in close


def test_nothing_is_published_until_a_chair_chooses_and_anonymous_stays_anonymous(
    database: Database, client: WebClient, slack: SlackDouble, closed: dict[str, int], event_id: int
) -> None:
    invite = json.dumps(slack.dms(CHAIR)[-1]["blocks"])
    assert "Choose reflections to share" in invite
    assert not any("Who holds the data" in json.dumps(m["blocks"]) for m in slack.messages(CHANNEL))
    workspace_id = workspace_of(database, event_id)
    choices = reflections_slack.share_choices(database, workspace_id=workspace_id, event_id=event_id,
                                              slack_user_id=CHAIR)
    assert set(choices) == {ReflectionTheme.IMPROVEMENT, ReflectionTheme.EQUITY}
    with pytest.raises(NotAllowed):
        reflections_slack.share_with_the_room(database, workspace_id=workspace_id, event_id=event_id,
                                              slack_user_id=ATTENDEES[0], reflection_ids=[closed["power"]],
                                              now=at("16:05"))
    shared = reflections_slack.share_with_the_room(
        database, workspace_id=workspace_id, event_id=event_id, slack_user_id=CHAIR,
        reflection_ids=[closed["power"], closed["measure"], 999999], now=at("16:05"))
    assert shared == 2  # an id from elsewhere chooses nothing
    deliver(database, client, at("16:05"))
    summary = json.dumps(slack.messages(CHANNEL)[-1]["blocks"])
    assert "What you reflected" in summary and "Equity: 2 reflections" in summary
    assert "Who holds the data holds the power." in summary and ATTENDEES[1] not in summary  # anonymous
    assert "Measure before you change anything." in summary and ATTENDEES[0] in summary
    assert "Equity needs deliberate aims" not in summary  # not chosen
    with unit_of_work(database) as session:
        assert len(session.scalars(select(Reflection)).all()) == 3

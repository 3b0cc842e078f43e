"""Names in plain-text places: the CSVs of questions, reflections and follow-ups name people as Slack
shows them (users.info, learnt when a file is about to name someone eventbot only knew by ID, and
kept up to date by `user_change`), while posts in Slack mention them."""

from __future__ import annotations

import csv
import io

from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import Database, unit_of_work
from bot.events import slack as events_slack
from bot.models import Person, ReflectionPrompt, ReflectionTheme
from bot.questions import slack as questions_slack
from bot.questions.digest import StatusFilter
from bot.questions.follow_ups import ledger_csv
from bot.reflections import slack as reflections_slack
from tests.cast import ATTENDEES, CHANNEL, at
from tests.slackdouble import SlackDouble
from tests.test_follow_ups import CLOSED, MINARA, session_with_questions, workspace_of  # noqa: F401 - a fixture


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csvs_name_askers_authors_and_owners_and_follow_a_rename(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int, session_with_questions: dict[str, int]
) -> None:
    workspace_id = workspace_of(database, event_id)
    with unit_of_work(database) as session:  # attendees came from the member list: known by ID only
        assert session.scalar(select(Person.display_name).where(Person.slack_user_id == ATTENDEES[0])) is None
        prompt_id = session.scalars(select(ReflectionPrompt.id).where(
            ReflectionPrompt.event_id == event_id, ReflectionPrompt.theme == ReflectionTheme.EQUITY)).one()
    reflections_slack.share_privately(database, workspace_id=workspace_id, prompt_id=prompt_id,
                                      slack_user_id=ATTENDEES[1], text="Fair shares of the work", anonymous=False)

    _, ledger, _ = questions_slack.follow_up_ledger(database, workspace_id=workspace_id, channel_id=CHANNEL,
                                                     slack_user_id=MINARA, client=client, now=CLOSED)
    scale = next(r for r in rows_of(ledger_csv(ledger, timezone="Europe/London")) if "scale" in r["question"])
    assert scale["asked_by"] == "Attendee 1" and scale["owner"] == "Minara Chowdhury"
    quiet = next(r for r in rows_of(ledger_csv(ledger, timezone="Europe/London")) if "gaps" in r["question"])
    assert quiet["asked_by"] == "anonymous"  # learning names never unmasks an anonymous asker

    _, questions_text = questions_slack.export_digest(database, event_id=event_id, status_filter=StatusFilter.ALL,
                                                      client=client, workspace_id=workspace_id, now=CLOSED)
    assert "Attendee 2" in {r["askers"] for r in rows_of(questions_text)}
    assert ATTENDEES[1] not in {r["askers"] for r in rows_of(questions_text)}

    _, _, reflections_text = reflections_slack.export(database, client, event_id=event_id, now=CLOSED)
    assert [r["author"] for r in rows_of(reflections_text)] == ["Attendee 2"]

    # A rename in Slack reaches the next file without another users.info.
    lookups = len(slack.calls_to("users.info"))
    events_slack.profile_changed(database, workspace_id=workspace_id, user={
        "id": ATTENDEES[1], "name": "attendee2", "real_name": "Dr Ada Two", "profile": {}})
    _, _, reflections_text = reflections_slack.export(database, client, event_id=event_id, now=at("17:00"))
    assert [r["author"] for r in rows_of(reflections_text)] == ["Dr Ada Two"]
    assert len(slack.calls_to("users.info")) == lookups

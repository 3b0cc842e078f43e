"""The chair's question digest in Slack: `/event questions`, its pages, its CSV, and refusals for others.

Questions and votes are put straight into the database (as the asking flow would leave them), then
the real app, running as `eventbot serve`, is driven through the Slack double over HTTP.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot import db
from bot.db import unit_of_work
from bot.events import people
from bot.events.rules import EventDetails, create_event
from bot.models import AgendaSegment, EventStatus, Question, QuestionStatus, Vote
from bot.questions.digest_blocks import (
    EXPORT_CSV_ACTION,
    NEXT_PAGE_ACTION,
    PREVIOUS_PAGE_ACTION,
)
from bot.workspaces import ensure_workspace
from tests.apprunner import BOT_TOKEN, TEAM_ID, RunningApp, migrate, start_eventbot
from tests.cast import (
    ATTENDEES,
    CHAIR,
    CHANNEL,
    ORGANISER,
    PRESENTERS,
)
from tests.slackdouble import SlackDouble

MINARA = PRESENTERS["minara.chowdhury@example.org"]
ALI = PRESENTERS["ali.bolton@example.org"]
SECRET_ASKER = ATTENDEES[7]  # asks anonymously, twice
QUESTIONS = 45  # three pages of twenty


def _seed(database_url: str) -> None:
    engine = db.make_engine(database_url)
    database = db.make_session_factory(engine)
    now = datetime.now(timezone.utc)
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id=TEAM_ID)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=ORGANISER,
                             details=EventDetails(title="Provider collaboratives <!here>", starts_at=now - timedelta(hours=1),
                                                  ends_at=now + timedelta(hours=1), timezone="Europe/London",
                                                  evaluation_form_url=None, chairs=(CHAIR,), presenters=(MINARA, ALI)))
        event.status = EventStatus.LIVE
        people.add_attendees(session, event=event, slack_user_ids=ATTENDEES)
        segments = []
        for position, title in enumerate(["Welcome", "Presentation one", "Presentation two"], start=1):
            segment = AgendaSegment(event_id=event.id, position=position, title=title, speakers=[],
                                    scheduled_at=now + timedelta(minutes=10 * position))
            session.add(segment)
            segments.append(segment)
        session.flush()

        def person_id(slack_id: str, name: str | None = None) -> int:
            return people.person(session, workspace_id=workspace.id, slack_user_id=slack_id, display_name=name).id

        voters = [person_id(f"U0VOTER{n:03d}") for n in range(60)]
        minara = person_id(MINARA, "Minara Chowdhury")

        def add(text: str, *, by: str, votes: int, minute: int, anonymous: bool = False, segment: int | None = None,
                presenter: int | None = None, status: QuestionStatus = QuestionStatus.OPEN,
                merged_into: int | None = None) -> int:
            question = Question(event_id=event.id, asker_person_id=person_id(by), anonymous=anonymous, text=text,
                                segment_id=segments[segment].id if segment is not None else None,
                                for_presenter_person_id=presenter, status=status, merged_into_id=merged_into,
                                created_at=now - timedelta(minutes=60 - minute))
            session.add(question)
            session.flush()
            session.add_all(Vote(question_id=question.id, person_id=voters[n]) for n in range(votes))
            return question.id

        top = add("Most wanted: does this ping <!channel>?", by=ATTENDEES[0], votes=50, minute=1, segment=1,
                  presenter=minara)
        add("Same as the most wanted", by=ATTENDEES[1], votes=0, minute=2, status=QuestionStatus.MERGED, merged_into=top)
        add("Me too, quietly", by=SECRET_ASKER, votes=0, minute=3, anonymous=True, status=QuestionStatus.MERGED,
            merged_into=top)
        add("=SUM(1) is this a formula?", by=SECRET_ASKER, votes=40, minute=4, anonymous=True, segment=2)
        add("Kept for later", by=ATTENDEES[2], votes=1, minute=5, status=QuestionStatus.FOLLOW_UP)
        for n in range(QUESTIONS - 3):
            add(f"Filler question {n:02d}", by=ATTENDEES[3 + n % 4], votes=n % 30, minute=6 + n, segment=n % 3)


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    _seed(database_url)
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


def dumps(blocks: object) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def run_command(slack: SlackDouble, user: str, text: str) -> dict:
    before = len(slack.response_url_posts)
    response = slack.send_slash_command("/event", text, user_id=user, channel_id=CHANNEL)
    assert response.status == 200
    slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=15)
    return slack.response_url_posts[-1]


def button(blocks: list[dict], action_id: str) -> dict:
    return next(e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id)


def click(slack: SlackDouble, user: str, ts: str, action_id: str, blocks: list[dict]) -> dict:
    before = len(slack.response_url_posts)
    response = slack.send_block_action(user_id=user, action_id=action_id, value=button(blocks, action_id)["value"],
                                       channel_id=CHANNEL, message_ts=ts)
    assert response.status == 200
    slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=15)
    return slack.response_url_posts[-1]


def shown_to(slack: SlackDouble, user: str, ts: str) -> dict:
    return next(e for e in slack.ephemeral(channel_id=CHANNEL, user_id=user) if e["ts"] == ts)


def test_the_chair_pages_through_the_digest_and_exports_it(app: RunningApp, slack: SlackDouble) -> None:
    # An attendee cannot pull the digest.
    refusal = run_command(slack, ATTENDEES[0], "questions")
    assert refusal["text"] == "Only a chair or organiser of this event can see the questions."
    assert refusal["user_id"] == ATTENDEES[0]

    assert "Which questions?" in run_command(slack, CHAIR, "questions closed")["text"]

    first = run_command(slack, CHAIR, "questions all")
    assert first["response_type"] == "ephemeral" and first["user_id"] == CHAIR
    page_one = dumps(first["blocks"])
    assert "Page 1 of 3" in page_one
    assert "Open 44 · Waiting for approval 0 · Answered live 0 · Answered 0 · Follow-up 1 · Dismissed 0 · Merged 2" in page_one
    assert "Showing all 45 questions, by agenda item and presenter, most votes first." in page_one
    # Agenda order: "Presentation one" (with Minara's most wanted question on top) before "Presentation two".
    assert page_one.index("*Presentation one* · for Minara Chowdhury") < page_one.index("Most wanted")
    assert "&lt;!channel&gt;" in page_one and "<!channel>" not in page_one
    # The merged askers are credited on the survivor; the anonymous one only as "anonymous".
    assert f"<@{ATTENDEES[0]}>, <@{ATTENDEES[1]}>, _anonymous_" in page_one
    assert SECRET_ASKER not in page_one
    assert len(first["blocks"]) <= 50

    ts = first["ts"]
    second = click(slack, CHAIR, ts, NEXT_PAGE_ACTION, first["blocks"])
    assert second["replace_original"] is True
    on_screen = shown_to(slack, CHAIR, ts)
    assert "Page 2 of 3" in dumps(on_screen["blocks"]) and on_screen.get("replaced")
    third = click(slack, CHAIR, ts, NEXT_PAGE_ACTION, on_screen["blocks"])
    on_screen = shown_to(slack, CHAIR, ts)
    assert third["replace_original"] is True and "Page 3 of 3" in dumps(on_screen["blocks"])
    assert NEXT_PAGE_ACTION not in dumps(on_screen["blocks"])
    click(slack, CHAIR, ts, PREVIOUS_PAGE_ACTION, on_screen["blocks"])
    assert "Page 2 of 3" in dumps(shown_to(slack, CHAIR, ts)["blocks"])
    every_page = page_one + dumps(second["blocks"]) + dumps(third["blocks"])
    assert all(f"Filler question {n:02d}" in every_page for n in range(QUESTIONS - 3))
    assert SECRET_ASKER not in every_page

    confirmation = click(slack, CHAIR, ts, EXPORT_CSV_ACTION, shown_to(slack, CHAIR, ts)["blocks"])
    assert "Sent every question (45) to your DMs" in confirmation["text"]
    assert not confirmation["replace_original"]  # the digest stays on screen
    upload = slack.wait_for(lambda: slack.uploaded_files, timeout=10)[-1]
    assert upload["channel_id"] == slack.im_channel(CHAIR)
    assert upload["filename"].endswith("-all.csv")
    content = upload["content"].decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 45
    assert [r["segment"] for r in rows[:2]] == ["Welcome", "Welcome"]  # the digest's order
    top = next(r for r in rows if r["question"] == "Most wanted: does this ping <!channel>?")
    assert (top["votes"], top["presenter"], top["status"]) == ("50", "Minara Chowdhury", "open")
    # Names in the plain-text file (learnt from users.info when the file is made), IDs in their own column.
    assert top["askers"] == "Attendee 1; Attendee 2; anonymous"
    assert top["asker_slack_user_ids"] == f"{ATTENDEES[0]}; {ATTENDEES[1]}"
    formula = next(r for r in rows if "SUM" in r["question"])
    assert formula["question"] == "'=SUM(1) is this a formula?" and formula["askers"] == "anonymous"
    assert SECRET_ASKER not in content


def test_attendees_cannot_use_the_digest_buttons(app: RunningApp, slack: SlackDouble) -> None:
    digest = run_command(slack, CHAIR, "questions")
    # An attendee never sees the chair's ephemeral digest; suppose its buttons reached them anyway.
    posted = WebClient(token=BOT_TOKEN, base_url=slack.api_url).chat_postMessage(
        channel=CHANNEL, text=digest["text"], blocks=digest["blocks"])
    before = slack.message(CHANNEL, posted["ts"])
    for action_id in (EXPORT_CSV_ACTION, NEXT_PAGE_ACTION):
        refusal = click(slack, ATTENDEES[4], posted["ts"], action_id, digest["blocks"])
        assert refusal["text"] == "Only a chair or organiser of this event can see the questions."
        assert refusal["user_id"] == ATTENDEES[4] and not refusal["replace_original"]
    assert slack.uploaded_files == []
    # The message they clicked on is unchanged.
    assert slack.message(CHANNEL, posted["ts"]) == before

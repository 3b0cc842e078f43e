"""The chair's question digest at the domain level: grouping, order, filters, credits, CSV, pages, queries."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.db import Database, unit_of_work
from bot.errors import UserError
from bot.events import people
from bot.events.people import NotAllowed
from bot.events.rules import EventDetails, create_event
from bot.models import AgendaSegment, FollowUp, Question, QuestionStatus, Vote
from bot.questions import digest as question_digest
from bot.questions import slack as questions_slack
from bot.questions.digest import StatusFilter, digest, parse_filter, questions_csv
from bot.questions.digest_blocks import (
    EXPORT_CSV_ACTION,
    NEXT_PAGE_ACTION,
    PREVIOUS_PAGE_ACTION,
    QUESTIONS_PER_PAGE,
    DigestRequest,
    digest_page,
    page_count,
)
from bot.workspaces import ensure_workspace
from tests.databases import counting_queries
from tests.slackdouble.blockkit import validate_blocks

CHANNEL = "C0DIGEST"
CHAIR, ORGANISER, ATTENDEE = "U0CHAIR", "U0ORGANISER", "U0ATTENDEE"
ALICE, BOB = "U0ALICE", "U0BOB"  # presenters: Alice has a display name, Bob has none
SECRET = "U0SECRET"  # asks anonymously: this id must never surface
NAMED = "U0NAMED"
T0 = datetime(2031, 3, 3, 14, 0, tzinfo=timezone.utc)


@dataclass
class Scene:
    database: Database
    workspace_id: int
    event_id: int
    segments: dict[str, int] = field(default_factory=dict)
    minute: int = 0

    def person_id(self, session: Session, slack_id: str, name: str | None = None) -> int:
        return people.person(session, workspace_id=self.workspace_id, slack_user_id=slack_id, display_name=name).id

    def ask(self, text: str, *, by: str = NAMED, name: str | None = "Named Asker", anonymous: bool = False,
            segment: str | None = None, presenter: str | None = None, status: QuestionStatus = QuestionStatus.OPEN,
            votes: int = 0, merged_into: int | None = None, answer: str | None = None,
            follow_up_answer: str | None = None) -> int:
        self.minute += 1
        with unit_of_work(self.database) as session:
            question = Question(
                event_id=self.event_id, asker_person_id=self.person_id(session, by, name), anonymous=anonymous,
                text=text, segment_id=self.segments[segment] if segment else None,
                for_presenter_person_id=(self.person_id(session, presenter, "Alice Presenter" if presenter == ALICE else None)
                                         if presenter else None),
                status=status, merged_into_id=merged_into, answer_text=answer,
                created_at=T0 + timedelta(minutes=self.minute),
            )
            session.add(question)
            session.flush()
            for n in range(votes):
                session.add(Vote(question_id=question.id, person_id=self.person_id(session, f"U0VOTER{n:04d}")))
            if follow_up_answer is not None:
                session.add(FollowUp(question_id=question.id, answer_text=follow_up_answer))
            return question.id


@pytest.fixture
def scene(database: Database) -> Scene:
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id="T0DIGEST")
        created = create_event(
            session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=ORGANISER,
            details=EventDetails(title="Digest <!here> day", starts_at=T0, ends_at=T0 + timedelta(hours=2),
                                 timezone="Europe/London", evaluation_form_url=None, chairs=(CHAIR,),
                                 presenters=(ALICE, BOB)),
        )
        people.add_attendees(session, event=created, slack_user_ids=[ATTENDEE])
        segments = {}
        # Added out of order: the agenda's positions decide the digest's order, not ids.
        for position, title in ((2, "Talk two"), (1, "Talk one")):
            segment = AgendaSegment(event_id=created.id, position=position, title=title, speakers=[],
                                    scheduled_at=T0 + timedelta(minutes=10 * position))
            session.add(segment)
            session.flush()
            segments[title] = segment.id
        return Scene(database=database, workspace_id=workspace.id, event_id=created.id, segments=segments)


def pull(scene: Scene, status_filter: StatusFilter = StatusFilter.OPEN) -> question_digest.QuestionDigest:
    return questions_slack.pull_digest(scene.database, event_id=scene.event_id, status_filter=status_filter)


def texts_by_group(found: question_digest.QuestionDigest) -> list[tuple[str, str, list[str]]]:
    return [(g.segment_title, g.presenter_label, [r.text for r in g.rows]) for g in found.groups]


def test_grouped_by_agenda_order_then_presenter_most_votes_first_oldest_breaking_ties(scene: Scene) -> None:
    scene.ask("loose, older", votes=2)
    scene.ask("two, anyone", segment="Talk two", votes=1)
    scene.ask("one, bob", segment="Talk one", presenter=BOB, votes=3)
    scene.ask("one, alice, 1 vote", segment="Talk one", presenter=ALICE, votes=1)
    scene.ask("one, anyone", segment="Talk one", votes=0)
    scene.ask("one, alice, 5 votes", segment="Talk one", presenter=ALICE, votes=5)
    scene.ask("one, alice, 1 vote, newer", segment="Talk one", presenter=ALICE, votes=1)
    scene.ask("loose, newer", votes=2)
    scene.ask("loose, most", votes=4)

    assert texts_by_group(pull(scene)) == [
        ("Talk one", "Alice Presenter", ["one, alice, 5 votes", "one, alice, 1 vote", "one, alice, 1 vote, newer"]),
        ("Talk one", BOB, ["one, bob"]),
        ("Talk one", "Anyone", ["one, anyone"]),
        ("Talk two", "Anyone", ["two, anyone"]),
        ("No agenda item", "Anyone", ["loose, most", "loose, older", "loose, newer"]),
    ]
    assert [r.votes for r in pull(scene).groups[0].rows] == [5, 1, 1]


def test_filters_and_the_counts_for_the_whole_event(scene: Scene) -> None:
    scene.ask("open one")
    scene.ask("waiting one", status=QuestionStatus.AWAITING_APPROVAL)
    scene.ask("live answer", status=QuestionStatus.ANSWERED_LIVE)
    scene.ask("written answer", status=QuestionStatus.ANSWERED, answer="Yes, in writing")
    kept = scene.ask("kept", status=QuestionStatus.FOLLOW_UP, follow_up_answer="Answered later")
    scene.ask("dismissed", status=QuestionStatus.DISMISSED)
    scene.ask("a duplicate", status=QuestionStatus.MERGED, merged_into=kept)

    def shown(status_filter: StatusFilter) -> set[str]:
        return {r.text for _, r in pull(scene, status_filter).rows()}

    assert shown(StatusFilter.OPEN) == {"open one", "waiting one"}
    assert shown(StatusFilter.ANSWERED) == {"live answer", "written answer"}
    assert shown(StatusFilter.FOLLOWUP) == {"kept"}
    assert shown(StatusFilter.ALL) == {"open one", "waiting one", "live answer", "written answer", "kept", "dismissed"}

    found = pull(scene, StatusFilter.FOLLOWUP)
    assert found.counts == {
        QuestionStatus.OPEN: 1, QuestionStatus.AWAITING_APPROVAL: 1, QuestionStatus.ANSWERED_LIVE: 1,
        QuestionStatus.ANSWERED: 1, QuestionStatus.FOLLOW_UP: 1, QuestionStatus.DISMISSED: 1, QuestionStatus.MERGED: 1,
    }
    assert found.groups[0].rows[0].answer_text == "Answered later"
    answers = {r.text: r.answer_text for _, r in pull(scene, StatusFilter.ANSWERED).rows()}
    assert answers == {"live answer": None, "written answer": "Yes, in writing"}

    page = str(digest_page(pull(scene, StatusFilter.OPEN)).blocks)
    assert "waiting for approval" in page
    assert "Open 1 · Waiting for approval 1 · Answered live 1 · Answered 1 · Follow-up 1 · Dismissed 1 · Merged 1" in page


@pytest.mark.parametrize(("words", "expected"), [
    ("", StatusFilter.OPEN), ("open", StatusFilter.OPEN), ("ANSWERED", StatusFilter.ANSWERED),
    ("followup", StatusFilter.FOLLOWUP), ("follow-up", StatusFilter.FOLLOWUP), (" all ", StatusFilter.ALL),
])
def test_filter_words(words: str, expected: StatusFilter) -> None:
    assert parse_filter(words) is expected


def test_an_unknown_filter_says_what_to_type() -> None:
    with pytest.raises(UserError, match="`/event questions open`, `answered`, `followup` or `all`"):
        parse_filter("closed")


def test_the_surviving_question_credits_every_asker_and_anonymous_askers_stay_anonymous(scene: Scene) -> None:
    survivor = scene.ask("How do we measure equity?", by=NAMED, name="Named Asker", votes=3)
    scene.ask("Measuring equity?", by="U0SECOND", name="Second Asker", status=QuestionStatus.MERGED, merged_into=survivor)
    scene.ask("Equity metrics?", by=SECRET, name="Secret Person", anonymous=True,
              status=QuestionStatus.MERGED, merged_into=survivor)
    # The same person asking twice is credited once.
    scene.ask("How to measure equity??", by=NAMED, status=QuestionStatus.MERGED, merged_into=survivor)
    # A merge that was chained (left pointing at a question merged later) still finds the survivor.
    middle = scene.ask("Equity: how to measure", by="U0THIRD", name="Third Asker", status=QuestionStatus.MERGED,
                       merged_into=survivor)
    scene.ask("measure equity", by="U0FOURTH", name="Fourth Asker", status=QuestionStatus.MERGED, merged_into=middle)
    anonymous_own = scene.ask("Is this recorded?", by=SECRET, name="Secret Person", anonymous=True, votes=1)

    found = pull(scene)
    rows = {r.question_id: r for _, r in found.rows()}
    assert set(rows) == {survivor, anonymous_own}
    assert [a.label for a in rows[survivor].askers] == [
        "Named Asker", "Second Asker", "anonymous", "Third Asker", "Fourth Asker"]
    assert [a.slack_user_id for a in rows[survivor].askers] == [NAMED, "U0SECOND", None, "U0THIRD", "U0FOURTH"]
    assert [a.label for a in rows[anonymous_own].askers] == ["anonymous"]
    assert rows[survivor].votes == 3

    page = str(digest_page(found).blocks)
    csv_text = questions_csv(found)
    for shown in (repr(found), page, csv_text):
        assert SECRET not in shown and "Secret Person" not in shown
    assert f"<@{NAMED}>, <@U0SECOND>, _anonymous_, <@U0THIRD>, <@U0FOURTH>" in page
    by_question = {r["question"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    assert by_question["How do we measure equity?"]["askers"] == "Named Asker; Second Asker; anonymous; Third Asker; Fourth Asker"
    assert by_question["How do we measure equity?"]["asker_slack_user_ids"] == f"{NAMED}; U0SECOND; U0THIRD; U0FOURTH"
    assert by_question["Is this recorded?"]["askers"] == "anonymous"
    assert by_question["Is this recorded?"]["asker_slack_user_ids"] == ""


def test_csv_neutralises_formulas_in_every_cell_people_typed(scene: Scene) -> None:
    scene.ask("=SUM(1)", votes=4)
    scene.ask("+1", votes=3)
    scene.ask("-2", votes=2, status=QuestionStatus.ANSWERED, answer="=HYPERLINK(\"x\")")
    scene.ask("@x", by="U0EVIL", name="=cmd|' /C calc'!A0", votes=1)
    with unit_of_work(scene.database) as session:
        session.get_one(AgendaSegment, scene.segments["Talk one"]).title = "-Talk one"
    scene.ask("plain", segment="Talk one")

    rows = list(csv.DictReader(io.StringIO(questions_csv(pull(scene, StatusFilter.ALL)))))
    assert [r["question"] for r in rows] == ["plain", "'=SUM(1)", "'+1", "'-2", "'@x"]
    cells = {r["question"]: r for r in rows}
    assert cells["'-2"]["answer"] == "'=HYPERLINK(\"x\")"
    assert cells["'@x"]["askers"] == "'=cmd|' /C calc'!A0"
    assert cells["plain"]["segment"] == "'-Talk one"
    assert cells["'=SUM(1)"]["votes"] == "4" and cells["'=SUM(1)"]["status"] == "open"
    assert cells["'=SUM(1)"]["asked_at"] == "2031-03-03T14:01+00:00"
    assert list(rows[0]) == question_digest.CSV_COLUMNS


def test_user_text_is_escaped_in_the_digest(scene: Scene) -> None:
    scene.ask("Ping <!channel> and <@U0ALICE>, see <https://x.example|y>", presenter=BOB, votes=1)
    page = digest_page(pull(scene))
    shown = str(page.blocks)
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "&lt;@U0ALICE&gt;" in shown and "&lt;https://x.example|y&gt;" in shown
    assert f"for <@{BOB}>" in shown  # a presenter with no display name is shown as a mention
    assert "&lt;!here&gt;" in page.text


def test_long_digests_page_within_block_kit_limits(scene: Scene) -> None:
    filler = " <!channel> & more" * 60
    for n in range(300):
        scene.ask(f"Q{n:03d}:{filler}"[:1000], segment=("Talk one", "Talk two", None)[n % 3],
                  presenter=(ALICE, BOB, None)[n % 3 if n % 7 else 2], votes=n % 5,
                  answer=("A" + "&" * 999) if n % 11 == 0 else None,
                  status=QuestionStatus.ANSWERED if n % 11 == 0 else QuestionStatus.OPEN)

    found = pull(scene, StatusFilter.ALL)
    total = page_count(found)
    assert total == 300 // QUESTIONS_PER_PAGE
    seen: list[str] = []
    for page_number in range(1, total + 1):
        blocks = digest_page(found, page=page_number).blocks
        assert len(blocks) <= 50
        assert validate_blocks(blocks) == []
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
        text = str(blocks)
        seen += [f"Q{n:03d}" for n in range(300) if f"Q{n:03d}:" in text]
        assert f"Page {page_number} of {total}" in text
        actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
        assert actions == ([PREVIOUS_PAGE_ACTION] if page_number > 1 else []) + (
            [NEXT_PAGE_ACTION] if page_number < total else []) + [EXPORT_CSV_ACTION]
    assert sorted(seen) == [f"Q{n:03d}" for n in range(300)]  # every question once, none lost between pages

    last = digest_page(found, page=total)
    previous = next(e for b in last.blocks if b["type"] == "actions" for e in b["elements"]
                    if e["action_id"] == PREVIOUS_PAGE_ACTION)
    assert json.loads(previous["value"]) == {"event_id": scene.event_id, "filter": "all", "page": total - 1}
    assert DigestRequest.from_value(previous["value"]) == DigestRequest(scene.event_id, StatusFilter.ALL, total - 1)
    assert "Page 15 of 15" in str(digest_page(found, page=99).blocks)  # a stale page number is clamped


def test_an_empty_digest_still_offers_the_export(scene: Scene) -> None:
    page = digest_page(pull(scene, StatusFilter.FOLLOWUP))
    assert "No follow-up questions yet" in str(page.blocks)
    assert validate_blocks(page.blocks) == []
    assert questions_csv(pull(scene)).splitlines() == [",".join(question_digest.CSV_COLUMNS)]


def test_a_stale_or_forged_button_value_is_refused() -> None:
    forged = ['{"event_id": 1, "filter": "all", "page": 1e400}', '{"event_id": "1", "filter": "all"}',
              '{"event_id": true, "filter": "all"}', '{"event_id": 1.5, "filter": "all"}', "[1]", "5", "[" * 100_000]
    for value in (None, "", "not json", json.dumps({"event_id": 1, "filter": "secret"}), json.dumps({"page": 2}),
                  *forged):
        with pytest.raises(UserError, match="out of date"):
            DigestRequest.from_value(value)


def test_only_the_events_chairs_and_organisers_may_pull_it_by_button(scene: Scene) -> None:
    for runner in (CHAIR, ORGANISER):
        questions_slack.require_digest_reader(scene.database, workspace_id=scene.workspace_id, event_id=scene.event_id,
                                          slack_user_id=runner)
    for other in (ATTENDEE, ALICE, "U0STRANGER"):
        with pytest.raises(NotAllowed, match="Only a chair or organiser of this event can see the questions"):
            questions_slack.require_digest_reader(scene.database, workspace_id=scene.workspace_id,
                                              event_id=scene.event_id, slack_user_id=other)
    with pytest.raises(UserError, match="no longer exists"):
        questions_slack.require_digest_reader(scene.database, workspace_id=scene.workspace_id + 1,
                                          event_id=scene.event_id, slack_user_id=CHAIR)


def _fill(scene: Scene, how_many: int) -> None:
    """Questions of every kind: segments, presenters, anonymous, merged, answered, followed up, voted."""
    survivors: list[int] = []
    for n in range(how_many):
        merged = n % 6 == 5 and survivors
        question_id = scene.ask(
            f"question {n}", by=f"U0ASKER{n % 13:02d}", name=None if n % 4 else f"Asker {n % 13}",
            anonymous=n % 5 == 0, segment=("Talk one", "Talk two", None)[n % 3],
            presenter=(ALICE, BOB, None, ALICE)[n % 4], votes=n % 4,
            status=QuestionStatus.MERGED if merged else (QuestionStatus.FOLLOW_UP if n % 9 == 0 else QuestionStatus.OPEN),
            merged_into=survivors[-1] if merged else None,
            follow_up_answer="later" if n % 9 == 0 and not merged else None,
        )
        if not merged:
            survivors.append(question_id)


@pytest.mark.parametrize("status_filter", [StatusFilter.OPEN, StatusFilter.ALL])
def test_the_number_of_queries_does_not_grow_with_the_questions(
    scene: Scene, engine: Engine, status_filter: StatusFilter
) -> None:
    def queries_for_digest() -> tuple[int, int]:
        with counting_queries(engine) as statements:
            with unit_of_work(scene.database) as session:
                found = digest(session, event_id=scene.event_id, status_filter=status_filter)
            questions_csv(found)
            digest_page(found, page=2)
        return len(statements), found.question_count

    _fill(scene, 10)
    few, shown_few = queries_for_digest()
    _fill(scene, 190)
    many, shown_many = queries_for_digest()
    assert shown_many > 10 * shown_few / 2  # the second digest really is much bigger
    assert few == many
    assert 3 <= many <= 6  # counted for real (the digest makes five), and few

"""Questions at the domain level: asking, voting, moderating, the queue to speak."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.db import Database, unit_of_work
from bot.events.people import NotAllowed
from bot.events.rules import EventDetails, create_event
from bot.models import EventStatus, FollowUp, Question, QuestionStatus, Vote
from bot.questions import rules as questions
from bot.questions.rules import QuestionError
from bot.workspaces import ensure_workspace

CHANNEL = "C0QA"
CHAIR, PRESENTER, ALICE, BOB, CAROL = "U0CHAIR", "U0PRESENT", "U0ALICE", "U0BOB", "U0CAROL"
NOW = datetime(2031, 3, 3, 15, 0, tzinfo=timezone.utc)


@pytest.fixture
def workspace_id(database: Database) -> int:
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id="T0QA")
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=CHAIR,
                             details=EventDetails(title="Q&A", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1),
                                                  timezone="Europe/London", evaluation_form_url=None, chairs=(CHAIR,),
                                                  presenters=(PRESENTER,)))
        event.status = EventStatus.LIVE
        return workspace.id


def ask(database: Database, workspace_id: int, text: str, *, by: str = ALICE, **kwargs) -> int:  # type: ignore[no-untyped-def]
    with unit_of_work(database) as session:
        return questions.ask(session, workspace_id=workspace_id, channel_id=CHANNEL, asker_slack_id=by, text=text, **kwargs).id


def vote(database: Database, workspace_id: int, question_id: int, by: str, now: datetime = NOW) -> bool:
    with unit_of_work(database) as session:
        return questions.toggle_vote(session, workspace_id=workspace_id, question_id=question_id, voter_slack_id=by, now=now)


def count(database: Database, model, **where) -> int:  # type: ignore[no-untyped-def]
    with unit_of_work(database) as session:
        return session.scalar(select(func.count()).select_from(model).filter_by(**where)) or 0


@pytest.mark.parametrize(("text", "complaint"), [("   ", "empty"), ("x" * 1001, "1001 characters")])
def test_bad_questions_are_refused_and_nothing_is_stored(
    database: Database, workspace_id: int, text: str, complaint: str
) -> None:
    with pytest.raises(QuestionError, match=complaint):
        ask(database, workspace_id, text)
    assert count(database, Question) == 0


def test_a_question_where_no_event_runs_is_refused(database: Database, workspace_id: int) -> None:
    with unit_of_work(database) as session, pytest.raises(QuestionError, match="no live event"):
        questions.ask(session, workspace_id=workspace_id, channel_id="C0ELSEWHERE", asker_slack_id=ALICE, text="Hello?")


def test_anonymous_askers_are_kept_but_never_shown(database: Database, workspace_id: int) -> None:
    question_id = ask(database, workspace_id, "Who sets the aims?", anonymous=True)
    with unit_of_work(database) as session:
        card = questions.card(session, question_id=question_id)
        assert card.askers == () and card.anonymous_askers == 1
        assert questions.askers_to_tell(session, question_id=question_id) == [ALICE]


def test_only_presenters_can_be_chosen(database: Database, workspace_id: int) -> None:
    with pytest.raises(QuestionError, match="not one of this event's presenters"):
        ask(database, workspace_id, "For Bob?", for_presenter_slack_id=BOB)
    question_id = ask(database, workspace_id, "For the presenter", for_presenter_slack_id=PRESENTER)
    with unit_of_work(database) as session:
        assert questions.card(session, question_id=question_id).presenter_slack_id == PRESENTER


def test_a_vote_toggles_but_a_double_click_counts_once(database: Database, workspace_id: int) -> None:
    question_id = ask(database, workspace_id, "Q")
    assert vote(database, workspace_id, question_id, BOB) is True
    assert vote(database, workspace_id, question_id, BOB, NOW + timedelta(milliseconds=300)) is True  # double click
    assert count(database, Vote, question_id=question_id) == 1
    assert vote(database, workspace_id, question_id, BOB, NOW + timedelta(seconds=10)) is False  # a change of mind
    assert count(database, Vote, question_id=question_id) == 0


def test_a_burst_of_concurrent_clicks_from_one_person_counts_once(database: Database, workspace_id: int) -> None:
    question_id = ask(database, workspace_id, "Q")
    errors: list[BaseException] = []

    def click() -> None:
        try:
            vote(database, workspace_id, question_id, BOB)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(database, Vote, question_id=question_id) == 1


def test_attendees_cannot_moderate(database: Database, workspace_id: int) -> None:
    question_id = ask(database, workspace_id, "Q")
    with unit_of_work(database) as session, pytest.raises(NotAllowed, match="Only a chair or moderator"):
        questions.mark_answered_live(session, workspace_id=workspace_id, question_id=question_id, by_slack_id=BOB, now=NOW)
    with unit_of_work(database) as session:
        assert session.get_one(Question, question_id).status == QuestionStatus.OPEN


def test_a_named_moderator_can_moderate(database: Database, workspace_id: int) -> None:
    question_id = ask(database, workspace_id, "Q")
    with unit_of_work(database) as session:
        questions.name_moderator(session, workspace_id=workspace_id, channel_id=CHANNEL, by_slack_id=CHAIR,
                                 moderator_slack_id=CAROL)
    with unit_of_work(database) as session:
        questions.keep_for_follow_up(session, workspace_id=workspace_id, question_id=question_id, by_slack_id=CAROL, now=NOW)
    assert count(database, FollowUp, question_id=question_id) == 1


def test_merging_carries_votes_once_and_credits_both_askers(database: Database, workspace_id: int) -> None:
    original = ask(database, workspace_id, "How do we scale equity interventions?", by=ALICE)
    duplicate = ask(database, workspace_id, "How to scale equity work?", by=BOB)
    for voter in (CAROL, "U0DAN"):
        vote(database, workspace_id, original, voter)
    for voter in (CAROL, "U0ERIN"):  # Carol voted for both: she counts once
        vote(database, workspace_id, duplicate, voter)
    with unit_of_work(database) as session:
        questions.merge(session, workspace_id=workspace_id, question_id=duplicate, into_question_id=original, by_slack_id=CHAIR)
    with unit_of_work(database) as session:
        card = questions.card(session, question_id=original)
        assert card.votes == 3
        assert card.askers == (ALICE, BOB)
        assert session.get_one(Question, duplicate).status == QuestionStatus.MERGED


def test_approval_mode_holds_questions_until_approved(database: Database, workspace_id: int) -> None:
    with unit_of_work(database) as session:
        session.scalars(select(questions.Event)).one().questions_need_approval = True
    question_id = ask(database, workspace_id, "Q")
    with unit_of_work(database) as session:
        assert session.get_one(Question, question_id).status == QuestionStatus.AWAITING_APPROVAL
    with unit_of_work(database) as session:
        questions.approve(session, workspace_id=workspace_id, question_id=question_id, by_slack_id=CHAIR)
    with unit_of_work(database) as session:
        assert session.get_one(Question, question_id).status == QuestionStatus.OPEN


def test_answers_and_dismissals(database: Database, workspace_id: int) -> None:
    answered, dismissed = ask(database, workspace_id, "A"), ask(database, workspace_id, "B")
    with unit_of_work(database) as session:
        questions.answer_in_writing(session, workspace_id=workspace_id, question_id=answered, by_slack_id=PRESENTER,
                                    text="Start small.", now=NOW)
        with pytest.raises(QuestionError, match="empty"):
            questions.dismiss(session, workspace_id=workspace_id, question_id=dismissed, by_slack_id=CHAIR, reason=" ")
    with unit_of_work(database) as session:
        questions.dismiss(session, workspace_id=workspace_id, question_id=dismissed, by_slack_id=CHAIR, reason="Off topic")
    with unit_of_work(database) as session:
        assert session.get_one(Question, answered).status == QuestionStatus.ANSWERED
        assert session.get_one(Question, dismissed).dismissed_reason == "Off topic"
        with pytest.raises(QuestionError, match="Voting has closed"):
            questions.toggle_vote(session, workspace_id=workspace_id, question_id=answered, voter_slack_id=BOB, now=NOW)


def test_the_speaking_queue_keeps_order(database: Database, workspace_id: int) -> None:
    with unit_of_work(database) as session:
        places = [questions.join_speaking_queue(session, workspace_id=workspace_id, channel_id=CHANNEL, slack_user_id=u)
                  for u in (ALICE, BOB, ALICE, CAROL)]
    assert places == [1, 2, 1, 3]
    with unit_of_work(database) as session:
        event_id = session.scalars(select(questions.Event.id)).one()
        assert questions.bring_in_next(session, event_id=event_id, now=NOW) == ALICE
        assert questions.speaking_queue(session, event_id=event_id) == [BOB, CAROL]


def test_a_batch_of_clicks_follows_the_same_rules_as_one_click(database: Database, workspace_id: int) -> None:
    first, second = ask(database, workspace_id, "Batched?"), ask(database, workspace_id, "Answered?")
    with unit_of_work(database) as session:
        questions.mark_answered_live(session, workspace_id=workspace_id, question_id=second, by_slack_id=CHAIR,
                                     now=datetime(2031, 3, 3, 15, tzinfo=timezone.utc))
    start = datetime(2031, 3, 3, 15, 1, tzinfo=timezone.utc)

    def click(question_id: int, who: str, seconds: float, workspace: int = workspace_id) -> questions.VoteClick:
        return questions.VoteClick(workspace, question_id, who, start + timedelta(seconds=seconds))

    with unit_of_work(database) as session:
        touched, refused, stands = questions.record_votes(session, clicks=[
            click(first, "U0NEWVOTER", 0), click(first, "U0NEWVOTER", 1),  # a double click: one vote
            click(first, BOB, 0), click(first, BOB, 5),  # voted, then taken back
            click(second, BOB, 0),  # answered: voting has closed
            click(first, ALICE, 0, workspace=workspace_id + 1),  # another workspace's question
        ])
    assert set(touched) == {first}
    assert refused == [(4, "Voting has closed on this question."), (5, "That question no longer exists.")]
    # What each voter is told: the double click still counts; the vote taken back does not.
    assert stands == {0: True, 1: True, 2: True, 3: False}
    with unit_of_work(database) as session:
        assert session.scalar(select(func.count(Vote.id)).where(Vote.question_id == first)) == 1
    with unit_of_work(database) as session:  # a later batch takes the new voter's vote back
        questions.record_votes(session, clicks=[click(first, "U0NEWVOTER", 10)])
        assert session.scalar(select(func.count(Vote.id)).where(Vote.question_id == first)) == 0


def test_the_same_question_sent_twice_is_stored_once(database: Database, workspace_id: int) -> None:
    """Slack told them it timed out, so they asked again: one question, and they are told why."""
    first = ask(database, workspace_id, "Sent twice?")
    with pytest.raises(QuestionError, match="posted already"):
        ask(database, workspace_id, "Sent twice?")
    assert count(database, Question, text="Sent twice?") == 1
    ask(database, workspace_id, "Sent twice?", by=BOB)  # someone else may ask the same
    with unit_of_work(database) as session:  # and the asker may ask it again much later
        session.get_one(Question, first).created_at -= timedelta(minutes=11)
    ask(database, workspace_id, "Sent twice?")
    assert count(database, Question, text="Sent twice?") == 3


def test_a_nul_in_a_question_is_dropped_rather_than_refused_by_the_database(database: Database, workspace_id: int) -> None:
    question_id = ask(database, workspace_id, "0\x00 and more\x00")
    with unit_of_work(database) as session:
        assert session.get_one(Question, question_id).text == "0 and more"
    with pytest.raises(QuestionError, match="empty"):
        ask(database, workspace_id, "\x00\x00")

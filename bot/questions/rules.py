"""Questions: asking, voting and moderating, and the queue to ask aloud.

Askers of anonymous questions are kept (so they can be told when their question is answered) but
never shown: every view of a question goes through `QuestionCard`, which carries no asker for
anonymous questions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot import home_tabs, outbox
from bot.clock import utcnow
from bot.errors import UserError
from bot.events import people
from bot.events.rules import current_event, event_to_run, latest_event
from bot.models import (
    AgendaSegment,
    Delivery,
    DeliveryStatus,
    Event,
    EventRole,
    EventStatus,
    FollowUp,
    Person,
    Question,
    QuestionStatus,
    Role,
    SpeakingQueueEntry,
    Vote,
)
from bot.slack.text import too_long, visible

# What questions post through the outbox (bot/questions/posts.py renders them when they are sent).
QUESTION_CARD = "question_card"
CARD_REDRAW = "card_redraw"
ANSWER_POST = "answer_post"

# Limits as Slack shows the text (escaped): see bot/slack/text.py.
MAX_QUESTION_LENGTH = 1000
MAX_ANSWER_LENGTH = 3000
MAX_REASON_LENGTH = 500
# A second click by the same person this soon after their vote is a double click, not a change of mind.
DOUBLE_CLICK_WINDOW = timedelta(seconds=2)
MODERATORS = frozenset({Role.ORGANISER, Role.CHAIR, Role.MODERATOR})
VOTABLE = frozenset({QuestionStatus.OPEN, QuestionStatus.FOLLOW_UP})


class QuestionError(UserError):
    pass


class AskedAgain(QuestionError):
    """The same words from the same person, moments after: the question is stored already."""


@dataclass(frozen=True)
class QuestionCard:
    """Everything a question card shows; `askers` never includes an anonymous asker's name."""

    question_id: int
    event_id: int
    channel_id: str
    text: str
    status: QuestionStatus
    votes: int
    askers: tuple[str, ...]  # Slack user ids of credited, non-anonymous askers
    anonymous_askers: int
    segment_title: str | None
    presenter_slack_id: str | None
    answer_text: str | None
    merged_into_text: str | None
    card_message_ts: str | None


# --- asking ------------------------------------------------------------------------------------


def check_text(text: str, *, what: str = "question", limit: int = MAX_QUESTION_LENGTH) -> str:
    """The text as it will be stored, once it is known to show as something and to fit `limit` as
    Slack shows it (escaped), so its card, answer post or notice can always be built."""
    # A NUL is never something a person typed, and PostgreSQL cannot store one in text.
    text = (text or "").replace("\x00", "").strip()
    if not visible(text):
        raise QuestionError(f"Your {what} is empty: type it after `/ask`, for example `/ask How did you start?`"
                            if what == "question" else f"The {what} is empty: write a few words.")
    problem = too_long(text, limit=limit, subject=f"Your {what}" if what != "reason" else "The reason")
    if problem:
        raise QuestionError(problem)
    return text


def event_for_questions(session: Session, *, workspace_id: int, channel_id: str) -> Event:
    event = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
    if event is None:
        raise QuestionError(
            "There is no live event in this channel, so your question has nowhere to go. Ask in the channel "
            "where your session is running (nothing was saved)."
        )
    return event


# The same words from the same person within this long are the same question sent twice.
ASKED_AGAIN_WITHIN = timedelta(minutes=10)


def check_can_ask(session: Session, *, workspace_id: int, channel_id: str, text: str) -> QuestionStatus:
    """What `ask` would check, without writing: the status the question will get."""
    check_text(text)
    event = event_for_questions(session, workspace_id=workspace_id, channel_id=channel_id)
    return QuestionStatus.AWAITING_APPROVAL if event.questions_need_approval else QuestionStatus.OPEN


def ask(
    session: Session,
    *,
    workspace_id: int,
    channel_id: str,
    asker_slack_id: str,
    text: str,
    anonymous: bool = False,
    for_presenter_slack_id: str | None = None,
    source_message_ts: str | None = None,
    organisation_shared: bool = False,
) -> Question:
    """Store a question for the channel's event: checked first, so a refused one leaves nothing."""
    text = check_text(text)
    event = event_for_questions(session, workspace_id=workspace_id, channel_id=channel_id)
    presenter_id = None
    if for_presenter_slack_id:
        presenter = session.scalar(
            select(Person).join(EventRole, EventRole.person_id == Person.id).where(
                EventRole.event_id == event.id, EventRole.role == Role.PRESENTER,
                Person.slack_user_id == for_presenter_slack_id)
        )
        if presenter is None:
            raise QuestionError("That person is not one of this event's presenters; choose a presenter or leave it blank.")
        presenter_id = presenter.id
    if source_message_ts is not None:
        existing = session.scalar(select(Question).where(
            Question.event_id == event.id, Question.source_message_ts == source_message_ts))
        if existing is not None:
            raise QuestionError("That message is already a question.")
    asker = people.person(session, workspace_id=workspace_id, slack_user_id=asker_slack_id)
    if source_message_ts is None and session.scalar(select(Question.id).where(
            Question.event_id == event.id, Question.asker_person_id == asker.id, Question.text == text,
            Question.status.in_((QuestionStatus.OPEN, QuestionStatus.AWAITING_APPROVAL)),
            Question.created_at >= utcnow() - ASKED_AGAIN_WITHIN).limit(1)) is not None:
        # Sent twice (Slack said it timed out, so they asked again): one card, not two.
        raise AskedAgain("You asked that a moment ago and it is posted already, so it was not added twice.")
    people.grant(session, event=event, person=asker, role=Role.ATTENDEE)
    question = Question(
        event_id=event.id,
        asker_person_id=asker.id,
        anonymous=anonymous,
        # Only an anonymous asker's choice matters: a named question always counts for its asker's organisation.
        organisation_shared=anonymous and organisation_shared,
        text=text,
        segment_id=_current_segment_id(session, event.id),
        for_presenter_person_id=presenter_id,
        status=QuestionStatus.AWAITING_APPROVAL if event.questions_need_approval else QuestionStatus.OPEN,
        source_message_ts=source_message_ts,
    )
    session.add(question)
    session.flush()
    return question


def _current_segment_id(session: Session, event_id: int) -> int | None:
    return session.scalar(
        select(AgendaSegment.id)
        .where(AgendaSegment.event_id == event_id, AgendaSegment.announced_at.is_not(None))
        .order_by(AgendaSegment.position.desc())
        .limit(1)
    )


def presenters_of(session: Session, *, workspace_id: int, channel_id: str) -> list[tuple[str, str]]:
    """(Slack id, name) of the channel's event's presenters, for the ask form."""
    event = event_for_questions(session, workspace_id=workspace_id, channel_id=channel_id)
    return [(p.slack_user_id, p.display_name or p.slack_user_id)
            for p in people.people_with_role(session, event=event, role=Role.PRESENTER)]


def record_card(session: Session, *, question_id: int, message_ts: str) -> None:
    session.get_one(Question, question_id).card_message_ts = message_ts


# --- voting ------------------------------------------------------------------------------------


def toggle_vote(session: Session, *, workspace_id: int, question_id: int, voter_slack_id: str, now: datetime) -> bool:
    """Vote, or take a vote back; True if the person's vote stands afterwards.

    One vote per person per question is the database's rule (a unique constraint), so a burst of
    concurrent clicks inserts one row; a second click within the double-click window is ignored
    rather than read as taking the vote back.
    """
    question = question_in(session, workspace_id=workspace_id, question_id=question_id)
    if question.status not in VOTABLE:
        raise QuestionError("Voting has closed on this question.")
    voter = people.person(session, workspace_id=workspace_id, slack_user_id=voter_slack_id)
    vote = session.scalar(select(Vote).where(Vote.question_id == question_id, Vote.person_id == voter.id))
    if vote is not None:
        if now - vote.created_at < DOUBLE_CLICK_WINDOW:
            return True
        session.delete(vote)
        return False
    try:
        with session.begin_nested():
            session.add(Vote(question_id=question_id, person_id=voter.id, created_at=now))
            session.flush()
    except IntegrityError:
        pass  # a concurrent click from the same person got there first
    return True


@dataclass(frozen=True)
class VoteClick:
    workspace_id: int
    question_id: int
    voter_slack_id: str
    at: datetime


def record_votes(session: Session, *, clicks: list[VoteClick],
                 redraw_at: datetime | None = None) -> tuple[dict[int, int], list[tuple[int, str]], dict[int, bool]]:
    """A batch of clicks, in the order they came, with the rules of `toggle_vote` and a fixed number
    of queries: the questions, the voters (made if new), their votes, then the inserts and deletes,
    and with `redraw_at` the redraws of the cards touched (`request_redraws`, from what is loaded).

    Returns the questions whose count may have changed (with the event of each), (index, reason) for refused clicks, and for
    each click that was taken, whether that person's vote stands after it (so each voter can be told).
    """
    refused: list[tuple[int, str]] = []
    question_ids = {c.question_id for c in clicks}
    # Columns, not Question objects: the batch only reads them, and in a burst the writer shares
    # the web process's GIL with every acknowledgement.
    found = {row.id: row for row in session.execute(
        select(Question.id, Question.status, Question.event_id, Event.workspace_id, Event.channel_id,
               Event.status.label("event_status"))
        .join(Event, Event.id == Question.event_id).where(Question.id.in_(question_ids)))}
    valid: list[tuple[int, VoteClick]] = []
    for index, click in enumerate(clicks):
        question = found.get(click.question_id)
        if question is None or question.workspace_id != click.workspace_id:
            refused.append((index, "That question no longer exists."))
        elif question.event_status not in (EventStatus.SCHEDULED, EventStatus.LIVE):
            # After the close the counts are what the room decided; the follow-ups are ordered by them.
            refused.append((index, "The session has closed, so votes no longer count: yours was not added."))
        elif question.status not in VOTABLE:
            refused.append((index, "Voting has closed on this question."))
        else:
            valid.append((index, click))
    if not valid:
        return {}, refused, {}
    persons = people.people_by_slack_id(session, workspace_ids_and_slack_ids={
        (c.workspace_id, c.voter_slack_id) for _, c in valid})
    standing = {(v.question_id, v.person_id): v for v in session.execute(
        select(Vote.id, Vote.question_id, Vote.person_id, Vote.created_at).where(
            Vote.question_id.in_({c.question_id for _, c in valid}),
            Vote.person_id.in_({persons[(c.workspace_id, c.voter_slack_id)] for _, c in valid})))}
    added: dict[tuple[int, int], datetime] = {}
    removed: set[tuple[int, int]] = set()
    stands: dict[int, bool] = {}
    for index, click in valid:
        key = (click.question_id, persons[(click.workspace_id, click.voter_slack_id)])
        created = added.get(key) or (standing[key].created_at if key in standing and key not in removed else None)
        if created is None:
            added[key] = click.at
            removed.discard(key)
        elif click.at - created >= DOUBLE_CLICK_WINDOW:  # taken back; a double click is ignored
            added.pop(key, None)
            if key in standing:
                removed.add(key)
        stands[index] = key in added or (key in standing and key not in removed)
    if removed:
        session.execute(delete(Vote).where(Vote.id.in_([standing[key].id for key in removed])))
    new = [{"question_id": q, "person_id": p, "created_at": at} for (q, p), at in added.items() if (q, p) not in standing]
    if new:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        # A concurrent click from the same person may have got there first: one vote either way.
        # The rows go as parameters of one statement, compiled once per process: a VALUES clause
        # built from them would be compiled afresh for every batch, on the GIL the acks need.
        session.execute(insert(Vote.__table__).on_conflict_do_nothing(), new)
    touched = {c.question_id: found[c.question_id].event_id for _, c in valid}
    if redraw_at is not None:
        _enqueue_redraws(session, [(q, found[q].event_id, found[q].workspace_id, found[q].channel_id)
                                   for q in sorted(touched)], now=redraw_at)
    return touched, refused, stands


def question_in(session: Session, *, workspace_id: int, question_id: int) -> Question:
    question = session.get(Question, question_id)
    if question is None or session.get_one(Event, question.event_id).workspace_id != workspace_id:
        raise QuestionError("That question no longer exists.")
    return question


# --- moderating ----------------------------------------------------------------------------------


def require_moderator(session: Session, *, workspace_id: int, question_id: int, slack_user_id: str, action: str) -> Question:
    question = question_in(session, workspace_id=workspace_id, question_id=question_id)
    event = session.get_one(Event, question.event_id)
    if not people.roles_of(session, event=event, slack_user_id=slack_user_id) & MODERATORS:
        raise people.NotAllowed(f"Only a chair or moderator can {action}.")
    return question


def _moderate(session: Session, *, workspace_id: int, question_id: int, slack_user_id: str, action: str,
              allowed_from: frozenset[QuestionStatus]) -> Question:
    question = require_moderator(session, workspace_id=workspace_id, question_id=question_id,
                                 slack_user_id=slack_user_id, action=action)
    if question.status not in allowed_from:
        raise QuestionError(f"This question is already {question.status.value.replace('_', ' ')}.")
    return question


OPEN_OR_KEPT = frozenset({QuestionStatus.OPEN, QuestionStatus.FOLLOW_UP, QuestionStatus.AWAITING_APPROVAL})


def mark_answered_live(session: Session, *, workspace_id: int, question_id: int, by_slack_id: str, now: datetime) -> Question:
    question = _moderate(session, workspace_id=workspace_id, question_id=question_id, slack_user_id=by_slack_id,
                         action="mark a question answered", allowed_from=OPEN_OR_KEPT)
    question.status = QuestionStatus.ANSWERED_LIVE
    question.answered_at = now
    question.answered_by_person_id = people.person(session, workspace_id=workspace_id, slack_user_id=by_slack_id).id
    return question


def answer_in_writing(session: Session, *, workspace_id: int, question_id: int, by_slack_id: str, text: str,
                      now: datetime) -> Question:
    text = check_text(text, what="answer", limit=MAX_ANSWER_LENGTH)
    question = require_moderator_or_presenter(session, workspace_id=workspace_id, question_id=question_id,
                                              slack_user_id=by_slack_id)
    if question.status not in OPEN_OR_KEPT:
        raise QuestionError(f"This question is already {question.status.value.replace('_', ' ')}.")
    answerer = people.person(session, workspace_id=workspace_id, slack_user_id=by_slack_id)
    question.status = QuestionStatus.ANSWERED
    question.answer_text = text
    question.answered_at = now
    question.answered_by_person_id = answerer.id
    follow_up = session.scalar(select(FollowUp).where(FollowUp.question_id == question.id))
    if follow_up is not None:
        follow_up.answer_text, follow_up.answered_at, follow_up.answered_by_person_id = text, now, answerer.id
    return question


def require_moderator_or_presenter(session: Session, *, workspace_id: int, question_id: int, slack_user_id: str) -> Question:
    """Presenters answer the questions kept for follow-up; chairs and moderators answer any."""
    question = question_in(session, workspace_id=workspace_id, question_id=question_id)
    event = session.get_one(Event, question.event_id)
    roles = people.roles_of(session, event=event, slack_user_id=slack_user_id)
    if roles & MODERATORS or Role.PRESENTER in roles:
        return question
    # A follow-up's owner (a follow-up lead, say) answers it without another role.
    owner = session.scalar(select(Person.slack_user_id).join(FollowUp, FollowUp.assigned_person_id == Person.id)
                           .where(FollowUp.question_id == question.id))
    if owner == slack_user_id:
        return question
    raise people.NotAllowed("Only a chair, moderator, presenter or the question's owner can answer it.")


def dismiss(session: Session, *, workspace_id: int, question_id: int, by_slack_id: str, reason: str) -> Question:
    reason = check_text(reason, what="reason", limit=MAX_REASON_LENGTH)
    question = _moderate(session, workspace_id=workspace_id, question_id=question_id, slack_user_id=by_slack_id,
                         action="dismiss a question", allowed_from=OPEN_OR_KEPT)
    question.status = QuestionStatus.DISMISSED
    question.dismissed_reason = reason
    return question


def keep_for_follow_up(session: Session, *, workspace_id: int, question_id: int, by_slack_id: str, now: datetime) -> Question:
    question = _moderate(session, workspace_id=workspace_id, question_id=question_id, slack_user_id=by_slack_id,
                         action="keep a question for follow-up",
                         allowed_from=frozenset({QuestionStatus.OPEN, QuestionStatus.AWAITING_APPROVAL}))
    event = session.get_one(Event, question.event_id)
    question.status = QuestionStatus.FOLLOW_UP
    session.add(FollowUp(question_id=question.id, assigned_person_id=question.for_presenter_person_id,
                         due_at=now + timedelta(days=event.follow_up_days)))
    return question


def approve(session: Session, *, workspace_id: int, question_id: int, by_slack_id: str) -> Question:
    question = _moderate(session, workspace_id=workspace_id, question_id=question_id, slack_user_id=by_slack_id,
                         action="approve a question", allowed_from=frozenset({QuestionStatus.AWAITING_APPROVAL}))
    question.status = QuestionStatus.OPEN
    return question


def merge(session: Session, *, workspace_id: int, question_id: int, into_question_id: int, by_slack_id: str) -> Question:
    """Merge a duplicate into another question: its votes move across, a person who voted for
    both counts once, and its asker is credited on the surviving question."""
    if question_id == into_question_id:
        raise QuestionError("A question cannot be merged into itself.")
    duplicate = _moderate(session, workspace_id=workspace_id, question_id=question_id, slack_user_id=by_slack_id,
                          action="merge questions", allowed_from=OPEN_OR_KEPT)
    target = question_in(session, workspace_id=workspace_id, question_id=into_question_id)
    if target.event_id != duplicate.event_id or target.status not in OPEN_OR_KEPT:
        raise QuestionError("Choose an open question of the same event to merge into.")
    already_voted = select(Vote.person_id).where(Vote.question_id == target.id).scalar_subquery()
    session.execute(delete(Vote).where(Vote.question_id == duplicate.id, Vote.person_id.in_(already_voted)))
    session.execute(update(Vote).where(Vote.question_id == duplicate.id).values(question_id=target.id))
    # Questions merged into the duplicate earlier follow it to the new target.
    session.execute(update(Question).where(Question.merged_into_id == duplicate.id).values(merged_into_id=target.id))
    duplicate.status = QuestionStatus.MERGED
    duplicate.merged_into_id = target.id
    return target


def mergeable_questions(session: Session, *, workspace_id: int, question_id: int) -> list[tuple[int, str]]:
    question = question_in(session, workspace_id=workspace_id, question_id=question_id)
    return [(q.id, q.text) for q in session.scalars(
        select(Question).where(Question.event_id == question.event_id, Question.id != question.id,
                               Question.status.in_(OPEN_OR_KEPT)).order_by(Question.id.desc()).limit(100))]


# --- what a card shows -----------------------------------------------------------------------------


def card(session: Session, *, question_id: int) -> QuestionCard:
    question = session.get_one(Question, question_id)
    event = session.get_one(Event, question.event_id)
    votes = session.scalar(select(func.count(Vote.id)).where(Vote.question_id == question.id)) or 0
    credited = session.execute(
        select(Question.anonymous, Person.slack_user_id)
        .outerjoin(Person, Person.id == Question.asker_person_id)
        .where((Question.id == question.id) | (Question.merged_into_id == question.id))
        .order_by(Question.id)
    ).all()
    presenter = session.get(Person, question.for_presenter_person_id) if question.for_presenter_person_id else None
    segment = session.get(AgendaSegment, question.segment_id) if question.segment_id else None
    merged_into = session.get(Question, question.merged_into_id) if question.merged_into_id else None
    return QuestionCard(
        question_id=question.id,
        event_id=event.id,
        channel_id=event.channel_id,
        text=question.text,
        status=question.status,
        votes=votes,
        askers=tuple(dict.fromkeys(slack_id for anonymous, slack_id in credited if not anonymous and slack_id)),
        # An asker who asked to be forgotten is anonymous whatever the row said before.
        anonymous_askers=sum(1 for anonymous, slack_id in credited if anonymous or slack_id is None),
        segment_title=segment.title if segment else None,
        presenter_slack_id=presenter.slack_user_id if presenter else None,
        answer_text=question.answer_text,
        merged_into_text=merged_into.text if merged_into else None,
        card_message_ts=question.card_message_ts,
    )


def askers_to_tell(session: Session, *, question_id: int) -> list[str]:
    """Everyone who asked this question (anonymous or not, merged ones too), to tell them privately."""
    asker = aliased(Person)
    return list(dict.fromkeys(session.scalars(
        select(asker.slack_user_id).join(Question, Question.asker_person_id == asker.id)
        .where((Question.id == question_id) | (Question.merged_into_id == question_id)).order_by(Question.id))))


def moderators_of(session: Session, *, event_id: int) -> list[str]:
    event = session.get_one(Event, event_id)
    ids: list[str] = []
    for role in (Role.CHAIR, Role.MODERATOR):
        ids.extend(p.slack_user_id for p in people.people_with_role(session, event=event, role=role))
    return list(dict.fromkeys(ids))


def name_moderator(session: Session, *, workspace_id: int, channel_id: str, by_slack_id: str, moderator_slack_id: str) -> None:
    event = event_to_run(session, workspace_id=workspace_id, channel_id=channel_id, slack_user_id=by_slack_id,
                         action="name a moderator")
    people.grant(session, event=event,
                 person=people.person(session, workspace_id=workspace_id, slack_user_id=moderator_slack_id),
                 role=Role.MODERATOR)


def set_approval_mode(session: Session, *, workspace_id: int, channel_id: str, by_slack_id: str, on: bool) -> None:
    """Approval mode: new questions go to the chairs first and appear once approved."""
    event = event_to_run(session, workspace_id=workspace_id, channel_id=channel_id, slack_user_id=by_slack_id,
                         action="change how questions are approved")
    event.questions_need_approval = on


# --- asking aloud ----------------------------------------------------------------------------------


def join_speaking_queue(session: Session, *, workspace_id: int, channel_id: str, slack_user_id: str) -> int:
    """Put someone in the queue to speak; their place in it (1 = next)."""
    event = event_for_questions(session, workspace_id=workspace_id, channel_id=channel_id)
    if event.status != EventStatus.LIVE:
        raise QuestionError("The session has not started yet: raise your hand once it is under way.")
    person = people.person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    waiting = _waiting(session, event.id)
    for place, entry in enumerate(waiting, start=1):
        if entry.person_id == person.id:
            return place
    session.add(SpeakingQueueEntry(event_id=event.id, person_id=person.id))
    session.flush()
    return len(waiting) + 1


def leave_speaking_queue(session: Session, *, workspace_id: int, channel_id: str, slack_user_id: str, now: datetime) -> bool:
    event = event_for_questions(session, workspace_id=workspace_id, channel_id=channel_id)
    person = people.person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    result = session.execute(update(SpeakingQueueEntry).where(
        SpeakingQueueEntry.event_id == event.id, SpeakingQueueEntry.person_id == person.id,
        SpeakingQueueEntry.brought_in_at.is_(None), SpeakingQueueEntry.withdrawn_at.is_(None)).values(withdrawn_at=now))
    return bool(result.rowcount)


def _waiting(session: Session, event_id: int) -> list[SpeakingQueueEntry]:
    return list(session.scalars(select(SpeakingQueueEntry).where(
        SpeakingQueueEntry.event_id == event_id, SpeakingQueueEntry.brought_in_at.is_(None),
        SpeakingQueueEntry.withdrawn_at.is_(None)).order_by(SpeakingQueueEntry.joined_at, SpeakingQueueEntry.id)))


def top_questions(session: Session, *, workspace_id: int, channel_id: str, limit: int = 5) -> tuple[Event, list[tuple[str, int]]]:
    """The leading open questions of the channel's event: (text, votes), most votes first.

    For anyone to see, so only what every card already shows: no askers, anonymous or not.
    """
    event = latest_event(session, workspace_id=workspace_id, channel_id=channel_id)
    if event is None:
        raise QuestionError("There is no event in this channel, so no questions yet.")
    votes = func.count(Vote.id)
    rows = session.execute(
        select(Question.text, votes).outerjoin(Vote, Vote.question_id == Question.id)
        .where(Question.event_id == event.id, Question.status.in_((QuestionStatus.OPEN, QuestionStatus.FOLLOW_UP)))
        .group_by(Question.id, Question.text, Question.created_at)
        .order_by(votes.desc(), Question.created_at, Question.id).limit(limit)).all()
    return event, [(text, count) for text, count in rows]


def speaking_queue(session: Session, *, event_id: int) -> list[str]:
    return [session.get_one(Person, entry.person_id).slack_user_id for entry in _waiting(session, event_id)]


def bring_in_next(session: Session, *, event_id: int, now: datetime) -> str | None:
    """The next person in the queue, marked as brought in; None if nobody is waiting."""
    for entry in _waiting(session, event_id):
        won = session.execute(update(SpeakingQueueEntry).where(
            SpeakingQueueEntry.id == entry.id, SpeakingQueueEntry.brought_in_at.is_(None)).values(brought_in_at=now)).rowcount
        if won:
            return session.get_one(Person, entry.person_id).slack_user_id
    return None


# --- what must be posted -----------------------------------------------------------------------------


def request_card(session: Session, *, question: Question, now: datetime) -> None:
    """The question's card, posted once (rendered as the question is when it goes out)."""
    event = session.get_one(Event, question.event_id)
    outbox.enqueue(session, kind=QUESTION_CARD, recipient=event.channel_id, now=now, workspace_id=event.workspace_id,
                   event_id=event.id, subject_id=question.id, dedupe_key=f"card:{question.id}")
    home_tabs.refresh_for_questions(session, question_ids=[question.id], now=now)


# A redraw waits this long, so the changes of a burst (votes clicked together) make one redraw.
REDRAW_AFTER = timedelta(seconds=1)
# chat.update's Tier 3 budget is ~50 a minute per workspace; redraws stay just inside it.
CARD_UPDATES_PER_MINUTE = 48
REDRAW_PACE = timedelta(seconds=60 / CARD_UPDATES_PER_MINUTE)
# Waiting redraws fall due this far apart: the pace, and a moment for the sender to claim and send
# each. Due exactly a pace apart, every row was claimed a little before the last redraw was a pace
# old, put back, and claimed again (bench/qa_burst.py: 71 such round trips for 37 redraws).
REDRAW_SPACING = REDRAW_PACE + timedelta(milliseconds=50)


def request_redraw(session: Session, *, question_id: int, now: datetime) -> None:
    """The card shows something out of date: one more redraw, however many changes come before it."""
    request_redraws(session, question_ids=[question_id], now=now)


def request_redraws(session: Session, *, question_ids: Iterable[int], now: datetime) -> None:
    """One more redraw for each of these cards (a vote batch touches many): one query to find their
    channels and one to add the rows, each coalescing with a redraw already waiting."""
    found = session.execute(
        select(Question.id, Event.id, Event.workspace_id, Event.channel_id)
        .join(Event, Event.id == Question.event_id).where(Question.id.in_(sorted(set(question_ids))))).all()
    _enqueue_redraws(session, [tuple(row) for row in found], now=now)
    # A moderation, an answer or a merge changes the Home tabs that list the question too. Votes
    # (record_votes) do not redraw Homes: a vote storm would become a views.publish storm, and
    # a 429 there pauses every post of the process.
    home_tabs.refresh_for_questions(session, question_ids=[row[0] for row in found], now=now)


def _enqueue_redraws(session: Session, cards: list[tuple[int, int, int, str]], *, now: datetime) -> None:
    """(question, event, workspace, channel) of each card: its redraw rows, in one statement.

    A card whose redraw is waiting needs no other. A new one is due a spacing after the last one
    waiting in its workspace, so that in a burst the sender claims each redraw when its turn comes,
    instead of claiming every one as it falls due only to be told how long to wait.
    """
    if not cards:
        return
    # Only what the batch needs, not every redraw waiting: in a burst a whole room's cards wait
    # their turn, and reading them all for every batch of clicks cost the acks their GIL.
    pending = (Delivery.kind == CARD_REDRAW, Delivery.status == DeliveryStatus.PENDING)
    queued = set(session.scalars(select(Delivery.coalesce_key).where(
        *pending, Delivery.coalesce_key.in_([f"redraw:{question_id}" for question_id, _, _, _ in cards]))))
    last_due: dict[int, datetime] = {workspace_id: due for workspace_id, due in session.execute(
        select(Delivery.workspace_id, func.max(Delivery.next_attempt_at)).where(
            *pending, Delivery.workspace_id.in_({workspace_id for _, _, workspace_id, _ in cards}))
        .group_by(Delivery.workspace_id)) if due is not None}
    posts = []
    for question_id, event_id, workspace_id, channel_id in cards:
        key = f"redraw:{question_id}"
        if key in queued:
            continue
        due = now + REDRAW_AFTER
        if workspace_id in last_due:
            due = max(due, last_due[workspace_id] + REDRAW_SPACING)
        last_due[workspace_id] = due
        # The insert still coalesces: a redraw asked for by another transaction meanwhile wins.
        posts.append({"kind": CARD_REDRAW, "recipient": channel_id, "workspace_id": workspace_id,
                      "event_id": event_id, "subject_id": question_id, "coalesce_key": key, "due_at": due})
    outbox.enqueue_all(session, now=now, posts=posts)


def request_answer_post(session: Session, *, question: Question, answerer_slack_id: str, now: datetime) -> None:
    """A written answer, posted in the card's thread."""
    event = session.get_one(Event, question.event_id)
    outbox.enqueue(session, kind=ANSWER_POST, recipient=event.channel_id, now=now, workspace_id=event.workspace_id,
                   event_id=event.id, subject_id=question.id, payload={"answerer": answerer_slack_id},
                   dedupe_key=f"answer:{question.id}")

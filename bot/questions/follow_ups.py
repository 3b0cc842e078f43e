"""After the event: every unanswered question is owned, answered (or declined), nudged, and closed out.

The seed event promised "any unanswered questions will be taken away and answered after the
event". When an event closes, every question still open, and every question kept for follow-up,
becomes a follow-up with an owner (the presenter it was asked of; otherwise the event's follow-up
lead; otherwise the chairs, together) and a due date (the close plus the event's
`follow_up_days`). Owners are nudged as the due date approaches and once when it has passed, and
when every follow-up is answered or declined, or the window ends, the channel hears how it went.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from bot import clock, home_tabs
from bot.errors import UserError
from bot.events import people
from bot.models import Event, EventStatus, FollowUp, Person, Question, QuestionStatus, Role, Vote
from bot.questions import rules as questions
from bot.reflections.rules import neutralise_for_spreadsheet
from bot.workspaces import installed

# What the ledger posts through the outbox (bot/questions/posts.py renders them).
FOLLOW_UP_LIST = "follow_up_list"  # one owner's DM listing their questions
CLOSE_OUT = "close_out"  # the channel hears how the follow-ups went

# Owners are nudged from this long before the due date, at most once a day, and once when overdue.
NUDGE_BEFORE = timedelta(days=3)
NUDGE_EVERY = timedelta(days=1)
# ... and only between these hours in their own time zone: never at night.
DAY_STARTS, DAY_ENDS = 9, 19
MAX_DECLINE_LENGTH = 500


class FollowUpError(UserError):
    pass


@dataclass(frozen=True)
class LedgerRow:
    question_id: int
    text: str
    votes: int
    asker_slack_id: str | None  # None for an anonymous question
    owner_slack_id: str | None  # None: the chairs
    due_at: datetime | None
    answered_at: datetime | None
    answer_text: str | None
    answer_permalink: str | None
    declined_reason: str | None
    # Names for plain-text places (the CSV); Slack posts mention the IDs instead.
    asker_name: str | None = None
    owner_name: str | None = None

    @property
    def state(self) -> str:
        if self.answered_at is not None:
            return "answered"
        if self.declined_reason is not None:
            return "declined"
        return "open"

    def overdue(self, now: datetime) -> bool:
        return self.state == "open" and self.due_at is not None and self.due_at < now


# --- at the close ----------------------------------------------------------------------------------


def open_ledger(session: Session, *, event_id: int, now: datetime) -> dict[str | None, list[int]]:
    """Give every unanswered question of a closed event an owner and a due date, once.

    Returns each owner's Slack id (None for the chairs) with their questions; empty if the ledger
    was opened already (a conditional update makes the close's aftermath happen exactly once).
    """
    won = session.execute(
        update(Event).where(Event.id == event_id, Event.status == EventStatus.CLOSED,
                            Event.follow_ups_opened_at.is_(None))
        .values(follow_ups_opened_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return {}
    event = session.get_one(Event, event_id)
    due = (event.closed_at or now) + timedelta(days=event.follow_up_days)
    lead = (people.person(session, workspace_id=event.workspace_id, slack_user_id=event.follow_up_lead_slack_id)
            if event.follow_up_lead_slack_id else None)
    owners: dict[str | None, list[int]] = {}
    unanswered = session.scalars(select(Question).where(
        Question.event_id == event_id, Question.status.in_((QuestionStatus.OPEN, QuestionStatus.FOLLOW_UP)))
        .order_by(Question.id))
    for question in unanswered:
        question.status = QuestionStatus.FOLLOW_UP
        follow_up = session.scalar(select(FollowUp).where(FollowUp.question_id == question.id))
        if follow_up is None:
            follow_up = FollowUp(question_id=question.id)
            session.add(follow_up)
        follow_up.due_at = due
        if follow_up.assigned_person_id is None:
            follow_up.assigned_person_id = question.for_presenter_person_id or (lead.id if lead else None)
        session.flush()
        owner = session.get(Person, follow_up.assigned_person_id) if follow_up.assigned_person_id else None
        owners.setdefault(owner.slack_user_id if owner else None, []).append(question.id)
    home_tabs.refresh_for_questions(session, question_ids=[q for ids in owners.values() for q in ids], now=now)
    return owners


def closed_without_ledger(session: Session) -> list[int]:
    return list(session.scalars(select(Event.id).where(
        Event.status == EventStatus.CLOSED, Event.follow_ups_opened_at.is_(None), installed(Event.workspace_id))
        .order_by(Event.id)))


def chairs_of(session: Session, *, event: Event) -> list[str]:
    return [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.CHAIR)]


def recipients_for(session: Session, *, event: Event, owner_slack_id: str | None) -> list[str]:
    """Who is sent an owner's list: the owner, or every chair for the chairs' questions."""
    return [owner_slack_id] if owner_slack_id else chairs_of(session, event=event)


# --- the ledger ------------------------------------------------------------------------------------


def ledger(session: Session, *, event_id: int, owner_slack_id: str | None = None,
           only_owner: bool = False) -> list[LedgerRow]:
    """The event's follow-ups, most voted first; `only_owner`: just those of one owner (None: the chairs')."""
    owner = aliased(Person)
    asker = aliased(Person)
    votes = (select(Vote.question_id, func.count(Vote.id).label("votes")).group_by(Vote.question_id).subquery())
    query = (
        select(Question, FollowUp, asker.slack_user_id, owner.slack_user_id, func.coalesce(votes.c.votes, 0),
               asker.display_name, owner.display_name)
        .join(FollowUp, FollowUp.question_id == Question.id)
        .outerjoin(asker, asker.id == Question.asker_person_id)
        .outerjoin(owner, owner.id == FollowUp.assigned_person_id)
        .outerjoin(votes, votes.c.question_id == Question.id)
        .where(Question.event_id == event_id)
        .order_by(func.coalesce(votes.c.votes, 0).desc(), Question.id)
    )
    if only_owner:
        query = query.where(owner.slack_user_id == owner_slack_id if owner_slack_id
                            else FollowUp.assigned_person_id.is_(None))
    return [
        LedgerRow(question_id=question.id, text=question.text, votes=count,
                  asker_slack_id=None if question.anonymous else asker_id, owner_slack_id=owner_id,
                  due_at=follow_up.due_at, answered_at=follow_up.answered_at, answer_text=follow_up.answer_text,
                  answer_permalink=question.answer_permalink, declined_reason=follow_up.declined_reason,
                  asker_name=None if question.anonymous else asker_name, owner_name=owner_name)
        for question, follow_up, asker_id, owner_id, count, asker_name, owner_name in session.execute(query)
    ]


def _follow_up_of(session: Session, *, workspace_id: int, question_id: int) -> tuple[Question, FollowUp, Event]:
    question = questions.question_in(session, workspace_id=workspace_id, question_id=question_id)
    follow_up = session.scalar(select(FollowUp).where(FollowUp.question_id == question.id))
    if follow_up is None:
        raise FollowUpError("That question is not kept for follow-up.")
    return question, follow_up, session.get_one(Event, question.event_id)


def may_handle(session: Session, *, event: Event, follow_up: FollowUp, slack_user_id: str) -> bool:
    """Its owner may answer, hand over or decline it; so may the chairs and organisers, for any."""
    if people.roles_of(session, event=event, slack_user_id=slack_user_id) & people.RUNNERS:
        return True
    owner = session.get(Person, follow_up.assigned_person_id) if follow_up.assigned_person_id else None
    return owner is not None and owner.slack_user_id == slack_user_id


def require_handler(session: Session, *, workspace_id: int, question_id: int,
                    slack_user_id: str) -> tuple[Question, FollowUp, Event]:
    question, follow_up, event = _follow_up_of(session, workspace_id=workspace_id, question_id=question_id)
    if not may_handle(session, event=event, follow_up=follow_up, slack_user_id=slack_user_id):
        raise people.NotAllowed("Only its owner, a chair or an organiser can do that with this question.")
    if follow_up.answered_at is not None or follow_up.declined_at is not None:
        raise FollowUpError("This question has been dealt with already.")
    return question, follow_up, event


def hand_over(session: Session, *, workspace_id: int, question_id: int, by_slack_id: str, to_slack_id: str,
              now: datetime) -> tuple[Question, Event]:
    """Give a follow-up to someone else; they become its owner."""
    question, follow_up, event = require_handler(session, workspace_id=workspace_id, question_id=question_id,
                                                 slack_user_id=by_slack_id)
    if not to_slack_id:
        raise FollowUpError("Choose who should answer it.")
    previous_owner = follow_up.assigned_person_id
    follow_up.assigned_person_id = people.person(session, workspace_id=workspace_id, slack_user_id=to_slack_id).id
    follow_up.nudged_at = follow_up.overdue_nudged_at = None
    session.flush()
    home_tabs.refresh_people(session, person_ids=[previous_owner] if previous_owner else [], now=now)
    home_tabs.refresh_for_questions(session, question_ids=[question.id], now=now)
    return question, event


def decline(session: Session, *, workspace_id: int, question_id: int, by_slack_id: str, reason: str,
            now: datetime) -> tuple[Question, Event]:
    """The owner cannot answer it; the askers will be told why."""
    reason = questions.check_text(reason, what="reason", limit=MAX_DECLINE_LENGTH)
    question, follow_up, event = require_handler(session, workspace_id=workspace_id, question_id=question_id,
                                                 slack_user_id=by_slack_id)
    follow_up.declined_reason, follow_up.declined_at = reason, now
    home_tabs.refresh_for_questions(session, question_ids=[question.id], now=now)
    return question, event


def upvoters_to_tell(session: Session, *, question_id: int) -> list[str]:
    """Everyone who upvoted, but not the askers (they are told as askers)."""
    askers = set(questions.askers_to_tell(session, question_id=question_id))
    voters = session.scalars(select(Person.slack_user_id).join(Vote, Vote.person_id == Person.id)
                             .where(Vote.question_id == question_id).order_by(Vote.id))
    return [voter for voter in dict.fromkeys(voters) if voter not in askers]


# --- nudges ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nudge:
    event_id: int
    owner_slack_id: str | None  # None: the chairs
    overdue: bool
    follow_up_ids: tuple[int, ...]


def nudges_due(session: Session, *, now: datetime) -> list[Nudge]:
    """Owners whose open follow-ups are nearly due (not nudged in the last day) or overdue (not yet told)."""
    owner = aliased(Person)
    rows = session.execute(
        select(FollowUp, Question.event_id, owner.slack_user_id)
        .join(Question, Question.id == FollowUp.question_id)
        .join(Event, Event.id == Question.event_id)
        .outerjoin(owner, owner.id == FollowUp.assigned_person_id)
        .where(Event.closed_out_at.is_(None), installed(Event.workspace_id), FollowUp.answered_at.is_(None),
               FollowUp.declined_at.is_(None),
               FollowUp.due_at.is_not(None), FollowUp.due_at <= now + NUDGE_BEFORE)
        .order_by(Question.event_id, FollowUp.id)
    ).all()
    grouped: dict[tuple[int, str | None], list[FollowUp]] = {}
    for follow_up, event_id, owner_id in rows:
        grouped.setdefault((event_id, owner_id), []).append(follow_up)
    nudges = []
    for (event_id, owner_id), follow_ups in grouped.items():
        overdue = [f for f in follow_ups if f.due_at is not None and f.due_at <= now and f.overdue_nudged_at is None]
        if overdue:
            nudges.append(Nudge(event_id, owner_id, True, tuple(f.id for f in follow_ups)))
            continue
        last = max((f.nudged_at for f in follow_ups if f.nudged_at), default=None)
        pending = [f for f in follow_ups if f.due_at is not None and f.due_at > now]
        if pending and (last is None or now - last >= NUDGE_EVERY):
            nudges.append(Nudge(event_id, owner_id, False, tuple(f.id for f in follow_ups)))
    return nudges


def record_nudge(session: Session, *, nudge: Nudge, now: datetime) -> None:
    values: dict[str, datetime] = {"nudged_at": now}
    if nudge.overdue:
        values["overdue_nudged_at"] = now
    session.execute(update(FollowUp).where(FollowUp.id.in_(nudge.follow_up_ids)).values(**values)
                    .execution_options(synchronize_session=False))


def is_daytime(moment: datetime, zone_name: str) -> bool:
    try:
        local = moment.astimezone(clock.zone(zone_name))
    except ValueError:
        return True
    return DAY_STARTS <= local.hour < DAY_ENDS


def give_back_to_the_chairs(session: Session, *, nudge: Nudge) -> None:
    """The owner's account is deactivated: their follow-ups go back to the chairs."""
    session.execute(update(FollowUp).where(FollowUp.id.in_(nudge.follow_up_ids))
                    .values(assigned_person_id=None, nudged_at=None, overdue_nudged_at=None)
                    .execution_options(synchronize_session=False))


# --- the close-out -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcomes:
    answered_live: int
    answered_in_session: int
    answered_after: int
    not_answered: int
    answers_after: tuple[tuple[str, str | None], ...]  # (question, link to its answer) answered after the event


def outcomes(session: Session, *, event_id: int) -> Outcomes:
    event = session.get_one(Event, event_id)
    closed_at = event.closed_at or event.ends_at
    counted = session.scalars(select(Question).where(
        Question.event_id == event_id,
        Question.status.in_((QuestionStatus.OPEN, QuestionStatus.ANSWERED_LIVE, QuestionStatus.ANSWERED,
                             QuestionStatus.FOLLOW_UP))).order_by(Question.id)).all()
    live = in_session = 0
    after: list[tuple[str, str | None]] = []
    for question in counted:
        if question.status == QuestionStatus.ANSWERED_LIVE:
            live += 1
        elif question.status == QuestionStatus.ANSWERED and question.answered_at is not None:
            if question.answered_at <= closed_at:
                in_session += 1
            else:
                after.append((question.text, question.answer_permalink))
    return Outcomes(answered_live=live, answered_in_session=in_session, answered_after=len(after),
                    not_answered=len(counted) - live - in_session - len(after), answers_after=tuple(after))


def ready_to_close_out(session: Session, *, now: datetime) -> list[int]:
    """Events whose follow-ups are all dealt with, or whose window has ended, and not yet closed out."""
    events = session.scalars(select(Event).where(Event.follow_ups_opened_at.is_not(None),
                                                 Event.closed_out_at.is_(None), installed(Event.workspace_id))).all()
    ready = []
    for event in events:
        window_ended = (event.closed_at or event.ends_at) + timedelta(days=event.follow_up_days) <= now
        still_open = session.scalar(select(func.count(FollowUp.id)).join(Question, Question.id == FollowUp.question_id)
                                    .where(Question.event_id == event.id, FollowUp.answered_at.is_(None),
                                           FollowUp.declined_at.is_(None)))
        if window_ended or not still_open:
            ready.append(event.id)
    return ready


def mark_closed_out(session: Session, *, event_id: int, now: datetime) -> bool:
    return bool(session.execute(update(Event).where(Event.id == event_id, Event.closed_out_at.is_(None))
                                .values(closed_out_at=now).execution_options(synchronize_session=False)).rowcount)


def ledger_csv(rows: list[LedgerRow], *, timezone: str) -> str:
    """The ledger as a spreadsheet: one question a row (anonymous askers stay anonymous)."""
    zone = clock.zone(timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["question", "votes", "asked_by", "owner", "state", "due", "answered", "answer", "why_not"])
    for row in rows:
        writer.writerow([
            neutralise_for_spreadsheet(row.text), row.votes,
            neutralise_for_spreadsheet(row.asker_name or row.asker_slack_id or "anonymous"),
            neutralise_for_spreadsheet(row.owner_name or row.owner_slack_id or "the chairs"), row.state,
            row.due_at.astimezone(zone).isoformat(timespec="minutes") if row.due_at else "",
            row.answered_at.astimezone(zone).isoformat(timespec="minutes") if row.answered_at else "",
            neutralise_for_spreadsheet(row.answer_text or ""), neutralise_for_spreadsheet(row.declined_reason or ""),
        ])
    return out.getvalue()

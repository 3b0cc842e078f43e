"""The chair's question digest: every question of an event, by segment and presenter, most votes first.

Built with a fixed number of queries however many questions and votes there are: the event, its
agenda, the counts per status, the questions with their votes counted by the database (one
GROUP BY) and the askers of merged questions. Nothing is loaded lazily, so the number of queries
never grows with the number of questions.

Anonymous questions keep their asker in the database (so the asker can be told of the answer),
but the queries here never read who it was: the digest, and the CSV made from it, cannot leak
what they do not hold.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from bot.errors import UserError
from bot.models import (
    AgendaSegment,
    Event,
    FollowUp,
    Person,
    Question,
    QuestionStatus,
    Vote,
)
from bot.reflections.rules import neutralise_for_spreadsheet

ACTION = "see the questions"
NO_SEGMENT_TITLE = "No agenda item"
ANYONE = "Anyone"
ANONYMOUS = "anonymous"


class StatusFilter(str, enum.Enum):
    OPEN = "open"
    ANSWERED = "answered"
    FOLLOWUP = "followup"
    ALL = "all"


FILTER_STATUSES: dict[StatusFilter, tuple[QuestionStatus, ...]] = {
    # Questions waiting for a chair's approval are open business too; the digest marks them.
    StatusFilter.OPEN: (QuestionStatus.OPEN, QuestionStatus.AWAITING_APPROVAL),
    StatusFilter.ANSWERED: (QuestionStatus.ANSWERED_LIVE, QuestionStatus.ANSWERED),
    StatusFilter.FOLLOWUP: (QuestionStatus.FOLLOW_UP,),
    # A merged question lives on in the question it was merged into, which credits its asker.
    StatusFilter.ALL: tuple(s for s in QuestionStatus if s is not QuestionStatus.MERGED),
}

FILTER_WORDS: dict[str, StatusFilter] = {
    "": StatusFilter.OPEN,
    "open": StatusFilter.OPEN,
    "answered": StatusFilter.ANSWERED,
    "followup": StatusFilter.FOLLOWUP,
    "follow-up": StatusFilter.FOLLOWUP,
    "follow_up": StatusFilter.FOLLOWUP,
    "followups": StatusFilter.FOLLOWUP,
    "follow-ups": StatusFilter.FOLLOWUP,
    "all": StatusFilter.ALL,
}

STATUS_NAMES: dict[QuestionStatus, str] = {
    QuestionStatus.OPEN: "open",
    QuestionStatus.AWAITING_APPROVAL: "waiting for approval",
    QuestionStatus.ANSWERED_LIVE: "answered live",
    QuestionStatus.ANSWERED: "answered",
    QuestionStatus.FOLLOW_UP: "follow-up",
    QuestionStatus.DISMISSED: "dismissed",
    QuestionStatus.MERGED: "merged",
}


class DigestError(UserError):
    pass


def parse_filter(text: str) -> StatusFilter:
    """What follows `/event questions`: open (the default), answered, followup or all."""
    word = (text or "").strip().lower()
    found = FILTER_WORDS.get(word)
    if found is None:
        raise DigestError("Which questions? Use `/event questions open`, `answered`, `followup` or `all`.")
    return found


@dataclass(frozen=True)
class Asker:
    """Who to credit for a question; both fields are None for an anonymous asker."""

    slack_user_id: str | None
    display_name: str | None

    @property
    def anonymous(self) -> bool:
        return self.slack_user_id is None

    @property
    def label(self) -> str:
        if self.anonymous:
            return ANONYMOUS
        return self.display_name or self.slack_user_id or ""


@dataclass(frozen=True)
class DigestRow:
    question_id: int
    text: str
    votes: int
    status: QuestionStatus
    # The question's own asker first, then the askers of questions merged into it.
    askers: tuple[Asker, ...]
    answer_text: str | None
    asked_at: datetime


@dataclass(frozen=True)
class DigestGroup:
    segment_id: int | None
    segment_title: str
    presenter_slack_id: str | None
    presenter_name: str | None
    rows: tuple[DigestRow, ...]

    @property
    def for_anyone(self) -> bool:
        return self.presenter_slack_id is None

    @property
    def presenter_label(self) -> str:
        """Plain text: the presenter's name, their Slack id when the name is unknown, or "Anyone"."""
        if self.presenter_slack_id is None:
            return ANYONE
        return self.presenter_name or self.presenter_slack_id


@dataclass(frozen=True)
class QuestionDigest:
    event_id: int
    title: str
    timezone: str
    status_filter: StatusFilter
    # Every status for the whole event, whatever the filter (zero when there are none).
    counts: dict[QuestionStatus, int]
    groups: tuple[DigestGroup, ...]

    @property
    def question_count(self) -> int:
        return sum(len(g.rows) for g in self.groups)

    def rows(self) -> Iterable[tuple[DigestGroup, DigestRow]]:
        for group in self.groups:
            for row in group.rows:
                yield group, row


def _asker_columns(asker: type[Person]) -> tuple:
    """The asker's id and name, read only when the question is not anonymous."""
    return (
        case((Question.anonymous.is_(True), None), else_=asker.slack_user_id),
        case((Question.anonymous.is_(True), None), else_=asker.display_name),
    )


def digest(session: Session, *, event_id: int, status_filter: StatusFilter = StatusFilter.OPEN) -> QuestionDigest:
    """The event's questions for one filter: grouped, sorted, credited; five queries in all."""
    event = session.execute(select(Event.title, Event.timezone).where(Event.id == event_id)).one()
    segments = {
        segment_id: (position, title)
        for segment_id, position, title in session.execute(
            select(AgendaSegment.id, AgendaSegment.position, AgendaSegment.title).where(AgendaSegment.event_id == event_id)
        )
    }
    counts = {status: 0 for status in QuestionStatus}
    for status, count in session.execute(
        select(Question.status, func.count(Question.id)).where(Question.event_id == event_id).group_by(Question.status)
    ):
        counts[status] = count

    votes = (
        select(Vote.question_id, func.count(Vote.id).label("votes"))
        .join(Question, Question.id == Vote.question_id)
        .where(Question.event_id == event_id)
        .group_by(Vote.question_id)
        .subquery()
    )
    asker = aliased(Person)
    presenter = aliased(Person)
    rows = session.execute(
        select(
            Question.id, Question.text, Question.status, Question.created_at, Question.segment_id,
            Question.answer_text, FollowUp.answer_text, func.coalesce(votes.c.votes, 0),
            *_asker_columns(asker), presenter.slack_user_id, presenter.display_name,
        )
        .outerjoin(asker, asker.id == Question.asker_person_id)
        .outerjoin(presenter, presenter.id == Question.for_presenter_person_id)
        .outerjoin(votes, votes.c.question_id == Question.id)
        .outerjoin(FollowUp, FollowUp.question_id == Question.id)
        .where(Question.event_id == event_id, Question.status.in_(FILTER_STATUSES[status_filter]))
    ).all()

    merged_askers = _merged_askers(session, event_id=event_id)

    grouped: dict[tuple[int | None, str | None], list[DigestRow]] = {}
    presenters: dict[str | None, str | None] = {None: None}
    for (question_id, text, status, created_at, segment_id, answer, follow_up_answer, vote_count,
         asker_id, asker_name, presenter_id, presenter_name) in rows:
        if segment_id not in segments:
            segment_id = None
        presenters[presenter_id] = presenter_name
        own = Asker(slack_user_id=asker_id, display_name=asker_name)
        grouped.setdefault((segment_id, presenter_id), []).append(DigestRow(
            question_id=question_id,
            text=text,
            votes=vote_count,
            status=status,
            askers=_credits(own, merged_askers.get(question_id, ())),
            answer_text=answer or follow_up_answer,
            asked_at=created_at,
        ))

    def group_order(key: tuple[int | None, str | None]) -> tuple:
        segment_id, presenter_id = key
        position = segments[segment_id][0] if segment_id is not None else None
        presenter_label = (presenters[presenter_id] or presenter_id or "") if presenter_id else ""
        return (
            position is None, position or 0,
            presenter_id is None, presenter_label.casefold(), presenter_id or "",
        )

    groups = tuple(
        DigestGroup(
            segment_id=segment_id,
            segment_title=segments[segment_id][1] if segment_id is not None else NO_SEGMENT_TITLE,
            presenter_slack_id=presenter_id,
            presenter_name=presenters[presenter_id],
            rows=tuple(sorted(grouped[(segment_id, presenter_id)], key=lambda r: (-r.votes, r.asked_at, r.question_id))),
        )
        for segment_id, presenter_id in sorted(grouped, key=group_order)
    )
    title, timezone = event
    return QuestionDigest(event_id=event_id, title=title, timezone=timezone, status_filter=status_filter,
                          counts=counts, groups=groups)


def _merged_askers(session: Session, *, event_id: int) -> dict[int, list[Asker]]:
    """The askers of merged questions, keyed by the question that survived them (one query).

    Merges can chain (A into B, then B into C): each is followed to the question still standing.
    """
    asker = aliased(Person)
    merged = session.execute(
        select(Question.id, Question.merged_into_id, *_asker_columns(asker))
        .outerjoin(asker, asker.id == Question.asker_person_id)
        .where(Question.event_id == event_id, Question.status == QuestionStatus.MERGED)
        .order_by(Question.created_at, Question.id)
    ).all()
    into = {question_id: merged_into_id for question_id, merged_into_id, _, _ in merged}
    credits: dict[int, list[Asker]] = {}
    for question_id, merged_into_id, asker_id, asker_name in merged:
        survivor, seen = merged_into_id, {question_id}
        while survivor in into and survivor not in seen:
            seen.add(survivor)
            survivor = into[survivor]
        if survivor is None or survivor in seen:
            continue  # the question it was merged into is gone: nobody left to credit
        credits.setdefault(survivor, []).append(Asker(slack_user_id=asker_id, display_name=asker_name))
    return credits


def _credits(own: Asker, merged: Iterable[Asker]) -> tuple[Asker, ...]:
    """Each named asker once; every anonymous asker stays a separate, nameless credit.

    Anonymous credits are never matched against anyone (not even each other), so the list
    reveals nothing about who asked them.
    """
    credited: list[Asker] = []
    named: set[str] = set()
    for asker in (own, *merged):
        if asker.slack_user_id is not None:
            if asker.slack_user_id in named:
                continue
            named.add(asker.slack_user_id)
        credited.append(asker)
    return tuple(credited)


CSV_COLUMNS = [
    "segment", "presenter", "question_id", "status", "votes", "question", "askers", "asker_slack_user_ids",
    "answer", "asked_at",
]


def questions_csv(found: QuestionDigest) -> str:
    """The digest as CSV, in the digest's order; formula-looking cells neutralised.

    Anonymous askers are written as "anonymous" and have no Slack id.
    """
    zone = ZoneInfo(found.timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for group, row in found.rows():
        writer.writerow([
            neutralise_for_spreadsheet(group.segment_title),
            neutralise_for_spreadsheet(group.presenter_label),
            row.question_id,
            STATUS_NAMES[row.status],
            row.votes,
            neutralise_for_spreadsheet(row.text),
            neutralise_for_spreadsheet("; ".join(a.label for a in row.askers)),
            "; ".join(a.slack_user_id for a in row.askers if a.slack_user_id is not None),
            neutralise_for_spreadsheet(row.answer_text or ""),
            row.asked_at.astimezone(zone).isoformat(timespec="minutes"),
        ])
    return out.getvalue()

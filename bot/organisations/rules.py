"""Whose voices are heard: the organisation each person counts for, and the figures per organisation.

A person counts for an organisation they chose at this event (from its partner list, or "prefer
not to say"); failing that, the one they last chose at another event, if it is one of this event's
partners. Nothing else is guessed.

Protecting people: an anonymous question counts for its asker's organisation only if the asker
chose to share it, anonymous reflections never count for one, and a group of fewer than
SMALLEST_GROUP people is shown as "fewer than 3" so no row can single out a person. The figures
are built with a fixed number of queries, whatever the size of the event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import (
    Event,
    EventAffiliation,
    EventRole,
    FollowUp,
    Person,
    Question,
    QuestionStatus,
    Reflection,
    ReflectionPrompt,
    Role,
    Vote,
)

NOT_SAID = "Not said"
SMALLEST_GROUP = 3
FEWER_THAN = f"fewer than {SMALLEST_GROUP}"
# The flag: an organisation answered at under this share of the overall rate, with at least
# FLAG_MIN_QUESTIONS questions (fewer would make the rate noise).
FLAG_RATIO = 0.5
FLAG_MIN_QUESTIONS = 3
# Fair ordering: no organisation takes more than this many places in a row while another's wait.
MAX_RUN = 2


class OrganisationError(UserError):
    pass


# --- choosing ------------------------------------------------------------------------------------


def choose(session: Session, *, event: Event, person: Person, organisation: str | None, now: datetime,
           source: str = "chosen") -> str | None:
    """Record the organisation a person counts for at this event (None: prefer not to say).

    The choice is remembered for later events; "prefer not to say" also forgets an earlier
    choice, so it is never applied behind the person's back. A Slack Connect guest counts for the
    workspace they come from (`source` "slack_connect"), which need not be on the partner list.
    """
    if source == "chosen" and organisation is not None and organisation not in event.partner_organisations:
        raise OrganisationError("That organisation is not one of this event's partners: choose one from the list, "
                                "or \"Prefer not to say\".")
    row = session.scalar(select(EventAffiliation).where(EventAffiliation.event_id == event.id,
                                                        EventAffiliation.person_id == person.id))
    if row is None:
        row = EventAffiliation(event_id=event.id, person_id=person.id, source="chosen", chosen_at=now)
        session.add(row)
    row.organisation, row.source, row.chosen_at = organisation, source, now
    if source == "chosen":
        person.organisation = organisation
    session.flush()
    return organisation


def counted_organisation(event: Event, *, chosen: tuple[bool, str | None], remembered: str | None) -> str | None:
    """The organisation a person counts for: (has a choice here, what it was), else the remembered one."""
    made, organisation = chosen
    if made:
        return organisation
    return remembered if remembered in event.partner_organisations else None


def organisations_of(session: Session, *, event: Event, person_ids: set[int] | None = None) -> dict[int, str | None]:
    """Each person's organisation at this event, keyed by person id (one query)."""
    query = (select(Person.id, Person.organisation, EventAffiliation.id, EventAffiliation.organisation)
             .outerjoin(EventAffiliation, (EventAffiliation.person_id == Person.id)
                        & (EventAffiliation.event_id == event.id))
             .where(Person.workspace_id == event.workspace_id))
    if person_ids is not None:
        query = query.where(Person.id.in_(person_ids))
    return {person_id: counted_organisation(event, chosen=(affiliation_id is not None, chosen), remembered=remembered)
            for person_id, remembered, affiliation_id, chosen in session.execute(query)}


# --- the figures ------------------------------------------------------------------------------------


@dataclass
class OrganisationRow:
    organisation: str  # NOT_SAID for people who did not say
    people: int = 0
    questions: int = 0
    votes_given: int = 0
    votes_received: int = 0
    reflections: int = 0
    answered_live: int = 0
    answered_in_writing: int = 0
    answered_after: int = 0
    not_answered: int = 0

    @property
    def answered(self) -> int:
        return self.answered_live + self.answered_in_writing + self.answered_after

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    @property
    def too_small(self) -> bool:
        """Fewer people than could be told apart: every figure is shown as "fewer than 3"."""
        return self.people < SMALLEST_GROUP

    def share(self, count: int) -> str:
        return f"{round(100 * count / self.questions)}%" if self.questions else "–"


@dataclass
class OrganisationFigures:
    event_id: int
    rows: list[OrganisationRow]  # partners in the event's order, then NOT_SAID
    overall: OrganisationRow
    flags: list[str] = field(default_factory=list)

    @property
    def any_chosen(self) -> bool:
        return any(row.people for row in self.rows if row.organisation != NOT_SAID)


def _outcome(status: QuestionStatus, answered_after: bool) -> str:
    if status == QuestionStatus.ANSWERED_LIVE:
        return "answered_live"
    if status == QuestionStatus.ANSWERED:
        return "answered_in_writing"
    if status == QuestionStatus.FOLLOW_UP and answered_after:
        return "answered_after"
    return "not_answered"


def figures(session: Session, *, event_id: int) -> OrganisationFigures:
    """Per organisation: people, questions and what became of them, votes, reflections; and the flags."""
    event = session.get_one(Event, event_id)
    took_part = union(
        select(EventRole.person_id).where(EventRole.event_id == event_id, EventRole.role == Role.ATTENDEE),
        select(Question.asker_person_id).where(Question.event_id == event_id, Question.asker_person_id.is_not(None)),
        select(Vote.person_id).join(Question, Question.id == Vote.question_id).where(Question.event_id == event_id),
        select(Reflection.person_id).join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
        .where(ReflectionPrompt.event_id == event_id),
    ).subquery()
    people = set(session.scalars(select(took_part.c[0])))
    organisation = organisations_of(session, event=event, person_ids=people)

    rows = {name: OrganisationRow(organisation=name) for name in [*event.partner_organisations, NOT_SAID]}
    overall = OrganisationRow(organisation="All")

    def row_of(person_id: int | None) -> OrganisationRow:
        name = (organisation.get(person_id) if person_id is not None else None) or NOT_SAID
        if name not in rows:
            # A Slack Connect workspace that is not on the partner list gets a row of its own.
            rows[name] = OrganisationRow(organisation=name)
        return rows[name]

    for person_id in people:
        row_of(person_id).people += 1
        overall.people += 1

    questions = session.execute(
        select(Question.id, Question.asker_person_id, Question.anonymous, Question.organisation_shared,
               Question.status, FollowUp.answered_at)
        .outerjoin(FollowUp, FollowUp.question_id == Question.id)
        .where(Question.event_id == event_id, Question.status.not_in((QuestionStatus.MERGED,
                                                                       QuestionStatus.AWAITING_APPROVAL)))
    ).all()
    question_row: dict[int, OrganisationRow] = {}
    for question_id, asker_id, anonymous, shared, status, answered_at in questions:
        # An anonymous question is "not said" unless its asker let it count for their organisation.
        row = row_of(asker_id if (not anonymous or shared) else None)
        question_row[question_id] = row
        outcome = _outcome(status, answered_at is not None)
        for target in (row, overall):
            target.questions += 1
            setattr(target, outcome, getattr(target, outcome) + 1)

    for voter_id, question_id in session.execute(
            select(Vote.person_id, Vote.question_id).join(Question, Question.id == Vote.question_id)
            .where(Question.event_id == event_id)):
        row_of(voter_id).votes_given += 1
        overall.votes_given += 1
        if question_id in question_row:
            question_row[question_id].votes_received += 1
            overall.votes_received += 1

    for person_id, anonymous in session.execute(
            select(Reflection.person_id, Reflection.anonymous)
            .join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
            .where(ReflectionPrompt.event_id == event_id, Reflection.deleted_at.is_(None))):
        row_of(None if anonymous else person_id).reflections += 1
        overall.reflections += 1

    not_said = rows.pop(NOT_SAID)
    shown = [*rows.values(), *([not_said] if not_said.people or not_said.questions else [])]
    return OrganisationFigures(event_id=event_id, rows=shown, overall=overall, flags=_flags(shown, overall))


def _flags(rows: list[OrganisationRow], overall: OrganisationRow) -> list[str]:
    """One line for each organisation answered at under half the overall rate (with enough questions)."""
    if not overall.answer_rate:
        return []
    flags = []
    for row in rows:
        if row.organisation == NOT_SAID or row.too_small or row.questions < FLAG_MIN_QUESTIONS:
            continue
        if row.answer_rate is not None and row.answer_rate < FLAG_RATIO * overall.answer_rate:
            flags.append(f"{row.organisation}: {row.answered} of {row.questions} questions answered "
                         f"({row.share(row.answered)}), under half the rate for everyone "
                         f"({overall.share(overall.answered)}).")
    return flags


def shown(row: OrganisationRow, count: int) -> str:
    """A figure as a report may show it: never for a group small enough to single someone out."""
    return FEWER_THAN if row.too_small else str(count)


def figure_table(found: OrganisationFigures) -> list[list[str]]:
    """Plain rows (a header, then one per organisation) for Markdown and CSV; small groups hidden."""
    table = [["organisation", "people", "questions", "answered live", "answered in writing", "answered after",
              "not answered", "answer rate", "votes given", "votes received", "reflections"]]
    for row in [*found.rows, found.overall]:
        table.append([row.organisation, shown(row, row.people), shown(row, row.questions),
                      shown(row, row.answered_live), shown(row, row.answered_in_writing),
                      shown(row, row.answered_after), shown(row, row.not_answered),
                      "–" if row.too_small else row.share(row.answered), shown(row, row.votes_given),
                      shown(row, row.votes_received), shown(row, row.reflections)])
    return table


# --- fair ordering -----------------------------------------------------------------------------------

T = TypeVar("T")


def fair_order(items: Sequence[T], *, organisation: Callable[[T], str | None],
               score: Callable[[T], int] = lambda item: 0) -> list[T]:
    """Most votes first (the order given), but no organisation takes more than MAX_RUN places in a
    row while another organisation's questions wait. The question that breaks a run is the best
    scored of the others, and among equals the one whose organisation has had fewest places so far.
    Questions of no known organisation belong to no one: they never make a run, are never held
    back, and may come between."""
    waiting = list(items)
    ordered: list[T] = []
    places: Counter[str | None] = Counter()
    while waiting:
        run = _run(ordered, organisation)
        pick = 0
        if run is not None:
            others = [(index, item) for index, item in enumerate(waiting) if organisation(item) != run]
            if others:
                pick = min(others, key=lambda pair: (-score(pair[1]), places[organisation(pair[1])], pair[0]))[0]
        chosen = waiting.pop(pick)
        places[organisation(chosen)] += 1
        ordered.append(chosen)
    return ordered


def _run(ordered: list[T], organisation: Callable[[T], str | None]) -> str | None:
    """The organisation that has taken the last MAX_RUN places, if one has."""
    if len(ordered) < MAX_RUN:
        return None
    last = [organisation(item) for item in ordered[-MAX_RUN:]]
    return last[0] if last[0] is not None and all(name == last[0] for name in last) else None


def longest_run(names: Sequence[str | None]) -> int:
    """The most places in a row one organisation takes (None never counts)."""
    best = current = 0
    previous: str | None = None
    for name in names:
        current = current + 1 if name is not None and name == previous else (1 if name is not None else 0)
        previous = name
        best = max(best, current)
    return best


def spread(names: Sequence[str | None], top: int) -> int:
    """How many organisations appear among the first `top` places."""
    return len(Counter(name for name in names[:top] if name is not None))

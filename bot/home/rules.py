"""What each person's Home tab holds: their events, the questions they moderate, are asked and
have asked, their follow-ups, reflections and evaluation forms still to do.

Every list is read a page at a time (a count and one LIMITed query), so drawing Home costs the
same number of queries for a person with no questions and one with thousands. The page each list
shows is the one the person last turned to, kept on their `home_tabs` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, case, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.events import people
from bot.models import (
    EvaluationCompletion,
    Event,
    EventRole,
    EventStatus,
    FollowUp,
    HomeTab,
    Person,
    Question,
    QuestionStatus,
    Reflection,
    ReflectionPrompt,
    ReflectionTheme,
    Reminder,
    ReminderStatus,
    Role,
    Vote,
)
from bot.run_of_show.rules import closing_time, effective_time, next_unannounced

T = TypeVar("T")

# How many items each list shows a page: the view's 100 blocks hold every list at its fullest
# (bot/home/blocks.py says how many blocks each item takes, and a test adds them up).
PAGE_SIZES = {"events": 3, "queue": 10, "asked": 8, "follow_ups": 5, "questions": 8, "reflections": 6, "forms": 3}
LISTS = tuple(PAGE_SIZES)
# A page number beyond this names nothing anyone could have turned to.
MAX_PAGE = 100_000
# Questions a moderator still has to deal with.
TO_MODERATE = (QuestionStatus.AWAITING_APPROVAL, QuestionStatus.OPEN, QuestionStatus.FOLLOW_UP)
SHOWN_EVENTS = (EventStatus.LIVE, EventStatus.SCHEDULED, EventStatus.CLOSED)
MODERATORS = (Role.ORGANISER, Role.CHAIR, Role.MODERATOR)


class HomeError(UserError):
    pass


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    number: int  # 1-based; the last page when the one asked for is past the end
    pages: int  # at least 1
    total: int


@dataclass(frozen=True)
class NextUp:
    what: str  # "Agenda", "Prompt", "Reminder", "Close"
    title: str
    due_at: datetime | None


@dataclass(frozen=True)
class EventLine:
    event_id: int
    title: str
    channel_id: str
    status: EventStatus
    starts_at: datetime
    timezone: str
    held: bool
    next_up: tuple[NextUp, ...]


@dataclass(frozen=True)
class QueueItem:
    question_id: int
    event_title: str
    text: str
    status: QuestionStatus
    votes: int
    asker_slack_id: str | None  # None when asked anonymously (or the asker was forgotten)
    presenter_slack_id: str | None


@dataclass(frozen=True)
class AskedItem:
    question_id: int
    event_title: str
    text: str
    status: QuestionStatus
    votes: int


@dataclass(frozen=True)
class FollowUpItem:
    question_id: int
    event_title: str
    text: str
    votes: int
    asker_slack_id: str | None
    due_at: datetime | None
    timezone: str


@dataclass(frozen=True)
class MyQuestion:
    question_id: int
    event_title: str
    text: str
    status: QuestionStatus
    votes: int
    answer_text: str | None
    declined_reason: str | None


@dataclass(frozen=True)
class MyReflection:
    event_title: str
    theme: ReflectionTheme
    text: str
    anonymous: bool


@dataclass(frozen=True)
class FormToDo:
    event_id: int
    event_title: str
    form_url: str


@dataclass(frozen=True)
class Home:
    slack_user_id: str
    runs_events: bool  # organises or chairs at least one event
    moderates: bool
    presents: bool
    events: Page[EventLine]
    queue: Page[QueueItem]
    asked: Page[AskedItem]
    follow_ups: Page[FollowUpItem]
    questions: Page[MyQuestion]
    reflections: Page[MyReflection]
    forms: Page[FormToDo]
    pages: dict[str, int] = field(default_factory=dict)


# --- who has opened Home, and where they are in it ------------------------------------------------


def opened(session: Session, *, workspace_id: int, slack_user_id: str, now: datetime) -> Person:
    """Record that the person looks at Home, so it is drawn again when what it shows changes."""
    person = people.person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    if session.scalar(select(HomeTab.id).where(HomeTab.person_id == person.id)) is None:
        try:
            with session.begin_nested():
                session.add(HomeTab(person_id=person.id, opened_at=now, pages={}))
                session.flush()
        except IntegrityError:  # opened twice at once: the other transaction's row stands
            pass
    return person


def check_page_request(value: Any) -> tuple[str, int]:
    """A pager button's list and page, or a HomeError saying the button is out of date."""
    if not isinstance(value, dict):
        raise HomeError("That button is out of date: open the Home tab again.")
    name, page = value.get("list"), value.get("page")
    if name not in PAGE_SIZES or not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= MAX_PAGE:
        raise HomeError("That button is out of date: open the Home tab again.")
    return name, page


def turn_page(session: Session, *, workspace_id: int, slack_user_id: str, name: str, page: int,
              now: datetime) -> Person:
    """Remember which page of a list the person turned to (Home is then drawn at it)."""
    person = opened(session, workspace_id=workspace_id, slack_user_id=slack_user_id, now=now)
    tab = session.scalars(select(HomeTab).where(HomeTab.person_id == person.id)).one()
    tab.pages = {**(tab.pages or {}), name: page}
    return person


# --- what Home holds --------------------------------------------------------------------------------


def person_of(session: Session, *, workspace_id: int, slack_user_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.workspace_id == workspace_id,
                                               Person.slack_user_id == slack_user_id))


def nothing_yet(slack_user_id: str) -> Home:
    """Home for someone eventbot has never met: every list empty."""
    def empty() -> Page[Any]:
        return Page((), 1, 1, 0)
    return Home(slack_user_id=slack_user_id, runs_events=False, moderates=False, presents=False, events=empty(),
                queue=empty(), asked=empty(), follow_ups=empty(), questions=empty(), reflections=empty(),
                forms=empty())


def home_of(session: Session, *, person: Person, now: datetime) -> Home:
    tab = session.scalar(select(HomeTab).where(HomeTab.person_id == person.id))
    pages = dict(tab.pages or {}) if tab is not None else {}
    roles = {role for role, in session.execute(
        select(EventRole.role).distinct().join(Event, Event.id == EventRole.event_id)
        .where(EventRole.person_id == person.id, Event.status.in_(SHOWN_EVENTS)))}
    return Home(
        slack_user_id=person.slack_user_id,
        runs_events=bool(roles & people.RUNNERS),
        moderates=bool(roles & set(MODERATORS)),
        presents=Role.PRESENTER in roles,
        events=_events(session, person=person, page=pages.get("events", 1)),
        queue=_queue(session, person=person, page=pages.get("queue", 1)),
        asked=_asked(session, person=person, page=pages.get("asked", 1)),
        follow_ups=_follow_ups(session, person=person, page=pages.get("follow_ups", 1)),
        questions=_my_questions(session, person=person, page=pages.get("questions", 1)),
        reflections=_reflections(session, person=person, page=pages.get("reflections", 1)),
        forms=_forms(session, person=person, page=pages.get("forms", 1)),
        pages=pages,
    )


def _paged(session: Session, query: Select, *, name: str, page: int) -> tuple[Sequence[Any], int, int, int]:
    """One page of `query`'s rows (the last page if `page` is past it), its number, the page count, the total."""
    size = PAGE_SIZES[name]
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // size))
    number = min(max(1, page), pages)
    rows = session.execute(query.limit(size).offset((number - 1) * size)).all()
    return rows, number, pages, total


def _votes(question_id: Any) -> Any:
    return select(func.count(Vote.id)).where(Vote.question_id == question_id).scalar_subquery()


def _events(session: Session, *, person: Person, page: int) -> Page[EventLine]:
    ran = select(EventRole.event_id).where(EventRole.person_id == person.id, EventRole.role.in_(people.RUNNERS))
    # Live first, then what is coming soonest, then what closed most recently.
    order = case((Event.status == EventStatus.LIVE, 0), (Event.status == EventStatus.SCHEDULED, 1), else_=2)
    query = (select(Event).where(Event.id.in_(ran), Event.status.in_(SHOWN_EVENTS))
             .order_by(order, case((Event.status != EventStatus.CLOSED, Event.starts_at)), Event.starts_at.desc(),
                       Event.id))
    rows, number, pages, total = _paged(session, query, name="events", page=page)
    lines = tuple(EventLine(event_id=e.id, title=e.title, channel_id=e.channel_id, status=e.status,
                            starts_at=e.starts_at, timezone=e.timezone, held=e.held_at is not None,
                            next_up=_next_up(session, e)) for e, in rows)
    return Page(lines, number, pages, total)


def _next_up(session: Session, event: Event) -> tuple[NextUp, ...]:
    """What is scheduled next at an event: its next agenda item, prompt and reminder (a few rows each)."""
    found: list[NextUp] = []
    if event.status != EventStatus.CLOSED:
        segment = next_unannounced(session, event.id)
        if segment is not None:
            found.append(NextUp("Agenda", segment.title, effective_time(event, segment.scheduled_at)))
        prompt = session.scalar(select(ReflectionPrompt).where(
            ReflectionPrompt.event_id == event.id, ReflectionPrompt.posted_at.is_(None),
            ReflectionPrompt.scheduled_at.is_not(None)).order_by(ReflectionPrompt.scheduled_at).limit(1))
        if prompt is not None and prompt.scheduled_at is not None:
            found.append(NextUp("Prompt", prompt.text, effective_time(event, prompt.scheduled_at)))
        found.append(NextUp("Close", "The close", closing_time(event)))
    reminder = session.scalar(select(Reminder).where(
        Reminder.event_id == event.id, Reminder.status == ReminderStatus.SCHEDULED).order_by(Reminder.due_at).limit(1))
    if reminder is not None:
        found.append(NextUp("Reminder", reminder.when_spec, reminder.due_at))
    return tuple(found)


def _queue(session: Session, *, person: Person, page: int) -> Page[QueueItem]:
    moderated = select(EventRole.event_id).where(EventRole.person_id == person.id, EventRole.role.in_(MODERATORS))
    asker = Person.__table__.alias("asker")
    presenter = Person.__table__.alias("presenter")
    votes = _votes(Question.id)
    query = (
        select(Question.id, Event.title, Question.text, Question.status, votes, Question.anonymous,
               asker.c.slack_user_id, presenter.c.slack_user_id)
        .join(Event, Event.id == Question.event_id)
        .outerjoin(asker, asker.c.id == Question.asker_person_id)
        .outerjoin(presenter, presenter.c.id == Question.for_presenter_person_id)
        .where(Question.event_id.in_(moderated), Event.status.in_((EventStatus.SCHEDULED, EventStatus.LIVE)),
               Question.status.in_(TO_MODERATE))
        # Waiting for approval first (nobody sees them yet), then the most wanted.
        .order_by(case((Question.status == QuestionStatus.AWAITING_APPROVAL, 0), else_=1), votes.desc(), Question.id)
    )
    rows, number, pages, total = _paged(session, query, name="queue", page=page)
    return Page(tuple(QueueItem(question_id=qid, event_title=title, text=text, status=status, votes=count or 0,
                                asker_slack_id=None if anonymous else asker_id, presenter_slack_id=presenter_id)
                      for qid, title, text, status, count, anonymous, asker_id, presenter_id in rows),
                number, pages, total)


def _asked(session: Session, *, person: Person, page: int) -> Page[AskedItem]:
    votes = _votes(Question.id)
    query = (select(Question.id, Event.title, Question.text, Question.status, votes)
             .join(Event, Event.id == Question.event_id)
             .where(Question.for_presenter_person_id == person.id,
                    Question.status.not_in((QuestionStatus.AWAITING_APPROVAL, QuestionStatus.MERGED)),
                    Event.personal_data_purged_at.is_(None))
             .order_by(Event.starts_at.desc(), votes.desc(), Question.id))
    rows, number, pages, total = _paged(session, query, name="asked", page=page)
    return Page(tuple(AskedItem(question_id=qid, event_title=title, text=text, status=status, votes=count or 0)
                      for qid, title, text, status, count in rows), number, pages, total)


def _follow_ups(session: Session, *, person: Person, page: int) -> Page[FollowUpItem]:
    votes = _votes(Question.id)
    asker = Person.__table__.alias("asker")
    query = (select(Question.id, Event.title, Question.text, votes, Question.anonymous, asker.c.slack_user_id,
                    FollowUp.due_at, Event.timezone)
             .join(FollowUp, FollowUp.question_id == Question.id)
             .join(Event, Event.id == Question.event_id)
             .outerjoin(asker, asker.c.id == Question.asker_person_id)
             .where(FollowUp.assigned_person_id == person.id, FollowUp.answered_at.is_(None),
                    FollowUp.declined_at.is_(None), Event.follow_ups_opened_at.is_not(None),
                    Question.status == QuestionStatus.FOLLOW_UP)
             .order_by(FollowUp.due_at, votes.desc(), Question.id))
    rows, number, pages, total = _paged(session, query, name="follow_ups", page=page)
    return Page(tuple(FollowUpItem(question_id=qid, event_title=title, text=text, votes=count or 0,
                                   asker_slack_id=None if anonymous else asker_id, due_at=due, timezone=zone)
                      for qid, title, text, count, anonymous, asker_id, due, zone in rows), number, pages, total)


def _my_questions(session: Session, *, person: Person, page: int) -> Page[MyQuestion]:
    votes = _votes(Question.id)
    query = (select(Question.id, Event.title, Question.text, Question.status, votes,
                    func.coalesce(Question.answer_text, FollowUp.answer_text), FollowUp.declined_reason)
             .join(Event, Event.id == Question.event_id)
             .outerjoin(FollowUp, FollowUp.question_id == Question.id)
             .where(Question.asker_person_id == person.id)
             .order_by(Question.created_at.desc(), Question.id.desc()))
    rows, number, pages, total = _paged(session, query, name="questions", page=page)
    return Page(tuple(MyQuestion(question_id=qid, event_title=title, text=text, status=status, votes=count or 0,
                                 answer_text=answer, declined_reason=declined)
                      for qid, title, text, status, count, answer, declined in rows), number, pages, total)


def _reflections(session: Session, *, person: Person, page: int) -> Page[MyReflection]:
    query = (select(Event.title, ReflectionPrompt.theme, Reflection.text, Reflection.anonymous)
             .join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
             .join(Event, Event.id == ReflectionPrompt.event_id)
             .where(Reflection.person_id == person.id, Reflection.deleted_at.is_(None))
             .order_by(Reflection.created_at.desc(), Reflection.id.desc()))
    rows, number, pages, total = _paged(session, query, name="reflections", page=page)
    return Page(tuple(MyReflection(event_title=title, theme=theme, text=text, anonymous=anonymous)
                      for title, theme, text, anonymous in rows), number, pages, total)


def _forms(session: Session, *, person: Person, page: int) -> Page[FormToDo]:
    """Closed events the person attended whose evaluation form they have not said they completed."""
    attended = select(EventRole.event_id).where(EventRole.person_id == person.id, EventRole.role == Role.ATTENDEE)
    done = exists().where(and_(EvaluationCompletion.event_id == Event.id, EvaluationCompletion.person_id == person.id))
    query = (select(Event.id, Event.title, Event.evaluation_form_url)
             .where(Event.id.in_(attended), Event.status == EventStatus.CLOSED,
                    Event.evaluation_form_url.is_not(None), Event.personal_data_purged_at.is_(None), ~done)
             .order_by(Event.closed_at.desc(), Event.id.desc()))
    rows, number, pages, total = _paged(session, query, name="forms", page=page)
    return Page(tuple(FormToDo(event_id=eid, event_title=title, form_url=url) for eid, title, url in rows),
                number, pages, total)


# --- acting on an event from Home ---------------------------------------------------------------------


def event_to_run(session: Session, *, workspace_id: int, event_id: int, slack_user_id: str, action: str) -> Event:
    """An event named by a Home button, if it is still there and the person may run it."""
    event = session.get(Event, event_id)
    if event is None or event.workspace_id != workspace_id or event.status == EventStatus.CANCELLED:
        raise HomeError("That event is no longer there: open the Home tab again.")
    people.require_runner(session, event=event, slack_user_id=slack_user_id, action=action)
    return event

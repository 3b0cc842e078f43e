"""Asking for people's Home tabs to be drawn again, from the transactions that change what they show.

A platform module, so that every domain can ask without importing `bot/home/` (which sits above
them all): the request is an outbox row of kind `HOME` for each person concerned, coalesced per
person, which `bot/home/posts.py` renders from the database when it is sent. Only people who have
opened Home at least once (a `home_tabs` row) are asked for: publishing the tab of everyone at a
5,000-person event on every vote would be a storm of views.publish calls nobody looks at.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Select, select, union
from sqlalchemy.orm import Session

from bot import outbox
from bot.models import EventRole, FollowUp, HomeTab, Person, Question, Role

HOME = "home"
# A change waits this long before the tab is drawn, so a burst of changes (questions pouring in, a
# chair working down the queue) is one views.publish per person, showing all of them.
REDRAW_AFTER = timedelta(seconds=2)
# Who moderates an event's questions, and so sees its queue on their Home.
QUEUE_KEEPERS = (Role.ORGANISER, Role.CHAIR, Role.MODERATOR)


def coalesce_key(person_id: int) -> str:
    return f"home:{person_id}"


def refresh_people(session: Session, *, person_ids: Iterable[int], now: datetime) -> int:
    """Draw these people's Home tabs again (those who have opened it); how many rows were added."""
    wanted = sorted({p for p in person_ids if p is not None})
    if not wanted:
        return 0
    return _refresh(session, select(Person.id).where(Person.id.in_(wanted)), now=now)


def refresh_for_questions(session: Session, *, question_ids: Iterable[int], now: datetime) -> int:
    """Everyone whose Home shows these questions: their askers, the presenters they were asked of,
    their follow-up owners, and their events' organisers, chairs and moderators (the queue)."""
    ids = sorted(set(question_ids))
    if not ids:
        return 0
    concerned = union(
        select(Question.asker_person_id).where(Question.id.in_(ids), Question.asker_person_id.is_not(None)),
        select(Question.for_presenter_person_id).where(Question.id.in_(ids),
                                                       Question.for_presenter_person_id.is_not(None)),
        select(FollowUp.assigned_person_id).where(FollowUp.question_id.in_(ids),
                                                  FollowUp.assigned_person_id.is_not(None)),
        select(EventRole.person_id).where(
            EventRole.event_id.in_(select(Question.event_id).where(Question.id.in_(ids))),
            EventRole.role.in_(QUEUE_KEEPERS)),
    ).subquery()
    return _refresh(session, select(concerned.c[0]), now=now)


def refresh_event(session: Session, *, event_id: int, now: datetime, everyone: bool = False) -> int:
    """An event's organisers, chairs and moderators (its state or its next item changed); with
    `everyone`, each person who holds a role at it (the close asks attendees for the form)."""
    holders = select(EventRole.person_id).where(EventRole.event_id == event_id)
    if not everyone:
        holders = holders.where(EventRole.role.in_(QUEUE_KEEPERS))
    return _refresh(session, holders, now=now)


def _refresh(session: Session, person_ids: Select, *, now: datetime) -> int:
    rows = session.execute(
        select(Person.id, Person.workspace_id, Person.slack_user_id)
        .join(HomeTab, HomeTab.person_id == Person.id)
        .where(Person.id.in_(person_ids), Person.is_deleted.is_(False))).all()
    due = now + REDRAW_AFTER
    return len(outbox.enqueue_all(session, now=now, posts=[
        {"kind": HOME, "recipient": slack_id, "workspace_id": workspace_id, "subject_id": person_id,
         "coalesce_key": coalesce_key(person_id), "due_at": due}
        for person_id, workspace_id, slack_id in rows]))

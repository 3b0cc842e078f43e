"""The live event for the listeners and the scheduler: the welcome, each agenda item, the prompts and the close.

Each is claimed in the database (a conditional UPDATE that only one caller can win) together with
its outbox row, in one transaction: a chair's command racing the scheduler, or two schedulers by
mistake, never post the same thing twice, and once claimed a post is certain to appear exactly
once, whatever happens to this process or to Slack's connection (bot/run_of_show/posts.py renders
it when it is sent, and a post Slack refuses for good is told to the organisers).
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk import WebClient
from sqlalchemy import select, update

from bot import outbox
from bot.db import Database, unit_of_work
from bot.errors import DatabaseUnavailable
from bot.events.slack import enrol_channel_members
from bot.models import AgendaSegment, Event, EventStatus, ReflectionPrompt, ReflectionTheme
from bot.reflections import blocks as reflection_blocks
from bot.run_of_show.rules import (
    CLOSE_POST,
    PROMPT_POST,
    SEGMENT_POST,
    WELCOME_POST,
    RunOfShowError,
    RunState,
    effective_time,
    next_unannounced,
    not_live,
    run_state,
)
from bot.workspaces import installed

logger = logging.getLogger(__name__)


def _request(session, *, kind: str, event: Event, subject_id: int, now: datetime) -> None:  # type: ignore[no-untyped-def]
    outbox.enqueue(session, kind=kind, recipient=event.channel_id, now=now, workspace_id=event.workspace_id,
                   event_id=event.id, subject_id=subject_id, dedupe_key=f"{kind}:{subject_id}")


# --- starting --------------------------------------------------------------------------------


def start_event(
    database: Database,
    client: WebClient,
    *,
    event_id: int,
    now: datetime,
    by_chair: bool,
    exclude_from_attendees: frozenset[str] = frozenset(),
) -> bool:
    """Open the event and post the welcome; False if it had already started."""
    with unit_of_work(database) as session:
        offset = 0
        event = session.get_one(Event, event_id)
        if by_chair:
            # A chair starting early or late sets the pace for everything scheduled after.
            offset = int((now - event.starts_at).total_seconds())
        won = session.execute(
            update(Event)
            .where(Event.id == event_id, Event.status == EventStatus.SCHEDULED)
            .values(status=EventStatus.LIVE, started_at=now, schedule_offset_seconds=offset)
        ).rowcount
        if not won:
            return False
        _request(session, kind=WELCOME_POST, event=event, subject_id=event.id, now=now)
        channel_id = event.channel_id
    enrol_channel_members(database, client, event_id=event_id, channel_id=channel_id, exclude=exclude_from_attendees)
    return True


# --- the agenda --------------------------------------------------------------------------------


def announce_next_segment(database: Database, *, event_id: int, now: datetime, by_chair: bool) -> AgendaSegment | None:
    """Announce the next agenda segment; None when every segment has been announced.

    A chair's `/event next` wins over the plan: the segment is announced now, and the
    difference from its planned time moves everything scheduled after it.
    """
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        if event.status != EventStatus.LIVE:
            raise RunOfShowError(not_live(event))
        segment = next_unannounced(session, event_id)
        if segment is None:
            return None
        won = session.execute(
            update(AgendaSegment)
            .where(AgendaSegment.id == segment.id, AgendaSegment.announced_at.is_(None))
            .values(announced_at=now)
        ).rowcount
        if not won:
            return None
        if by_chair:
            event.schedule_offset_seconds = int((now - segment.scheduled_at).total_seconds())
        _request(session, kind=SEGMENT_POST, event=event, subject_id=segment.id, now=now)
        return segment


# --- reflection prompts --------------------------------------------------------------------------


def post_prompt(database: Database, *, event_id: int, theme: ReflectionTheme, now: datetime) -> ReflectionPrompt:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        if event.status != EventStatus.LIVE:
            raise RunOfShowError(not_live(event))
        prompt = session.scalar(
            select(ReflectionPrompt).where(ReflectionPrompt.event_id == event_id, ReflectionPrompt.theme == theme)
        )
        if prompt is None:
            raise RunOfShowError("This event has no prompt for that theme.")
        won = session.execute(
            update(ReflectionPrompt)
            .where(ReflectionPrompt.id == prompt.id, ReflectionPrompt.posted_at.is_(None))
            .values(posted_at=now)
        ).rowcount
        if not won:
            raise RunOfShowError(
                f"The {reflection_blocks.THEME_NAMES[theme]} prompt has already been posted; "
                "people can still answer in its thread."
            )
        _request(session, kind=PROMPT_POST, event=event, subject_id=prompt.id, now=now)
        return prompt


# --- closing -----------------------------------------------------------------------------------


def close_event(database: Database, *, event_id: int, now: datetime) -> bool:
    """Post the close (thanks, reflections per theme, the form, what's next); False if already closed."""
    with unit_of_work(database) as session:
        won = session.execute(
            update(Event)
            .where(Event.id == event_id, Event.status.in_((EventStatus.SCHEDULED, EventStatus.LIVE)))
            .values(status=EventStatus.CLOSED, closed_at=now)
        ).rowcount
        if not won:
            return False
        _request(session, kind=CLOSE_POST, event=session.get_one(Event, event_id), subject_id=event_id, now=now)
    return True


def status_of(database: Database, *, event_id: int) -> RunState:
    with unit_of_work(database) as session:
        return run_state(session, event=session.get_one(Event, event_id))


# --- the scheduler's tick ---------------------------------------------------------------------------


def run_due_work(
    database: Database, client: WebClient, *, now: datetime, exclude_from_attendees: frozenset[str] = frozenset()
) -> None:
    """Post whatever the programme says is due by `now`; safe to call as often as wanted."""
    with unit_of_work(database) as session:
        due_to_start = list(
            session.scalars(select(Event.id).where(Event.status == EventStatus.SCHEDULED, Event.starts_at <= now,
                                   installed(Event.workspace_id)))
        )
    for event_id in due_to_start:
        _guarded(start_event, database, client, event_id=event_id, now=now, by_chair=False,
                 exclude_from_attendees=exclude_from_attendees)

    with unit_of_work(database) as session:
        live = list(session.scalars(select(Event).where(Event.status == EventStatus.LIVE, installed(Event.workspace_id))))
        work: list[tuple[str, int, object]] = []
        for event in live:
            segment = next_unannounced(session, event.id)
            if segment is not None and effective_time(event, segment.scheduled_at) <= now:
                work.append(("segment", event.id, None))
            for prompt in event.prompts:
                if prompt.posted_at is None and prompt.scheduled_at and effective_time(event, prompt.scheduled_at) <= now:
                    work.append(("prompt", event.id, prompt.theme))
            if event.ends_at <= now:
                work.append(("close", event.id, None))
    for kind, event_id, theme in work:
        if kind == "segment":
            _guarded(announce_next_segment, database, event_id=event_id, now=now, by_chair=False)
        elif kind == "prompt":
            _guarded(post_prompt, database, event_id=event_id, theme=theme, now=now)
        else:
            _guarded(close_event, database, event_id=event_id, now=now)


def _guarded(step, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """One event's failure must not stop the others' posts; the next tick retries it."""
    try:
        step(*args, **kwargs)
    except (RunOfShowError, DatabaseUnavailable) as error:
        logger.warning("%s for event %s did not happen: %s", step.__name__, kwargs.get("event_id"), error)
    except Exception:
        logger.exception("%s for event %s failed; the next tick retries it", step.__name__, kwargs.get("event_id"))

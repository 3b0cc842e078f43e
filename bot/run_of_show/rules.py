"""The live event's rules: what is due when (following the chair's pace) and where the event is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import (
    AgendaSegment,
    Event,
    EventStatus,
    ReflectionPrompt,
    ReflectionTheme,
)
from bot.reflections.rules import PROMPT_POST, reflection_counts

# What the run of show posts through the outbox (bot/run_of_show/posts.py renders them), in this order.
WELCOME_POST = "welcome_post"
SEGMENT_POST = "segment_post"
CLOSE_POST = "close_post"
RUN_OF_SHOW_POSTS = (WELCOME_POST, SEGMENT_POST, PROMPT_POST, CLOSE_POST)


class RunOfShowError(UserError):
    """Something the chair asked for cannot happen now; the message says why and what to do."""


@dataclass(frozen=True)
class RunState:
    event: Event
    current_segment: AgendaSegment | None
    next_segment: AgendaSegment | None
    next_segment_due: datetime | None
    unposted_prompts: list[ReflectionPrompt]
    reflection_counts: dict[ReflectionTheme, int]


def effective_time(event: Event, planned: datetime) -> datetime:
    """When a planned post is now due, following the chair's pace."""
    return planned + timedelta(seconds=event.schedule_offset_seconds)


def next_unannounced(session: Session, event_id: int) -> AgendaSegment | None:
    return session.scalar(
        select(AgendaSegment)
        .where(AgendaSegment.event_id == event_id, AgendaSegment.announced_at.is_(None))
        .order_by(AgendaSegment.position)
        .limit(1)
    )


def _current_segment(session: Session, event_id: int) -> AgendaSegment | None:
    return session.scalar(
        select(AgendaSegment)
        .where(AgendaSegment.event_id == event_id, AgendaSegment.announced_at.is_not(None))
        .order_by(AgendaSegment.position.desc())
        .limit(1)
    )


# --- where are we ------------------------------------------------------------------------------


def run_state(session: Session, *, event: Event) -> RunState:
    upcoming = next_unannounced(session, event.id)
    return RunState(
        event=event,
        current_segment=_current_segment(session, event.id),
        next_segment=upcoming,
        next_segment_due=effective_time(event, upcoming.scheduled_at) if upcoming else None,
        unposted_prompts=list(
            session.scalars(
                select(ReflectionPrompt)
                .where(ReflectionPrompt.event_id == event.id, ReflectionPrompt.posted_at.is_(None))
                .order_by(ReflectionPrompt.id)
            )
        ),
        reflection_counts=reflection_counts(session, event_id=event.id),
    )


def not_live(event: Event) -> str:
    if event.status == EventStatus.SCHEDULED:
        return "The session has not started yet: start it with `/event start`."
    return "This session has closed."

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
)
from bot.reflections.rules import PROMPT_POST, Topic, reflection_counts

# What the run of show posts through the outbox (bot/run_of_show/posts.py renders them), in this order.
WELCOME_POST = "welcome_post"
SEGMENT_POST = "segment_post"
CLOSE_POST = "close_post"
RUN_OF_SHOW_POSTS = (WELCOME_POST, SEGMENT_POST, PROMPT_POST, CLOSE_POST)


# A scheduled post found due later than this was held up by downtime, not by the tick: the run of
# show catches up (the current item only, no close for an event that is over) instead of replaying.
CATCH_UP_AFTER_SECONDS = 5 * 60
# A `/event next` this soon after another chair's (or the schedule's) announcement is taken as the
# same press: it is told what happened instead of skipping an item nobody meant to skip.
SAME_PRESS_SECONDS = 10
# How far `/event extend` may move the rest of a session in one go.
MAX_EXTEND_MINUTES = 180


class RunOfShowError(UserError):
    """Something the chair asked for cannot happen now; the message says why and what to do."""


WHICH_PROMPT = ("Which prompt? Use `/event prompt improvement`, `collaborative`, `equity` or `next`, "
                "or the name of one of the event's own prompts.")

@dataclass(frozen=True)
class RunState:
    event: Event
    current_segment: AgendaSegment | None
    next_segment: AgendaSegment | None
    next_segment_due: datetime | None
    unposted_prompts: list[ReflectionPrompt]
    reflection_counts: dict[Topic, int]
    closes_at: datetime | None = None

    def prompt_due(self, prompt: ReflectionPrompt) -> datetime | None:
        return effective_time(self.event, prompt.scheduled_at) if prompt.scheduled_at else None


def effective_time(event: Event, planned: datetime) -> datetime:
    """When a planned post is now due, following the chair's pace."""
    return planned + timedelta(seconds=event.schedule_offset_seconds)


def closing_time(event: Event) -> datetime:
    """When the session closes (or closed): the planned end, following the chair's pace."""
    return event.closed_at or effective_time(event, event.ends_at)


def in_programme_order(prompts: list[ReflectionPrompt]) -> list[ReflectionPrompt]:
    """Scheduled prompts by their time, then the ones posted only by command, each group as written."""
    return sorted(prompts, key=lambda p: (p.scheduled_at is None, p.scheduled_at.timestamp() if p.scheduled_at else 0,
                                          p.id))


def next_unannounced(session: Session, event_id: int) -> AgendaSegment | None:
    return session.scalar(
        select(AgendaSegment)
        .where(AgendaSegment.event_id == event_id, AgendaSegment.announced_at.is_(None))
        .order_by(AgendaSegment.position)
        .limit(1)
    )


def current_segment(session: Session, event_id: int) -> AgendaSegment | None:
    return session.scalar(
        select(AgendaSegment)
        .where(AgendaSegment.event_id == event_id, AgendaSegment.announced_at.is_not(None))
        .order_by(AgendaSegment.position.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class NextItem:
    """What a chair's `/event next` did: announced `segment`, or lost to `earlier`, announced just before."""

    segment: AgendaSegment | None
    earlier: AgendaSegment | None = None
    # The hold ended with this press (the chair took the pace back).
    resumed: bool = False
    following: AgendaSegment | None = None


@dataclass(frozen=True)
class Pace:
    """Where the programme stands after a hold, a resume or an extension: what moved, and to when."""

    state: RunState
    moved_by_seconds: int = 0


# --- where are we ------------------------------------------------------------------------------


def run_state(session: Session, *, event: Event) -> RunState:
    upcoming = next_unannounced(session, event.id)
    return RunState(
        event=event,
        current_segment=current_segment(session, event.id),
        next_segment=upcoming,
        next_segment_due=effective_time(event, upcoming.scheduled_at) if upcoming else None,
        unposted_prompts=in_programme_order(list(
            session.scalars(
                select(ReflectionPrompt)
                .where(ReflectionPrompt.event_id == event.id, ReflectionPrompt.posted_at.is_(None))
            )
        )),
        reflection_counts=reflection_counts(session, event_id=event.id),
        closes_at=closing_time(event),
    )


def not_live(event: Event) -> str:
    if event.status == EventStatus.SCHEDULED:
        return "The session has not started yet: start it with `/event start`."
    return "This session has closed."


def minutes(seconds: float) -> str:
    if 0 < abs(seconds) < 30:
        return "less than a minute"
    count = round(abs(seconds) / 60)
    return f"{count} minute{'s' if count != 1 else ''}"

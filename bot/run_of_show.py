"""Running a session live: the welcome, each agenda segment, the prompts and the close.

Every post is claimed in the database before it is sent (a conditional UPDATE that only one
process can win), so a chair's command racing the scheduler, or two schedulers by mistake, never
post the same thing twice. If Slack refuses the post the claim is released and the next tick
tries again; if the process dies between claim and send the post is skipped rather than doubled:
in front of a live audience a missing announcement is the lesser harm.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Update, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import people
from bot.db import unit_of_work
from bot.errors import UserError
from bot.models import (
    AgendaSegment,
    Event,
    EventStatus,
    Reflection,
    ReflectionPrompt,
    ReflectionTheme,
)
from bot.slack import programme_posts
from bot.slack.messages import Message

logger = logging.getLogger(__name__)


class RunOfShowError(UserError):
    """Something the chair asked for cannot happen now; the message says why and what to do."""


@dataclass(frozen=True)
class SessionStatus:
    event: Event
    current_segment: AgendaSegment | None
    next_segment: AgendaSegment | None
    next_segment_due: datetime | None
    unposted_prompts: list[ReflectionPrompt]
    reflection_counts: dict[ReflectionTheme, int]


def effective_time(event: Event, planned: datetime) -> datetime:
    """When a planned post is now due, following the chair's pace."""
    return planned + timedelta(seconds=event.schedule_offset_seconds)


def _post_or_release(
    sessions: sessionmaker[Session], client: WebClient, *, channel_id: str, message: Message, release: Update
) -> str:
    """Send a claimed post; if Slack refuses it, undo the claim (`release`) so the next tick retries."""
    try:
        return client.chat_postMessage(channel=channel_id, **message.as_post())["ts"]
    except SlackApiError:
        with unit_of_work(sessions) as session:
            session.execute(release)
        raise


# --- starting --------------------------------------------------------------------------------


def start_event(
    sessions: sessionmaker[Session],
    client: WebClient,
    *,
    event_id: int,
    now: datetime,
    by_chair: bool,
    exclude_from_attendees: frozenset[str] = frozenset(),
) -> bool:
    """Open the session and post the welcome; False if it had already started."""
    with unit_of_work(sessions) as session:
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
    with unit_of_work(sessions) as session:
        event = session.get_one(Event, event_id)
        message = programme_posts.welcome(event, list(event.segments))
        channel_id = event.channel_id
    ts = _post_or_release(sessions, client, channel_id=channel_id, message=message, release=update(Event).where(
        Event.id == event_id).values(status=EventStatus.SCHEDULED, started_at=None))
    with unit_of_work(sessions) as session:
        session.get_one(Event, event_id).welcome_message_ts = ts
    enrol_channel_members(sessions, client, event_id=event_id, channel_id=channel_id, exclude=exclude_from_attendees)
    return True


def enrol_channel_members(
    sessions: sessionmaker[Session], client: WebClient, *, event_id: int, channel_id: str, exclude: frozenset[str]
) -> None:
    """Everyone in the channel now (but the excluded, e.g. the app itself) is an attendee.

    Called when the session opens and before a reminder fans out; joiners are added as they come.
    """
    members: list[str] = []
    try:
        for page in client.conversations_members(channel=channel_id, limit=200):
            members.extend(page["members"])
    except SlackApiError as error:
        logger.warning("could not list members of %s: %s", channel_id, error.response.get("error"))
        return
    with unit_of_work(sessions) as session:
        event = session.get_one(Event, event_id)
        people.add_attendees(session, event=event, slack_user_ids=[m for m in members if m not in exclude])


# --- the agenda --------------------------------------------------------------------------------


def announce_next_segment(
    sessions: sessionmaker[Session], client: WebClient, *, event_id: int, now: datetime, by_chair: bool
) -> AgendaSegment | None:
    """Announce the next agenda segment; None when every segment has been announced.

    A chair's `/event next` wins over the plan: the segment is announced now, and the
    difference from its planned time moves everything scheduled after it.
    """
    with unit_of_work(sessions) as session:
        event = session.get_one(Event, event_id)
        if event.status != EventStatus.LIVE:
            raise RunOfShowError(_not_live(event))
        segment = _next_unannounced(session, event_id)
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
        upcoming = _next_unannounced(session, event_id)
        message = programme_posts.segment_started(event, segment, upcoming)
        channel_id, segment_id = event.channel_id, segment.id
    ts = _post_or_release(sessions, client, channel_id=channel_id, message=message, release=update(
        AgendaSegment).where(AgendaSegment.id == segment_id).values(announced_at=None))
    with unit_of_work(sessions) as session:
        segment = session.get_one(AgendaSegment, segment_id)
        segment.announcement_ts = ts
        return segment


def _next_unannounced(session: Session, event_id: int) -> AgendaSegment | None:
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


# --- reflection prompts --------------------------------------------------------------------------


def post_prompt(
    sessions: sessionmaker[Session], client: WebClient, *, event_id: int, theme: ReflectionTheme, now: datetime
) -> ReflectionPrompt:
    with unit_of_work(sessions) as session:
        event = session.get_one(Event, event_id)
        if event.status != EventStatus.LIVE:
            raise RunOfShowError(_not_live(event))
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
                f"The {programme_posts.THEME_NAMES[theme]} prompt has already been posted; "
                "people can still answer in its thread."
            )
        message = programme_posts.prompt(prompt)
        channel_id, prompt_id = event.channel_id, prompt.id
    ts = _post_or_release(sessions, client, channel_id=channel_id, message=message, release=update(
        ReflectionPrompt).where(ReflectionPrompt.id == prompt_id).values(posted_at=None))
    with unit_of_work(sessions) as session:
        prompt = session.get_one(ReflectionPrompt, prompt_id)
        prompt.message_ts = ts
        return prompt


# --- closing -----------------------------------------------------------------------------------


def close_event(sessions: sessionmaker[Session], client: WebClient, *, event_id: int, now: datetime) -> bool:
    """Post the close (thanks, reflections per theme, the form, what's next); False if already closed."""
    with unit_of_work(sessions) as session:
        won = session.execute(
            update(Event)
            .where(Event.id == event_id, Event.status.in_((EventStatus.SCHEDULED, EventStatus.LIVE)))
            .values(status=EventStatus.CLOSED, closed_at=now)
        ).rowcount
        if not won:
            return False
        event = session.get_one(Event, event_id)
        message = programme_posts.close(event, reflection_counts(session, event_id=event_id))
        channel_id = event.channel_id
    ts = _post_or_release(sessions, client, channel_id=channel_id, message=message, release=update(Event).where(
        Event.id == event_id).values(status=EventStatus.LIVE, closed_at=None))
    with unit_of_work(sessions) as session:
        session.get_one(Event, event_id).close_message_ts = ts
    return True


def reflection_counts(session: Session, *, event_id: int) -> dict[ReflectionTheme, int]:
    rows = session.execute(
        select(ReflectionPrompt.theme, func.count(Reflection.id))
        .join(Reflection, Reflection.prompt_id == ReflectionPrompt.id)
        .where(ReflectionPrompt.event_id == event_id, Reflection.deleted_at.is_(None))
        .group_by(ReflectionPrompt.theme)
    ).all()
    counts = {theme: 0 for theme in ReflectionTheme}
    counts.update({theme: count for theme, count in rows})
    return counts


# --- where are we ------------------------------------------------------------------------------


def session_status(session: Session, *, event: Event) -> SessionStatus:
    upcoming = _next_unannounced(session, event.id)
    return SessionStatus(
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


def status_of(sessions: sessionmaker[Session], *, event_id: int) -> SessionStatus:
    with unit_of_work(sessions) as session:
        return session_status(session, event=session.get_one(Event, event_id))


# --- the scheduler's tick ---------------------------------------------------------------------------


def run_due_work(
    sessions: sessionmaker[Session], client: WebClient, *, now: datetime, exclude_from_attendees: frozenset[str] = frozenset()
) -> None:
    """Post whatever the programme says is due by `now`; safe to call as often as wanted."""
    with unit_of_work(sessions) as session:
        due_to_start = list(
            session.scalars(select(Event.id).where(Event.status == EventStatus.SCHEDULED, Event.starts_at <= now))
        )
    for event_id in due_to_start:
        _guarded(start_event, sessions, client, event_id=event_id, now=now, by_chair=False,
                 exclude_from_attendees=exclude_from_attendees)

    with unit_of_work(sessions) as session:
        live = list(session.scalars(select(Event).where(Event.status == EventStatus.LIVE)))
        work: list[tuple[str, int, object]] = []
        for event in live:
            segment = _next_unannounced(session, event.id)
            if segment is not None and effective_time(event, segment.scheduled_at) <= now:
                work.append(("segment", event.id, None))
            for prompt in event.prompts:
                if prompt.posted_at is None and prompt.scheduled_at and effective_time(event, prompt.scheduled_at) <= now:
                    work.append(("prompt", event.id, prompt.theme))
            if event.ends_at <= now:
                work.append(("close", event.id, None))
    for kind, event_id, theme in work:
        if kind == "segment":
            _guarded(announce_next_segment, sessions, client, event_id=event_id, now=now, by_chair=False)
        elif kind == "prompt":
            _guarded(post_prompt, sessions, client, event_id=event_id, theme=theme, now=now)
        else:
            _guarded(close_event, sessions, client, event_id=event_id, now=now)


def _guarded(step, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """One event's failure must not stop the others' posts; the next tick retries it."""
    try:
        step(*args, **kwargs)
    except (SlackApiError, RunOfShowError) as error:
        logger.warning("%s for event %s did not happen: %s", step.__name__, kwargs.get("event_id"), error)


def _not_live(event: Event) -> str:
    if event.status == EventStatus.SCHEDULED:
        return "The session has not started yet: start it with `/event start`."
    return "This session has closed."

"""The live event in Slack: the welcome, each agenda item, the prompts and the close.

Every post is claimed in the database before it is sent (a conditional UPDATE that only one
process can win), so a chair's command racing the scheduler, or two schedulers by mistake, never
post the same thing twice. If Slack refuses the post the claim is released and the next tick
tries again; if the process dies between claim and send the post is skipped rather than doubled:
in front of a live audience a missing announcement is the lesser harm.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Update, select, update

from bot.db import Database, unit_of_work
from bot.events.slack import enrol_channel_members
from bot.models import (
    AgendaSegment,
    Event,
    EventStatus,
    ReflectionPrompt,
    ReflectionTheme,
)
from bot.reflections import blocks as reflection_blocks
from bot.reflections.rules import reflection_counts
from bot.run_of_show import blocks as run_of_show_blocks
from bot.run_of_show.rules import (
    RunOfShowError,
    RunState,
    effective_time,
    next_unannounced,
    not_live,
    run_state,
)
from bot.slack.messages import Message
from bot.workspaces import installed

logger = logging.getLogger(__name__)


def _post_or_release(
    database: Database, client: WebClient, *, channel_id: str, message: Message, release: Update
) -> str:
    """Send a claimed post; if Slack refuses it, undo the claim (`release`) so the next tick retries."""
    try:
        return client.chat_postMessage(channel=channel_id, **message.as_post())["ts"]
    except SlackApiError:
        with unit_of_work(database) as session:
            session.execute(release)
        raise


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
    """Open the session and post the welcome; False if it had already started."""
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
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        message = run_of_show_blocks.welcome(event, list(event.segments))
        channel_id = event.channel_id
    ts = _post_or_release(database, client, channel_id=channel_id, message=message, release=update(Event).where(
        Event.id == event_id).values(status=EventStatus.SCHEDULED, started_at=None))
    with unit_of_work(database) as session:
        session.get_one(Event, event_id).welcome_message_ts = ts
    enrol_channel_members(database, client, event_id=event_id, channel_id=channel_id, exclude=exclude_from_attendees)
    return True


# --- the agenda --------------------------------------------------------------------------------


def announce_next_segment(
    database: Database, client: WebClient, *, event_id: int, now: datetime, by_chair: bool
) -> AgendaSegment | None:
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
        upcoming = next_unannounced(session, event_id)
        message = run_of_show_blocks.segment_started(event, segment, upcoming)
        channel_id, segment_id = event.channel_id, segment.id
    ts = _post_or_release(database, client, channel_id=channel_id, message=message, release=update(
        AgendaSegment).where(AgendaSegment.id == segment_id).values(announced_at=None))
    with unit_of_work(database) as session:
        segment = session.get_one(AgendaSegment, segment_id)
        segment.announcement_ts = ts
        return segment


# --- reflection prompts --------------------------------------------------------------------------


def post_prompt(
    database: Database, client: WebClient, *, event_id: int, theme: ReflectionTheme, now: datetime
) -> ReflectionPrompt:
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
        message = run_of_show_blocks.prompt(prompt)
        channel_id, prompt_id = event.channel_id, prompt.id
    ts = _post_or_release(database, client, channel_id=channel_id, message=message, release=update(
        ReflectionPrompt).where(ReflectionPrompt.id == prompt_id).values(posted_at=None))
    with unit_of_work(database) as session:
        prompt = session.get_one(ReflectionPrompt, prompt_id)
        prompt.message_ts = ts
        return prompt


# --- closing -----------------------------------------------------------------------------------


def close_event(database: Database, client: WebClient, *, event_id: int, now: datetime) -> bool:
    """Post the close (thanks, reflections per theme, the form, what's next); False if already closed."""
    with unit_of_work(database) as session:
        won = session.execute(
            update(Event)
            .where(Event.id == event_id, Event.status.in_((EventStatus.SCHEDULED, EventStatus.LIVE)))
            .values(status=EventStatus.CLOSED, closed_at=now)
        ).rowcount
        if not won:
            return False
        event = session.get_one(Event, event_id)
        message = run_of_show_blocks.close(event, reflection_counts(session, event_id=event_id))
        channel_id = event.channel_id
    ts = _post_or_release(database, client, channel_id=channel_id, message=message, release=update(Event).where(
        Event.id == event_id).values(status=EventStatus.LIVE, closed_at=None))
    with unit_of_work(database) as session:
        session.get_one(Event, event_id).close_message_ts = ts
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
            _guarded(announce_next_segment, database, client, event_id=event_id, now=now, by_chair=False)
        elif kind == "prompt":
            _guarded(post_prompt, database, client, event_id=event_id, theme=theme, now=now)
        else:
            _guarded(close_event, database, client, event_id=event_id, now=now)


def _guarded(step, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """One event's failure must not stop the others' posts; the next tick retries it."""
    try:
        step(*args, **kwargs)
    except (SlackApiError, RunOfShowError) as error:
        logger.warning("%s for event %s did not happen: %s", step.__name__, kwargs.get("event_id"), error)

"""The live event for the listeners and the scheduler: the welcome, each agenda item, the prompts and the close.

Each is claimed in the database (a conditional UPDATE that only one caller can win) together with
its outbox row, in one transaction: a chair's command racing the scheduler, or two schedulers by
mistake, never post the same thing twice, and once claimed a post is certain to appear exactly
once, whatever happens to this process or to Slack's connection (bot/run_of_show/posts.py renders
it when it is sent, and a post Slack refuses for good is told to the organisers).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy import select, true, update

from bot import home_tabs, outbox
from bot.db import Database, unit_of_work
from bot.errors import DatabaseUnavailable
from bot.events.posts import notify_organisers
from bot.events.rules import prompt_word
from bot.events.slack import enrol_channel_members
from bot.models import AgendaSegment, Event, EventStatus, ReflectionPrompt, ReflectionTheme
from bot.reflections import blocks as reflection_blocks
from bot.run_of_show import blocks
from bot.run_of_show.rules import (
    CATCH_UP_AFTER_SECONDS,
    CLOSE_POST,
    MAX_EXTEND_MINUTES,
    PROMPT_POST,
    SAME_PRESS_SECONDS,
    SEGMENT_POST,
    WELCOME_POST,
    WHICH_PROMPT,
    NextItem,
    Pace,
    RunOfShowError,
    RunState,
    closing_time,
    current_segment,
    effective_time,
    in_programme_order,
    next_unannounced,
    not_live,
    run_state,
)
from bot.slack.text import escape, truncate
from bot.workspaces import installed

logger = logging.getLogger(__name__)


def _request(session, *, kind: str, event: Event, subject_id: int, now: datetime) -> None:  # type: ignore[no-untyped-def]
    outbox.enqueue(session, kind=kind, recipient=event.channel_id, now=now, workspace_id=event.workspace_id,
                   event_id=event.id, subject_id=subject_id, dedupe_key=f"{kind}:{subject_id}")
    # The runners' Home says what comes next; after the close, everyone's shows the form to fill in.
    home_tabs.refresh_event(session, event_id=event.id, now=now, everyone=kind == CLOSE_POST)


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


def _live_event(session, event_id: int, *, lock: bool = False) -> Event:  # type: ignore[no-untyped-def]
    """The event a chair's command acts on, refused with the reason unless the session is live."""
    event = session.get_one(Event, event_id, with_for_update=lock)
    if event.status != EventStatus.LIVE:
        raise RunOfShowError(not_live(event))
    return event


# --- the agenda --------------------------------------------------------------------------------


def announce_next_segment(database: Database, *, event_id: int, now: datetime, by_chair: str | None) -> NextItem:
    """Announce the next agenda segment now, at a chair's word (`by_chair` is their Slack ID).

    A chair's `/event next` wins over the plan: the difference from its planned time moves
    everything scheduled after it, and a hold ends. A press that comes within SAME_PRESS_SECONDS of
    another chair's is taken for the same press and announces nothing: it is told what the other
    did. (An item the schedule has just announced does not count: a chair who starts the session
    and moves straight on means to.)
    """
    with unit_of_work(database) as session:
        # Presses for one event take turns (a row lock; SQLite's writers already do): each then
        # sees the last announcement whole, so two at once announce one item between them.
        event = _live_event(session, event_id, lock=True)
        latest = current_segment(session, event_id)
        if (by_chair and latest is not None and latest.announced_at is not None
                and latest.announced_by_slack_id not in (None, by_chair)
                and now - latest.announced_at < timedelta(seconds=SAME_PRESS_SECONDS)):
            return NextItem(segment=None, earlier=latest, following=next_unannounced(session, event_id))
        segment = next_unannounced(session, event_id)
        if segment is None:
            return NextItem(segment=None)
        won = session.execute(
            update(AgendaSegment)
            .where(AgendaSegment.id == segment.id, AgendaSegment.announced_at.is_(None))
            .values(announced_at=now, announced_by_slack_id=by_chair)
        ).rowcount
        if not won:
            # Another press took it between our read and our write: say which.
            session.refresh(segment)
            return NextItem(segment=None, earlier=segment, following=next_unannounced(session, event_id))
        resumed = event.held_at is not None
        if by_chair:
            event.schedule_offset_seconds = int((now - segment.scheduled_at).total_seconds())
            event.held_at = None
        _request(session, kind=SEGMENT_POST, event=event, subject_id=segment.id, now=now)
        return NextItem(segment=segment, resumed=resumed and by_chair is not None,
                        following=next_unannounced(session, event_id))


def catch_up_segments(database: Database, *, event_id: int, now: datetime) -> AgendaSegment | None:
    """Announce the item the programme says is current; items passed over while eventbot was away
    are marked missed and named in that one announcement, never posted on their own."""
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        if event.status != EventStatus.LIVE or event.held_at is not None:
            return None
        due = [segment for segment in session.scalars(
            select(AgendaSegment)
            .where(AgendaSegment.event_id == event_id, AgendaSegment.announced_at.is_(None))
            .order_by(AgendaSegment.position))
            if effective_time(event, segment.scheduled_at) <= now]
        if not due:
            return None
        *passed, current = due
        for segment, missed in [(s, True) for s in passed] + [(current, False)]:
            won = session.execute(
                update(AgendaSegment)
                .where(AgendaSegment.id == segment.id, AgendaSegment.announced_at.is_(None))
                .values(announced_at=now, missed=missed)
            ).rowcount
            if not won:
                raise _Overtaken  # a chair moved the agenda meanwhile: their pace stands
        _request(session, kind=SEGMENT_POST, event=event, subject_id=current.id, now=now)
        return current


class _Overtaken(Exception):
    """The scheduler's step lost to a chair's command in the same moment; its transaction is undone."""


# --- the chair's pace -------------------------------------------------------------------------------


def hold_event(database: Database, *, event_id: int, now: datetime) -> Pace:
    """Stop the scheduled posts (agenda, prompts, the close) until the chair resumes."""
    with unit_of_work(database) as session:
        event = _live_event(session, event_id)
        if event.held_at is not None:
            raise RunOfShowError("The session is already on hold. `/event resume` carries on with the programme.")
        event.held_at = now
        return Pace(state=run_state(session, event=event))


def resume_event(database: Database, *, event_id: int, now: datetime) -> Pace:
    """End a hold: everything not yet posted moves on by the time held."""
    with unit_of_work(database) as session:
        event = _live_event(session, event_id)
        if event.held_at is None:
            raise RunOfShowError("The session is not on hold. `/event hold` pauses the scheduled posts.")
        held = int((now - event.held_at).total_seconds())
        event.schedule_offset_seconds += held
        event.held_at = None
        return Pace(state=run_state(session, event=event), moved_by_seconds=held)


def extend_event(database: Database, *, event_id: int, now: datetime, minutes: int) -> Pace:
    """Give the current item `minutes` more: it and everything after it, the close included, move."""
    if not 1 <= minutes <= MAX_EXTEND_MINUTES:
        raise RunOfShowError(f"Extend by a number of minutes from 1 to {MAX_EXTEND_MINUTES}, "
                             "e.g. `/event extend 10`.")
    with unit_of_work(database) as session:
        event = _live_event(session, event_id)
        event.schedule_offset_seconds += minutes * 60
        return Pace(state=run_state(session, event=event), moved_by_seconds=minutes * 60)


# --- reflection prompts --------------------------------------------------------------------------


def post_prompt(database: Database, *, event_id: int, theme: ReflectionTheme | str, now: datetime) -> ReflectionPrompt:
    """Post a theme's prompt, or (`theme` a str) the event's own prompt of that name."""
    with unit_of_work(database) as session:
        event = _live_event(session, event_id)
        prompts = list(session.scalars(select(ReflectionPrompt).where(ReflectionPrompt.event_id == event_id)))
        if isinstance(theme, ReflectionTheme):
            prompt = next((p for p in prompts if p.theme == theme), None)
            if prompt is None:
                raise RunOfShowError("This event has no prompt for that theme.")
        else:
            prompt = next((p for p in prompts if p.theme is None and p.name
                           and prompt_word(p.name) == prompt_word(theme)), None)
            if prompt is None:
                own = ", ".join(f"`{escape(p.name)}`" for p in prompts if p.theme is None and p.name)
                raise RunOfShowError(f"This event has no prompt called '{escape(truncate(theme, 60))}'. {WHICH_PROMPT}"
                                     + (f" This event's own: {own}." if own else ""))
        won = session.execute(
            update(ReflectionPrompt)
            .where(ReflectionPrompt.id == prompt.id, ReflectionPrompt.posted_at.is_(None))
            .values(posted_at=now)
        ).rowcount
        if not won:
            raise RunOfShowError(
                f"The {reflection_blocks.topic_name(prompt.topic)} prompt has already been posted; "
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
            .values(status=EventStatus.CLOSED, closed_at=now, held_at=None)
        ).rowcount
        if not won:
            return False
        _request(session, kind=CLOSE_POST, event=session.get_one(Event, event_id), subject_id=event_id, now=now)
    return True


def close_missed_event(database: Database, client: WebClient, *, event_id: int, now: datetime,
                       exclude_from_attendees: frozenset[str] = frozenset()) -> bool:
    """Close an event whose end passed while eventbot was away, posting nothing in its channel.

    A thank-you (or a welcome, or a prompt) long after the audience has gone would only surprise
    them; the organisers are told instead what was not posted, and can post the close themselves.
    The event counts as closed at its planned end, so what follows the close (follow-ups, "at
    close" reminders within their grace) carries on as it would have.
    """
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        if event.status not in (EventStatus.SCHEDULED, EventStatus.LIVE):
            return False
        ended = closing_time(event)
        won = session.execute(
            update(Event)
            .where(Event.id == event_id, Event.status == event.status)
            .values(status=EventStatus.CLOSED, closed_at=ended, held_at=None, missed_notice_at=now)
        ).rowcount
        if not won:
            return False
        session.refresh(event)
        missed_prompts = in_programme_order([p for p in event.prompts if p.posted_at is None and p.scheduled_at])
        unannounced = [s for s in event.segments if s.announced_at is None]
        started = event.started_at is not None
        channel_id = event.channel_id
        notify_organisers(session, event=event, about=f"missed-close:{event.id}", now=now,
                          message=blocks.missed_while_away(event, ended=ended, started=started,
                                                           segments=unannounced, prompts=missed_prompts))
    if not started:
        # The channel's members were the audience: the evaluation reminders and follow-ups reach them.
        enrol_channel_members(database, client, event_id=event_id, channel_id=channel_id,
                              exclude=exclude_from_attendees)
    logger.warning("event %s ended at %s while eventbot was away: closed without posting, organisers told",
                   event_id, ended.isoformat())
    return True


def status_of(database: Database, *, event_id: int) -> RunState:
    with unit_of_work(database) as session:
        return run_state(session, event=session.get_one(Event, event_id))


# --- the scheduler's tick ---------------------------------------------------------------------------


def run_due_work(
    database: Database, client: WebClient, *, now: datetime, exclude_from_attendees: frozenset[str] = frozenset(),
    workspace_id: int | None = None,
) -> None:
    """Post whatever the programme says is due by `now`; safe to call as often as wanted.

    After downtime it catches up rather than replays: only the current agenda item is announced,
    prompts still due go out in programme order, and an event that is over gets nothing posted at
    all (its organisers are told). A held event waits for its chair. With `workspace_id`, only
    that workspace's events, whose token `client` holds.
    """
    late = timedelta(seconds=CATCH_UP_AFTER_SECONDS)
    ours = Event.workspace_id == workspace_id if workspace_id is not None else true()
    with unit_of_work(database) as session:
        due_to_start = [
            (event.id, closing_time(event) <= now - late) for event in session.scalars(
                select(Event).where(Event.status == EventStatus.SCHEDULED, Event.starts_at <= now, ours,
                                    Event.waits_for_chair.is_(False), installed(Event.workspace_id)))]
    for event_id, over in due_to_start:
        if over:
            _guarded(close_missed_event, database, client, event_id=event_id, now=now,
                     exclude_from_attendees=exclude_from_attendees)
        else:
            _guarded(start_event, database, client, event_id=event_id, now=now, by_chair=False,
                     exclude_from_attendees=exclude_from_attendees)

    with unit_of_work(database) as session:
        live = list(session.scalars(select(Event).where(
            Event.status == EventStatus.LIVE, Event.held_at.is_(None), ours, installed(Event.workspace_id))))
        work: list[tuple[str, int, object]] = []
        for event in live:
            closes_at = closing_time(event)
            if closes_at <= now - late:
                work.append(("missed", event.id, None))
                continue
            segment = next_unannounced(session, event.id)
            if segment is not None and effective_time(event, segment.scheduled_at) <= now:
                work.append(("segment", event.id, None))
            for prompt in in_programme_order(list(event.prompts)):
                if prompt.posted_at is None and prompt.scheduled_at and effective_time(event, prompt.scheduled_at) <= now:
                    work.append(("prompt", event.id, prompt.theme if prompt.theme is not None else prompt.name))
            if closes_at <= now:
                work.append(("close", event.id, None))
    for kind, event_id, theme in work:
        if kind == "segment":
            _guarded(catch_up_segments, database, event_id=event_id, now=now)
        elif kind == "prompt":
            _guarded(post_prompt, database, event_id=event_id, theme=theme, now=now)
        elif kind == "missed":
            _guarded(close_missed_event, database, client, event_id=event_id, now=now)
        else:
            _guarded(close_event, database, event_id=event_id, now=now)


def _guarded(step, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """One event's failure must not stop the others' posts; the next tick retries it."""
    try:
        step(*args, **kwargs)
    except _Overtaken:
        logger.info("%s for event %s gave way to a chair's command", step.__name__, kwargs.get("event_id"))
    except (RunOfShowError, DatabaseUnavailable) as error:
        logger.warning("%s for event %s did not happen: %s", step.__name__, kwargs.get("event_id"), error)
    except Exception:
        logger.exception("%s for event %s failed; the next tick retries it", step.__name__, kwargs.get("event_id"))

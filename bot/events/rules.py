"""Events: setting one up for a channel, from Slack or a programme file, and finding it again."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date as date_type
from datetime import datetime, timedelta
from datetime import time as time_type
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import clock
from bot.clock import to_utc
from bot.errors import UserError
from bot.events import people
from bot.models import (
    AgendaSegment,
    Delivery,
    DeliveryStatus,
    Event,
    EventRole,
    EventStatus,
    ReflectionPrompt,
    ReflectionTheme,
    Reminder,
    ReminderStatus,
    Role,
)
from bot.slack.text import escape, too_long, truncate, visible

CURRENT_STATUSES = (EventStatus.SCHEDULED, EventStatus.LIVE)

# The wording the seed event used: every event starts with its four prompts, and a programme
# file's [[prompts]] block without `text` gets its theme's line.
DEFAULT_PROMPTS: dict[ReflectionTheme, str] = {
    ReflectionTheme.IMPROVEMENT: "What are you hearing that relates to improvement?",
    ReflectionTheme.COLLABORATIVE_WORKING: "What are you hearing that relates to collaborative working?",
    ReflectionTheme.EQUITY: "What are you hearing that relates to equity?",
    ReflectionTheme.NEXT_STEPS: "What actions or next steps might you take following this learning?",
}

# What a chair may type after `/event prompt` for each theme; a custom prompt may not be named any
# of these, so the command always knows which prompt is meant.
THEME_WORDS: dict[str, ReflectionTheme] = {
    "improvement": ReflectionTheme.IMPROVEMENT,
    "collaborative": ReflectionTheme.COLLABORATIVE_WORKING,
    "collaborative_working": ReflectionTheme.COLLABORATIVE_WORKING,
    "collaboration": ReflectionTheme.COLLABORATIVE_WORKING,
    "equity": ReflectionTheme.EQUITY,
    "next": ReflectionTheme.NEXT_STEPS,
    "next_steps": ReflectionTheme.NEXT_STEPS,
    "actions": ReflectionTheme.NEXT_STEPS,
}


def prompt_word(text: str) -> str:
    """A prompt's name or theme as `/event prompt` compares it: case and spacing do not matter."""
    return "_".join(text.casefold().replace("_", " ").split())


# The evaluation form is linked in the channel and in every attendee's DMs. Over http:// a link can
# be read or changed on the way and browsers mark the form "Not secure", so only https:// is taken,
# from the setup form and programme files alike, with this one wording.
FORM_LINK_RULE = "Paste the form's full web address, starting with https:// (http:// links are not accepted)."
MAX_FORM_LINK_LENGTH = 2000


def is_form_link(text: str) -> bool:
    """An https:// address with a host name, no spaces, no longer than the setup form's field allows."""
    if len(text) > MAX_FORM_LINK_LENGTH or any(character.isspace() for character in text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed [IPv6] bracket
        return False
    return parts.scheme == "https" and bool(host) and "." in (host or "")


class NoEventHere(UserError):
    pass


class ChannelBusy(UserError):
    pass


@dataclass(frozen=True)
class EventDetails:
    """What the setup modal asks for."""

    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    evaluation_form_url: str | None
    chairs: tuple[str, ...]
    presenters: tuple[str, ...]
    # The session waits for a chair's `/event start` instead of starting itself at `starts_at`.
    waits_for_chair: bool = False


def current_event(session: Session, *, workspace_id: int, channel_id: str) -> Event | None:
    """The scheduled or live event in a channel; the database allows at most one."""
    return session.scalar(
        select(Event).where(
            Event.workspace_id == workspace_id,
            Event.channel_id == channel_id,
            Event.status.in_(CURRENT_STATUSES),
        )
    )


def latest_event(session: Session, *, workspace_id: int, channel_id: str,
                 include_cancelled: bool = False) -> Event | None:
    """The current event, or else the most recent one (digests are wanted after the close too).

    A cancelled event never happened, so it is passed over unless asked for (a series goes on from it).
    """
    past = select(Event).where(Event.workspace_id == workspace_id, Event.channel_id == channel_id)
    if not include_cancelled:
        past = past.where(Event.status != EventStatus.CANCELLED)
    return current_event(session, workspace_id=workspace_id, channel_id=channel_id) or session.scalar(
        past.order_by(Event.starts_at.desc(), Event.id.desc()).limit(1))


def event_to_run(
    session: Session, *, workspace_id: int, channel_id: str, slack_user_id: str, action: str, include_closed: bool = False
) -> Event:
    """The channel's event, if the person may run it; otherwise a UserError saying why."""
    find = latest_event if include_closed else current_event
    event = find(session, workspace_id=workspace_id, channel_id=channel_id)
    if event is None:
        raise NoEventHere(
            "There is no event in this channel yet. An organiser can set one up here with `/event setup`."
        )
    people.require_runner(session, event=event, slack_user_id=slack_user_id, action=action)
    return event


class WhichEvent(UserError):
    """A command that reads an event could mean more than one of the channel's: the message lists them."""


# A day as people type it after a command: `/event report 2026-11-12`.
DAY_WORD = re.compile(r"\d{4}-\d{2}-\d{2}")
# Anything that looks meant as a date (digits with - / or .) but is not written that way.
DATE_LIKE_WORD = re.compile(r"\d+[-/.]\d+([-/.]\d+)?")
# How many of a channel's events a list of them shows (newest first).
EVENTS_LISTED = 10


def split_day(text: str) -> tuple[date_type | None, str]:
    """The day among a command's words, if one is given, and the other words."""
    words = (text or "").split()
    days = [word for word in words if DAY_WORD.fullmatch(word) or DATE_LIKE_WORD.fullmatch(word)]
    if len(days) > 1:
        raise WhichEvent("Give one day, written as 2026-11-12.")
    rest = " ".join(word for word in words if word not in days)
    if not days:
        return None, rest
    try:
        if not DAY_WORD.fullmatch(days[0]):
            raise ValueError
        return date_type.fromisoformat(days[0]), rest
    except ValueError:
        raise WhichEvent(f"`{days[0][:20]}` is not a day eventbot can read: write it as 2026-11-12.") from None


def channel_events(session: Session, *, workspace_id: int, channel_id: str) -> list[Event]:
    """Every event held (or to be held) in a channel, newest first."""
    return list(session.scalars(
        select(Event).where(Event.workspace_id == workspace_id, Event.channel_id == channel_id)
        .order_by(Event.starts_at.desc(), Event.id.desc())))


def local_day(event: Event) -> date_type:
    return event.starts_at.astimezone(clock.zone(event.timezone)).date()


def list_of_events(events: list[Event], *, usage: str) -> str:
    """The channel's events by day, for someone to pick one by adding its day to `usage`."""
    lines = [f"• `{local_day(e).isoformat()}` {escape(truncate(e.title, 80))} ({e.status.value})"
             for e in events[:EVENTS_LISTED]]
    more = f"\n…and {len(events) - EVENTS_LISTED} earlier" if len(events) > EVENTS_LISTED else ""
    example = local_day(events[0]).isoformat() if events else "2026-11-12"
    return ("This channel's events:\n" + "\n".join(lines) + more
            + f"\nAdd the day to choose one, e.g. `{usage} {example}`.")


def event_to_read(session: Session, *, workspace_id: int, channel_id: str, on: date_type | None,
                  usage: str) -> Event:
    """The channel's event a digest or report is about: the one held on the day `on`, or else the
    current or latest one. When that one has not happened yet and earlier ones have, the person is
    shown the list to choose from rather than an empty digest of the coming event."""
    if on is not None:
        events = channel_events(session, workspace_id=workspace_id, channel_id=channel_id)
        held = [e for e in events if local_day(e) == on]
        if not held:
            raise NoEventHere(f"This channel had no event on {on.isoformat()}. "
                              + (list_of_events(events, usage=usage) if events else ""))
        return next((e for e in held if e.status != EventStatus.CANCELLED), held[0])
    event = latest_event(session, workspace_id=workspace_id, channel_id=channel_id)
    if event is None:
        raise NoEventHere(
            "There is no event in this channel yet. An organiser can set one up here with `/event setup`.")
    if event.status == EventStatus.SCHEDULED:
        events = channel_events(session, workspace_id=workspace_id, channel_id=channel_id)
        if any(e.status == EventStatus.CLOSED for e in events):
            raise WhichEvent(f"*{escape(event.title)}* has not happened yet. " + list_of_events(events, usage=usage))
    return event


def create_event(
    session: Session, *, workspace_id: int, channel_id: str, organiser_slack_id: str, details: EventDetails
) -> Event:
    """Set up an event from the modal: the four prompts with their default wording, no agenda yet."""
    event = Event(
        workspace_id=workspace_id,
        channel_id=channel_id,
        title=details.title,
        timezone=details.timezone,
        starts_at=details.starts_at,
        ends_at=details.ends_at,
        evaluation_form_url=details.evaluation_form_url,
        waits_for_chair=details.waits_for_chair,
        created_by_slack_user_id=organiser_slack_id,
        housekeeping_notes=[],
        partner_organisations=[],
    )
    add_exclusively(session, event)
    for theme, text in DEFAULT_PROMPTS.items():
        session.add(ReflectionPrompt(event_id=event.id, theme=theme, text=text))
    grant_all(session, event, [organiser_slack_id], Role.ORGANISER)
    grant_all(session, event, details.chairs, Role.CHAIR)
    grant_all(session, event, details.presenters, Role.PRESENTER)
    return event


def update_event(session: Session, *, event: Event, details: EventDetails, now: datetime) -> Event:
    """Change an event set up earlier; a new date or start moves everything planned with it.

    The agenda, the prompts and the reminders not yet sent keep their places relative to the start,
    by the wall clock of the event's zone (a week later is the same local time, clocks changed or
    not). Reminders counted from the close are then put right by the reminders domain, which
    follows the close.
    """
    problems = moving_problems(event, details, now=now)
    if problems:
        raise FormProblems(problems)
    moved = wall_clock_move(event.starts_at, event.timezone, details.starts_at, details.timezone)
    if details.starts_at != event.starts_at or details.timezone != event.timezone:
        for segment in event.segments:
            if segment.announced_at is None:
                segment.scheduled_at = moved(segment.scheduled_at)
        for prompt in event.prompts:
            if prompt.scheduled_at is not None and prompt.posted_at is None:
                prompt.scheduled_at = moved(prompt.scheduled_at)
        for reminder in session.scalars(select(Reminder).where(Reminder.event_id == event.id,
                                                               Reminder.status == ReminderStatus.SCHEDULED)):
            reminder.due_at = moved(reminder.due_at)
    event.title = details.title
    event.timezone = details.timezone
    event.starts_at = details.starts_at
    event.ends_at = details.ends_at
    event.evaluation_form_url = details.evaluation_form_url
    event.waits_for_chair = details.waits_for_chair
    set_role_holders(session, event, details.chairs, Role.CHAIR)
    set_role_holders(session, event, details.presenters, Role.PRESENTER)
    return event


def wall_clock_move(old_start: datetime, old_timezone: str, new_start: datetime,
                    new_timezone: str) -> Callable[[datetime], datetime]:
    """Where a moment planned relative to `old_start` falls relative to `new_start`, by the wall
    clock of each zone (a week later is the same local time, clocks changed or not)."""
    old_zone, new_zone = clock.zone(old_timezone), clock.zone(new_timezone)
    old_start_wall = old_start.astimezone(old_zone).replace(tzinfo=None)
    new_start_wall = new_start.astimezone(new_zone).replace(tzinfo=None)

    def moved(moment: datetime) -> datetime:
        wall = moment.astimezone(old_zone).replace(tzinfo=None) - old_start_wall + new_start_wall
        return clock.wall_to_utc(wall, new_zone)

    return moved


def moving_problems(event: Event | None, details: EventDetails, *, now: datetime) -> dict[str, str]:
    """What is wrong with an event's times as of `now`, keyed by the setup form's fields.

    An event that would already be over is refused, as programme files refuse it: its whole
    programme would be posted at once and then closed. A session under way cannot move its start;
    `/event extend` gives it more time.
    """
    problems: dict[str, str] = {}
    if event is not None and event.status == EventStatus.LIVE and details.starts_at != event.starts_at:
        problems["start"] = ("The session has started, so its start cannot move. `/event extend 10` gives it "
                             "10 more minutes, and `/event hold` pauses the scheduled posts.")
    if details.ends_at <= now:
        zone = clock.zone(details.timezone)
        if details.ends_at.astimezone(zone).date() < now.astimezone(zone).date():
            problems["date"] = "That day has passed: pick the day of the coming session."
        else:
            problems["end"] = "That end time has passed: an event must end in the future."
    return problems


def set_role_holders(session: Session, event: Event, slack_user_ids: Iterable[str], role: Role) -> None:
    """Exactly these people hold `role` at the event: whoever the form no longer lists loses it.

    Only the role named is touched, so the organiser who set the event up stays its organiser even
    when taken out of its chairs, and attendees stay attendees.
    """
    holders = [people.person(session, workspace_id=event.workspace_id, slack_user_id=slack_user_id)
               for slack_user_id in dict.fromkeys(slack_user_ids)]
    session.execute(
        delete(EventRole)
        .where(EventRole.event_id == event.id, EventRole.role == role,
               EventRole.person_id.not_in([holder.id for holder in holders]))
        .execution_options(synchronize_session="fetch")
    )
    for holder in holders:
        people.grant(session, event=event, person=holder, role=role)


def add_exclusively(session: Session, event: Event) -> None:
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        raise ChannelBusy(
            "This channel already has an event that has not finished; close it with `/event close` "
            "before setting up another."
        ) from None


def grant_all(session: Session, event: Event, slack_user_ids: Iterable[str], role: Role) -> None:
    for slack_user_id in slack_user_ids:
        person = people.person(session, workspace_id=event.workspace_id, slack_user_id=slack_user_id)
        people.grant(session, event=event, person=person, role=role)


def segments_of(session: Session, *, event: Event) -> list[AgendaSegment]:
    return list(
        session.scalars(select(AgendaSegment).where(AgendaSegment.event_id == event.id).order_by(AgendaSegment.position))
    )


def reminders_of(session: Session, *, event: Event) -> list[Reminder]:
    return list(session.scalars(select(Reminder).where(Reminder.event_id == event.id).order_by(Reminder.due_at)))


class FormProblems(UserError):
    """Field-by-field problems with a form, keyed by the form's field names."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


# As Slack shows it (escaped), and the column's size.
MAX_TITLE_LENGTH = 255


def details_from_form(
    *,
    title: str | None,
    date: str | None,
    start: str | None,
    end: str | None,
    timezone: str | None,
    evaluation_form_url: str | None,
    chairs: Iterable[str] = (),
    presenters: Iterable[str] = (),
    waits_for_chair: bool = False,
) -> EventDetails:
    """Check what an organiser typed into the setup form; every problem is reported at once."""
    problems: dict[str, str] = {}
    title = (title or "").strip()
    if not visible(title):
        problems["title"] = "Give the event a title."
    elif problem := too_long(title, limit=MAX_TITLE_LENGTH, subject="The title"):
        problems["title"] = problem
    zone_name = (timezone or "").strip() or "Europe/London"
    zone = None
    try:
        zone = clock.zone(zone_name)
    except ValueError:
        problems["timezone"] = "Use a time zone name such as Europe/London or America/New_York."
    day = None
    try:
        day = date_type.fromisoformat(date or "")
    except ValueError:
        problems["date"] = "Pick the day of the event."
    else:
        if not clock.FIRST_DAY <= day <= clock.LAST_DAY:
            problems["date"] = (f"Pick a day between {clock.FIRST_DAY.isoformat()} and {clock.LAST_DAY.isoformat()}: "
                                "eventbot cannot handle dates outside them.")
            day = None
    times: dict[str, str] = {}
    for field, value in (("start", start), ("end", end)):
        try:
            time_type.fromisoformat(value or "")
            times[field] = value or ""
        except ValueError:
            problems[field] = "Pick a time."
    url = (evaluation_form_url or "").strip() or None
    if url and not is_form_link(url):
        problems["evaluation_form_url"] = FORM_LINK_RULE
    moments: dict[str, datetime] = {}
    if zone and day:
        for field, value in times.items():
            try:
                moments[field] = to_utc(day, value, zone_name)
            except ValueError as error:
                # e.g. a time the clocks skip that day: said on the field it is about.
                problems[field] = str(error)
    starts_at, ends_at = moments.get("start"), moments.get("end")
    if starts_at and ends_at and ends_at <= starts_at:
        problems["end"] = "The end must be after the start (same day)."
    if problems:
        raise FormProblems(problems)
    assert starts_at is not None and ends_at is not None
    return EventDetails(
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=zone_name,
        evaluation_form_url=url,
        chairs=tuple(dict.fromkeys(chairs)),
        presenters=tuple(dict.fromkeys(presenters)),
        waits_for_chair=waits_for_chair,
    )


# --- events over time: cancelling, postponing, the next in a series --------------------------------

# Why the unsent posts of a cancelled event were skipped, as the outbox records it.
CANCELLED_REASON = "event_cancelled"


class EventChangeRefused(UserError):
    pass


def require_organiser(session: Session, *, event: Event, slack_user_id: str, action: str) -> None:
    """Cancelling, postponing and duplicating change what attendees planned around: organisers only."""
    if Role.ORGANISER not in people.roles_of(session, event=event, slack_user_id=slack_user_id):
        raise people.NotAllowed(f"Only an organiser of this event can {action}.")


def check_can_change_plans(event: Event, *, action: str) -> None:
    """A session under way, or over, keeps its date: the refusal says what can be done instead."""
    if event.status == EventStatus.LIVE:
        raise EventChangeRefused(
            f"The session is under way, so it cannot {action}. `/event hold` pauses its posts, "
            "`/event extend 10` gives it more time and `/event close` ends it.")
    if event.status != EventStatus.SCHEDULED:
        raise EventChangeRefused(
            f"*{event.title}* is {event.status.value}, so it cannot {action}. `/event duplicate` sets up "
            "the next one like it.")


def cancel_event(session: Session, *, event: Event, now: datetime) -> int:
    """Cancel a scheduled event: nothing more is posted, prompted or reminded for it.

    Its open reminders are cancelled and its unsent posts skipped (the caller then tells the channel
    and the organisers, after this, so those notices are not skipped with the rest). What people
    already gave (questions, reflections) stays. The channel is free for another event at once.
    Returns how many unsent posts were skipped.
    """
    check_can_change_plans(event, action="be cancelled")
    won = session.execute(
        update(Event).where(Event.id == event.id, Event.status == EventStatus.SCHEDULED)
        .values(status=EventStatus.CANCELLED).execution_options(synchronize_session=False)).rowcount
    if not won:  # started or closed since it was read: the scheduler got there first
        raise EventChangeRefused("The event changed just now (it may have started): nothing was cancelled.")
    session.refresh(event)
    session.execute(
        update(Reminder).where(Reminder.event_id == event.id,
                               Reminder.status.in_((ReminderStatus.SCHEDULED, ReminderStatus.SENDING)))
        .values(status=ReminderStatus.CANCELLED).execution_options(synchronize_session=False))
    # Rows a sender has already claimed are stopped too: they are skipped when their claim ends.
    return session.execute(
        update(Delivery).where(Delivery.event_id == event.id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, last_error=CANCELLED_REASON, coalesce_key=None)
        .execution_options(synchronize_session=False)).rowcount or 0


def postpone_event(session: Session, *, event: Event, date: str | None, start: str | None, end: str | None,
                   now: datetime) -> Event:
    """Move a scheduled event to a new day and times, with its agenda, prompts and reminders."""
    check_can_change_plans(event, action="be postponed")
    chairs = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.CHAIR)]
    presenters = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.PRESENTER)]
    try:
        details = details_from_form(
            title=event.title, date=date, start=start, end=end, timezone=event.timezone,
            evaluation_form_url=event.evaluation_form_url, chairs=chairs, presenters=presenters,
            waits_for_chair=event.waits_for_chair)
    except FormProblems as problems:
        # The postpone form has only the day and times: anything else is said on the day's field.
        on_the_form = {k: v for k, v in problems.problems.items() if k in ("date", "start", "end")}
        others = [v for k, v in problems.problems.items() if k not in on_the_form]
        if others:
            on_the_form["date"] = " ".join([on_the_form.get("date", ""), *others]).strip()
        raise FormProblems(on_the_form) from None
    if details.starts_at == event.starts_at and details.ends_at == event.ends_at:
        raise FormProblems({"date": "That is when it is planned already: pick the new day or times."})
    return update_event(session, event=event, details=details, now=now)


def same_weekday_next_month(day: date_type) -> date_type:
    """The same weekday in the same week of the next month: the 2nd Tuesday gives the next 2nd Tuesday.

    A 5th weekday, which most months lack, gives the next month's last one.
    """
    week = (day.day - 1) // 7
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    first = date_type(year, month, 1)
    candidate = first + timedelta(days=(day.weekday() - first.weekday()) % 7 + 7 * week)
    return candidate if candidate.month == month else candidate - timedelta(days=7)


def next_in_series(event: Event, *, now: datetime) -> date_type:
    """The day a duplicate of `event` defaults to: the same weekday of the month, at the same local
    time, in the first month after the event's own that is still to come."""
    zone = clock.zone(event.timezone)
    start = event.starts_at.astimezone(zone)
    day = start.date()
    while day < clock.LAST_DAY - timedelta(days=62):
        day = same_weekday_next_month(day)
        if clock.wall_to_utc(datetime.combine(day, start.time()), zone) > now:
            break
    return day


def duplicate_event(session: Session, *, source: Event, details: EventDetails, organiser_slack_id: str,
                    now: datetime) -> Event:
    """A new event in the source's channel with its programme: agenda, prompts, notes, partners,
    reminders and roles (attendees join afresh), every planned time moved with the start."""
    if problems := moving_problems(None, details, now=now):
        raise FormProblems(problems)
    copy = Event(
        workspace_id=source.workspace_id, channel_id=source.channel_id, title=details.title,
        timezone=details.timezone, starts_at=details.starts_at, ends_at=details.ends_at,
        evaluation_form_url=source.evaluation_form_url, waits_for_chair=source.waits_for_chair,
        housekeeping_notes=list(source.housekeeping_notes or []),
        partner_organisations=list(source.partner_organisations or []),
        follow_up_days=source.follow_up_days, questions_need_approval=source.questions_need_approval,
        fair_ordering=source.fair_ordering, retention_days=source.retention_days,
        follow_up_lead_slack_id=source.follow_up_lead_slack_id, created_by_slack_user_id=organiser_slack_id,
    )
    add_exclusively(session, copy)
    moved = wall_clock_move(source.starts_at, source.timezone, copy.starts_at, copy.timezone)
    for segment in source.segments:
        session.add(AgendaSegment(event_id=copy.id, position=segment.position, title=segment.title,
                                  kind=segment.kind, speakers=list(segment.speakers or []),
                                  scheduled_at=moved(segment.scheduled_at)))
    for prompt in source.prompts:
        session.add(ReflectionPrompt(event_id=copy.id, theme=prompt.theme, name=prompt.name, text=prompt.text,
                                     scheduled_at=moved(prompt.scheduled_at) if prompt.scheduled_at else None))
    for reminder in reminders_of(session, event=source):
        if reminder.status == ReminderStatus.CANCELLED:
            continue
        session.add(Reminder(
            event_id=copy.id, when_spec=reminder.when_spec, due_at=moved(reminder.due_at),
            local_time_for_recipient=reminder.local_time_for_recipient, audience=reminder.audience,
            only_incomplete=reminder.only_incomplete, include_team=reminder.include_team, text=reminder.text,
            status=ReminderStatus.SCHEDULED, grace_minutes=reminder.grace_minutes,
            created_by_slack_user_id=organiser_slack_id, created_at=now))
    for role in source.roles:
        if role.role != Role.ATTENDEE:
            session.add(EventRole(event_id=copy.id, person_id=role.person_id, role=role.role,
                                  organisation=role.organisation))
    session.flush()
    grant_all(session, copy, [organiser_slack_id], Role.ORGANISER)
    return copy


def audiences(session: Session, *, workspace_id: int, slack_user_id: str, may_organise: bool,
              channel_id: str | None = None) -> frozenset[str]:
    """Which lines of help a person sees: "chairs" if they chair or organise the channel's event
    (any current event when no channel is given), "organisers" if they organise one or may set
    events up (`may_organise`: a workspace admin, a named organiser)."""
    if channel_id is not None:
        event = latest_event(session, workspace_id=workspace_id, channel_id=channel_id)
        events = [event] if event is not None else []
    else:
        events = list(session.scalars(select(Event).where(Event.workspace_id == workspace_id,
                                                          Event.status.in_(CURRENT_STATUSES))))
    roles = set().union(*(people.roles_of(session, event=e, slack_user_id=slack_user_id) for e in events))
    found = set()
    if roles & people.RUNNERS:
        found.add("chairs")
    if Role.ORGANISER in roles or may_organise:
        found |= {"organisers", "chairs"}
    return frozenset(found)

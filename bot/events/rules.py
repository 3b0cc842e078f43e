"""Events: setting one up for a channel, from Slack or a programme file, and finding it again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date as date_type
from datetime import datetime
from datetime import time as time_type
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import clock
from bot.clock import to_utc
from bot.errors import UserError
from bot.events import people
from bot.models import (
    AgendaSegment,
    Event,
    EventRole,
    EventStatus,
    ReflectionPrompt,
    ReflectionTheme,
    Reminder,
    ReminderStatus,
    Role,
)
from bot.slack.text import too_long, visible

CURRENT_STATUSES = (EventStatus.SCHEDULED, EventStatus.LIVE)

# The wording the seed event used: every event starts with its four prompts, and a programme
# file's [[prompts]] block without `text` gets its theme's line.
DEFAULT_PROMPTS: dict[ReflectionTheme, str] = {
    ReflectionTheme.IMPROVEMENT: "What are you hearing that relates to improvement?",
    ReflectionTheme.COLLABORATIVE_WORKING: "What are you hearing that relates to collaborative working?",
    ReflectionTheme.EQUITY: "What are you hearing that relates to equity?",
    ReflectionTheme.NEXT_STEPS: "What actions or next steps might you take following this learning?",
}


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


def latest_event(session: Session, *, workspace_id: int, channel_id: str) -> Event | None:
    """The current event, or else the most recent one (digests are wanted after the close too)."""
    return current_event(session, workspace_id=workspace_id, channel_id=channel_id) or session.scalar(
        select(Event)
        .where(Event.workspace_id == workspace_id, Event.channel_id == channel_id)
        .order_by(Event.starts_at.desc(), Event.id.desc())
        .limit(1)
    )


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
    old_zone, new_zone = clock.zone(event.timezone), clock.zone(details.timezone)
    old_start_wall = event.starts_at.astimezone(old_zone).replace(tzinfo=None)
    new_start_wall = details.starts_at.astimezone(new_zone).replace(tzinfo=None)

    def moved(moment: datetime) -> datetime:
        wall = moment.astimezone(old_zone).replace(tzinfo=None) - old_start_wall + new_start_wall
        return clock.wall_to_utc(wall, new_zone)

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

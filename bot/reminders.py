"""Evaluation-form reminders: scheduling them, who gets them and when, completions, the organiser's view.

Reminders come from programme files (bot/programme_import.py) and from Slack (`/event remind`).
Either way a reminder is a row that waits, `scheduled`, until it is due; the scheduler's leader
then *fans it out* (bot/deliveries.py holds the outbox): one delivery row per recipient with its
own due time, after which any number of senders deliver them.

- When: "at close", "N hours/minutes after", "YYYY-MM-DD HH:MM" (the event's zone), or
  "next day HH:MM". For a DM reminder "next day 10:00" means 10:00 in *each recipient's* Slack
  time zone (`users.info` `tz`, cached in `people.timezone`) on the day after the event's close
  in that zone, so such a reminder is fanned out at the close and each row waits for its hour.
- To whom: a post in the event's channel, or a DM to each attendee: the channel's human members
  during the event (enrolled as attendees when it starts and as they join) and anyone who took
  part (chairs, presenters, moderators, people who reflected, asked, voted or queued to speak),
  without bots, deactivated accounts and the app itself; optionally only those who have not said
  they completed the form.
- After downtime: a reminder found due more than its grace window late (default 6 hours) is not
  sent out of context: it is marked missed and the organisers are told by DM.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import and_, exists, func, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import deliveries, people, run_of_show
from bot.db import unit_of_work
from bot.errors import UserError
from bot.events import FormProblems, event_to_run
from bot.models import (
    Delivery,
    DeliveryStatus,
    EvaluationCompletion,
    Event,
    EventRole,
    EventStatus,
    Person,
    Question,
    Reflection,
    ReflectionPrompt,
    Reminder,
    ReminderAudience,
    ReminderStatus,
    Role,
    SpeakingQueueEntry,
    Vote,
)
from bot.programme import (
    DEFAULT_GRACE_HOURS,
    FORM_URL_PLACEHOLDER,
    MAX_TEXT_CHARS,
    render_reminder_text,
    resolve_reminder_time,
    to_utc,
)
from bot.slack import reminder_blocks

logger = logging.getLogger(__name__)

UTC = timezone.utc
DEFAULT_DM_WHEN = "next day 10:00"
DEFAULT_TEXT = (
    "Thank you for joining {title}. If you have not yet had a chance, please take a few minutes to "
    "fill in the evaluation form: " + FORM_URL_PLACEHOLDER
)
DEFAULT_TEXT_WITHOUT_FORM = "Thank you for joining {title}. Please tell us what you thought of the session."
# users.info answers are trusted this long before a reminder asks again.
PROFILE_MAX_AGE = timedelta(hours=12)
PROFILE_LOOKUP_THREADS = 8
# Recipients looked up and written at a time, so sending starts before a large fan-out is complete.
FAN_OUT_CHUNK = 100
SHOWN_REMINDERS = 12
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
OPEN_STATUSES = (ReminderStatus.SCHEDULED, ReminderStatus.SENDING)


class ReminderError(UserError):
    """A reminder cannot be changed or cancelled now; the message says why."""


# --- scheduling from Slack -------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderForm:
    """What the `/event remind` modal holds, as typed."""

    when: str
    audience: str  # "dm" or "channel"
    only_incomplete: bool
    text: str


@dataclass(frozen=True)
class FormContext:
    """What the modal needs to open: the event, and the reminder being changed if any."""

    event_id: int
    event_title: str
    event_timezone: str
    form_url: str | None
    reminder_id: int | None
    defaults: ReminderForm


@dataclass(frozen=True)
class Saved:
    reminder_id: int
    channel_id: str
    description: str  # "a DM to each attendee who has not completed the form, next day 10:00 …"
    changed: bool


def _checked(event: Event, form: ReminderForm, *, now: datetime) -> tuple[dict, dict[str, str]]:
    """The reminder's column values from a form, or problems keyed by the form's field names."""
    problems: dict[str, str] = {}
    audience = {"dm": ReminderAudience.DIRECT_MESSAGE, "channel": ReminderAudience.CHANNEL}.get(form.audience)
    if audience is None:
        problems["audience"] = "Choose a post in the channel or a DM to each attendee."
    when = " ".join((form.when or "").split())
    due_at, local_time = None, None
    if not when:
        problems["when"] = "Say when: 'at close', '2 hours after', 'next day 10:00' or '2031-03-28 16:30'."
    else:
        try:
            due_at, local_time = resolve_reminder_time(when, event_ends_at=event.ends_at, timezone=event.timezone)
        except ValueError as error:
            message = str(error)
            if message.startswith("unknown reminder time"):
                message = ("Write 'at close', '2 hours after' or '30 minutes after' (the close), 'next day 10:00', "
                           "or a date and time such as '2031-03-28 16:30'.")
            problems["when"] = message[:300]
    grace = timedelta(hours=DEFAULT_GRACE_HOURS)
    if due_at is not None:
        if due_at < event.starts_at:
            problems["when"] = "That is before the event starts; evaluation reminders come at or after the start."
        elif due_at + grace < now:
            problems["when"] = (f"That was more than {DEFAULT_GRACE_HOURS} hours ago, so it would only be marked "
                                "missed: pick a later time.")
    text = (form.text or "").strip()
    if not text:
        problems["text"] = "Write the reminder's text."
    else:
        unknown = [name for name in _PLACEHOLDER.findall(text) if "{" + name + "}" != FORM_URL_PLACEHOLDER]
        if unknown:
            problems["text"] = f"{{{unknown[0]}}} is not a placeholder; the only one is {FORM_URL_PLACEHOLDER}."
        elif FORM_URL_PLACEHOLDER in text and not event.evaluation_form_url:
            problems["text"] = (f"This event has no evaluation form link for {FORM_URL_PLACEHOLDER}: add one with "
                                "`/event setup`, or paste the link.")
        elif len(render_reminder_text(text, event.evaluation_form_url)) > MAX_TEXT_CHARS:
            problems["text"] = f"Keep the text to {MAX_TEXT_CHARS} characters."
    if problems:
        return {}, problems
    is_channel = audience == ReminderAudience.CHANNEL
    return {
        "when_spec": when,
        "due_at": due_at,
        # A channel post happens once, at the event-zone time; per-recipient times are for DMs.
        "local_time_for_recipient": None if is_channel else local_time,
        "audience": audience,
        # A channel post reaches everyone; "only those who have not completed" is for DMs.
        "only_incomplete": False if is_channel else form.only_incomplete,
        "text": render_reminder_text(text, event.evaluation_form_url),
    }, {}


def create_reminder(session: Session, *, event: Event, created_by: str | None, form: ReminderForm,
                    now: datetime) -> Reminder:
    values, problems = _checked(event, form, now=now)
    if problems:
        raise FormProblems(problems)
    reminder = Reminder(event_id=event.id, grace_minutes=DEFAULT_GRACE_HOURS * 60, created_by_slack_user_id=created_by,
                        status=ReminderStatus.SCHEDULED, created_at=now, **values)
    session.add(reminder)
    session.flush()
    return reminder


def change_reminder(session: Session, *, reminder: Reminder, form: ReminderForm, now: datetime) -> Reminder:
    """Change a reminder that has not gone out to anyone (nor is going out right now)."""
    event = session.get_one(Event, reminder.event_id)
    values, problems = _checked(event, form, now=now)
    if problems:
        raise FormProblems(problems)
    _unplan(session, reminder, now=now, action="change")
    for name, value in values.items():
        setattr(reminder, name, value)
    return reminder


def _unplan(session: Session, reminder: Reminder, *, now: datetime, action: str) -> None:
    """Take a fanned-out reminder back to `scheduled`, if not one delivery has been attempted."""
    if reminder.status not in OPEN_STATUSES:
        raise ReminderError(f"This reminder is {reminder.status.value}, so it cannot {action}.")
    if reminder.status == ReminderStatus.SCHEDULED:
        return
    session.execute(
        Delivery.__table__.delete().where(
            Delivery.reminder_id == reminder.id, Delivery.status == DeliveryStatus.PENDING,
            Delivery.attempts == 0, Delivery.claimed_by.is_(None),
        )
    )
    if session.scalar(select(exists().where(Delivery.reminder_id == reminder.id))):
        raise ReminderError("This reminder has started going out, so it cannot be changed now. "
                            "Cancel it to stop the rest, and schedule a new one with `/event remind`.")
    won = session.execute(
        update(Reminder).where(Reminder.id == reminder.id, Reminder.status == ReminderStatus.SENDING)
        .values(status=ReminderStatus.SCHEDULED, fanned_out_at=None).execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise ReminderError("This reminder changed while you were editing it; open `/event reminders` again.")
    session.refresh(reminder)


def cancel_reminder(session: Session, *, reminder: Reminder, now: datetime) -> int:
    """Cancel a reminder; whatever has not gone out stays unsent. Returns how many deliveries were stopped."""
    won = session.execute(
        update(Reminder).where(Reminder.id == reminder.id, Reminder.status.in_(OPEN_STATUSES))
        .values(status=ReminderStatus.CANCELLED).execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise ReminderError(f"This reminder is {reminder.status.value}, so there is nothing left to cancel.")
    stopped = session.execute(
        update(Delivery)
        # Rows being sent right now finish; rows in doubt are settled by a sender (which looks in
        # Slack first, then skips them as cancelled).
        .where(Delivery.reminder_id == reminder.id, Delivery.status == DeliveryStatus.PENDING,
               Delivery.claimed_by.is_(None))
        .values(status=DeliveryStatus.SKIPPED, last_error=deliveries.SKIPPED_CANCELLED)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    session.refresh(reminder)
    return stopped


def _reminder_to_manage(session: Session, *, workspace_id: int, reminder_id: int, slack_user_id: str,
                        action: str) -> tuple[Reminder, Event]:
    reminder = session.get(Reminder, reminder_id)
    event = session.get(Event, reminder.event_id) if reminder is not None else None
    if reminder is None or event is None or event.workspace_id != workspace_id:
        raise ReminderError("That reminder no longer exists.")
    people.require_runner(session, event=event, slack_user_id=slack_user_id, action=action)
    return reminder, event


def form_context(sessions: sessionmaker[Session], *, workspace_id: int, channel_id: str, slack_user_id: str,
                 reminder_id: int | None = None) -> FormContext:
    """What the modal opens with: the channel's event (closed ones too) or the reminder to change."""
    with unit_of_work(sessions) as session:
        if reminder_id is None:
            event = event_to_run(session, workspace_id=workspace_id, channel_id=channel_id,
                                 slack_user_id=slack_user_id, action="schedule reminders", include_closed=True)
            text = (DEFAULT_TEXT if event.evaluation_form_url else DEFAULT_TEXT_WITHOUT_FORM).replace(
                "{title}", event.title)
            defaults = ReminderForm(when=DEFAULT_DM_WHEN, audience="dm", only_incomplete=True, text=text)
        else:
            reminder, event = _reminder_to_manage(session, workspace_id=workspace_id, reminder_id=reminder_id,
                                                  slack_user_id=slack_user_id, action="change reminders")
            if reminder.status not in OPEN_STATUSES:
                raise ReminderError(f"This reminder is {reminder.status.value}, so it cannot be changed.")
            defaults = ReminderForm(
                when=reminder.when_spec,
                audience="channel" if reminder.audience == ReminderAudience.CHANNEL else "dm",
                only_incomplete=reminder.only_incomplete, text=reminder.text,
            )
        return FormContext(event_id=event.id, event_title=event.title, event_timezone=event.timezone,
                           form_url=event.evaluation_form_url, reminder_id=reminder_id, defaults=defaults)


def save_form(sessions: sessionmaker[Session], *, workspace_id: int, event_id: int, reminder_id: int | None,
              slack_user_id: str, form: ReminderForm, now: datetime) -> Saved:
    """Create a reminder from the modal, or change the one it was opened for. FormProblems for bad input."""
    with unit_of_work(sessions) as session:
        if reminder_id is None:
            event = session.get(Event, event_id)
            if event is None or event.workspace_id != workspace_id:
                raise ReminderError("That event no longer exists.")
            people.require_runner(session, event=event, slack_user_id=slack_user_id, action="schedule reminders")
            reminder = create_reminder(session, event=event, created_by=slack_user_id, form=form, now=now)
        else:
            reminder, event = _reminder_to_manage(session, workspace_id=workspace_id, reminder_id=reminder_id,
                                                  slack_user_id=slack_user_id, action="change reminders")
            change_reminder(session, reminder=reminder, form=form, now=now)
        return Saved(reminder_id=reminder.id, channel_id=event.channel_id,
                     description=reminder_blocks.describe_reminder(
                         when_spec=reminder.when_spec, due_at=reminder.due_at,
                         local_time=reminder.local_time_for_recipient, audience=reminder.audience,
                         only_incomplete=reminder.only_incomplete, timezone=event.timezone),
                     changed=reminder_id is not None)


def cancel(sessions: sessionmaker[Session], *, workspace_id: int, reminder_id: int, slack_user_id: str,
           now: datetime) -> int:
    with unit_of_work(sessions) as session:
        reminder, _ = _reminder_to_manage(session, workspace_id=workspace_id, reminder_id=reminder_id,
                                          slack_user_id=slack_user_id, action="cancel reminders")
        return cancel_reminder(session, reminder=reminder, now=now)


# --- completions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    first_time: bool
    completed: int  # people who have said so for this event
    stopped: int  # pending reminders to them that will not be sent now


def record_completion(sessions: sessionmaker[Session], *, workspace_id: int, event_id: int, slack_user_id: str,
                      now: datetime) -> Completion:
    """"I've completed it": recorded once; no later "only those who have not completed" reminder goes to them."""
    with unit_of_work(sessions) as session:
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id:
            raise ReminderError("That event no longer exists.")
        person = people.person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
        first_time = True
        try:
            with session.begin_nested():
                session.add(EvaluationCompletion(event_id=event_id, person_id=person.id, completed_at=now))
                session.flush()
        except IntegrityError:
            first_time = False
        stopped = session.execute(
            update(Delivery)
            .where(
                Delivery.recipient_slack_id == slack_user_id,
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.claimed_by.is_(None),
                Delivery.reminder_id.in_(select(Reminder.id).where(
                    Reminder.event_id == event_id, Reminder.only_incomplete.is_(True),
                    Reminder.audience == ReminderAudience.DIRECT_MESSAGE)),
            )
            .values(status=DeliveryStatus.SKIPPED, last_error=deliveries.SKIPPED_COMPLETED)
            .execution_options(synchronize_session=False)
        ).rowcount or 0
        completed = session.scalar(
            select(func.count()).select_from(EvaluationCompletion).where(EvaluationCompletion.event_id == event_id))
        return Completion(first_time=first_time, completed=completed or 0, stopped=stopped)


def completers(session: Session, *, event_id: int) -> set[str]:
    return set(session.scalars(
        select(Person.slack_user_id).join(EvaluationCompletion, EvaluationCompletion.person_id == Person.id)
        .where(EvaluationCompletion.event_id == event_id)))


# --- who: the audience -----------------------------------------------------------------------------


def audience_people(session: Session, *, event: Event) -> list[Person]:
    """Everyone an "each attendee" reminder is for, before bots and deactivated accounts are removed.

    The channel's members during the event are its attendees (enrolled when it starts and as they
    join); anyone who took part in another way counts too. Organisers count only if they were
    attendees or took part.
    """
    took_part = union(
        select(EventRole.person_id).where(EventRole.event_id == event.id, EventRole.role != Role.ORGANISER),
        select(Reflection.person_id).join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
        .where(ReflectionPrompt.event_id == event.id),
        select(Question.asker_person_id).where(Question.event_id == event.id),
        select(Vote.person_id).join(Question, Question.id == Vote.question_id).where(Question.event_id == event.id),
        select(SpeakingQueueEntry.person_id).where(SpeakingQueueEntry.event_id == event.id),
    ).subquery()
    return list(session.scalars(
        select(Person).where(Person.id.in_(select(took_part.c[0])), Person.workspace_id == event.workspace_id)
        .order_by(Person.id)))


@dataclass(frozen=True)
class Profile:
    timezone: str | None
    is_bot: bool
    is_deleted: bool
    display_name: str | None


def _look_up(client: WebClient, slack_user_id: str) -> Profile | None:
    try:
        user = client.users_info(user=slack_user_id)["user"]
    except SlackApiError as error:
        if error.response.get("error") in ("user_not_found", "users_not_found"):
            return Profile(timezone=None, is_bot=False, is_deleted=True, display_name=None)
        logger.warning("users.info %s: %s", slack_user_id, error.response.get("error"))
        return None  # unknown: keep whatever we knew
    except OSError as error:
        logger.warning("users.info %s: %s", slack_user_id, error)
        return None
    profile = user.get("profile") or {}
    return Profile(
        timezone=user.get("tz") or None,
        is_bot=bool(user.get("is_bot")) or user.get("id") == "USLACKBOT",
        is_deleted=bool(user.get("deleted")),
        display_name=profile.get("display_name") or user.get("real_name") or user.get("name"),
    )


def refresh_profiles(sessions: sessionmaker[Session], client: WebClient, *, workspace_id: int,
                     slack_user_ids: list[str], now: datetime, max_age: timedelta = PROFILE_MAX_AGE) -> int:
    """Ask Slack (users.info) about people whose time zone, bot flag or deactivation is not fresh."""
    with unit_of_work(sessions) as session:
        stale = list(session.scalars(
            select(Person.slack_user_id).where(
                Person.workspace_id == workspace_id, Person.slack_user_id.in_(slack_user_ids),
                or_(Person.profile_refreshed_at.is_(None), Person.profile_refreshed_at < now - max_age))))
    if not stale:
        return 0
    with ThreadPoolExecutor(max_workers=PROFILE_LOOKUP_THREADS, thread_name_prefix="users-info") as pool:
        found = dict(zip(stale, pool.map(lambda uid: _look_up(client, uid), stale)))
    with unit_of_work(sessions) as session:
        for person in session.scalars(select(Person).where(
                Person.workspace_id == workspace_id, Person.slack_user_id.in_([u for u, p in found.items() if p]))):
            profile = found[person.slack_user_id]
            assert profile is not None
            person.timezone = profile.timezone or person.timezone
            person.is_bot = profile.is_bot
            person.is_deleted = profile.is_deleted
            person.display_name = person.display_name or profile.display_name
            person.profile_refreshed_at = now
    return sum(1 for profile in found.values() if profile)


def local_due(event: Event, hhmm: str, zone_name: str | None) -> datetime:
    """HH:MM on the day after the event's close, both in the recipient's own zone (the event's if unknown)."""
    name = zone_name or event.timezone
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        name, zone = event.timezone, ZoneInfo(event.timezone)
    day = event.ends_at.astimezone(zone).date() + timedelta(days=1)
    try:
        return to_utc(day, hhmm, name)
    except ValueError:
        # The clocks skip that time on that day (a spring-forward gap): the same wall time read with
        # the offset before the change, which lands just after the gap.
        hours, minutes = map(int, hhmm.split(":"))
        return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone).astimezone(UTC)


def candidates_for(sessions: sessionmaker[Session], client: WebClient, *, reminder_id: int,
                   bot_user_id: str | None) -> list[str]:
    """Everyone this reminder may be for (the channel, for a channel post), before profiles are checked."""
    with unit_of_work(sessions) as session:
        reminder = session.get_one(Reminder, reminder_id)
        event = session.get_one(Event, reminder.event_id)
        if reminder.audience == ReminderAudience.CHANNEL:
            return [event.channel_id]
        event_id, channel_id = event.id, event.channel_id
        still_on = event.status in (EventStatus.SCHEDULED, EventStatus.LIVE)
    if still_on:
        run_of_show.enrol_channel_members(sessions, client, event_id=event_id, channel_id=channel_id,
                                          exclude=frozenset(filter(None, [bot_user_id])))
    with unit_of_work(sessions) as session:
        event = session.get_one(Event, event_id)
        done = completers(session, event_id=event_id) if reminder.only_incomplete else set()
        return [p.slack_user_id for p in audience_people(session, event=event)
                if p.slack_user_id != bot_user_id and p.slack_user_id not in done]


def recipients_among(sessions: sessionmaker[Session], client: WebClient, *, reminder_id: int, candidates: list[str],
                     now: datetime) -> list[tuple[str, datetime]]:
    """Of these candidates, who gets the reminder (no bots, no deactivated accounts), and when each is due."""
    with unit_of_work(sessions) as session:
        reminder = session.get_one(Reminder, reminder_id)
        event = session.get_one(Event, reminder.event_id)
        if reminder.audience == ReminderAudience.CHANNEL:
            return [(event.channel_id, reminder.due_at)]
        workspace_id = event.workspace_id
    refresh_profiles(sessions, client, workspace_id=workspace_id, slack_user_ids=candidates, now=now)
    with unit_of_work(sessions) as session:
        found = {p.slack_user_id: p for p in session.scalars(select(Person).where(
            Person.workspace_id == workspace_id, Person.slack_user_id.in_(candidates)))}
        result = []
        for slack_user_id in candidates:
            person = found.get(slack_user_id)
            if person is None or person.is_bot or person.is_deleted:
                continue
            due = (local_due(event, reminder.local_time_for_recipient, person.timezone)
                   if reminder.local_time_for_recipient else reminder.due_at)
            result.append((slack_user_id, due))
        return result


# --- the scheduler leader's tick -------------------------------------------------------------------


@dataclass
class PlanRun:
    fanned_out: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    told: list[int] = field(default_factory=list)


def plan_reminders(sessions: sessionmaker[Session], client: WebClient, *, now: datetime,
                   bot_user_id: str | None = None, on_rows: Callable[[], None] | None = None) -> PlanRun:
    """Fan out what is due, mark what was missed, close off finished reminders, tell organisers.

    Safe to run as often as wanted and (though the scheduler runs one) from several processes:
    every step is a conditional update that only one caller can win, and fan-out adds no row twice.
    A fan-out cut short (the process killed half-way) is picked up again by the next run.
    `on_rows` is called whenever new deliveries are in, so senders can start at once.
    """
    run = PlanRun()
    with unit_of_work(sessions) as session:
        closed = or_(Event.ends_at <= now, and_(Event.closed_at.is_not(None), Event.closed_at <= now))
        due = list(session.scalars(
            select(Reminder.id).join(Event, Event.id == Reminder.event_id)
            .where(or_(
                and_(
                    Reminder.status == ReminderStatus.SCHEDULED,
                    or_(
                        and_(Reminder.local_time_for_recipient.is_(None), Reminder.due_at <= now),
                        # Per-recipient local times all fall after the close: fan out then, each
                        # row waiting for its own hour.
                        and_(Reminder.local_time_for_recipient.is_not(None), closed),
                    ),
                ),
                # A fan-out that did not finish.
                and_(Reminder.status == ReminderStatus.SENDING, Reminder.fanned_out_at.is_(None)),
            ))
            .order_by(Reminder.due_at, Reminder.id)))
    for reminder_id in due:
        try:
            outcome = fan_out_reminder(sessions, client, reminder_id=reminder_id, now=now, bot_user_id=bot_user_id,
                                       on_rows=on_rows)
        except SlackApiError as error:
            logger.warning("reminder %s not fanned out yet: %s", reminder_id, error.response.get("error"))
            continue
        if outcome == "fanned_out":
            run.fanned_out.append(reminder_id)
        elif outcome == "missed":
            run.missed.append(reminder_id)
    run.finished = finish_reminders(sessions, now=now)
    run.told = tell_organisers_of_missed(sessions, client, now=now)
    return run


def fan_out_reminder(sessions: sessionmaker[Session], client: WebClient, *, reminder_id: int, now: datetime,
                     bot_user_id: str | None, on_rows: Callable[[], None] | None = None) -> str:
    """Turn one due reminder into delivery rows: "fanned_out", "missed", "cancelled" or "lost" (someone else won).

    Recipients are looked up and written FAN_OUT_CHUNK at a time, so the first DMs go while later
    recipients' profiles are still being read. The reminder is `sending` from the first chunk on
    and gets `fanned_out_at` after the last; a fan-out cut short is resumed from the start, and the
    rows already written are left as they are.
    """
    with unit_of_work(sessions) as session:
        reminder = session.get_one(Reminder, reminder_id)
        event = session.get_one(Event, reminder.event_id)
        resuming = reminder.status == ReminderStatus.SENDING and reminder.fanned_out_at is None
        version = (Reminder.id == reminder.id, Reminder.status == ReminderStatus.SCHEDULED,
                   Reminder.due_at == reminder.due_at, Reminder.when_spec == reminder.when_spec,
                   Reminder.audience == reminder.audience, Reminder.only_incomplete.is_(reminder.only_incomplete))
        if not resuming:
            if event.status == EventStatus.CANCELLED:
                session.execute(update(Reminder).where(*version).values(status=ReminderStatus.CANCELLED)
                                .execution_options(synchronize_session=False))
                return "cancelled"
            late = now - reminder.due_at > timedelta(minutes=reminder.grace_minutes)
            if reminder.local_time_for_recipient is None and late:
                won = session.execute(update(Reminder).where(*version).values(status=ReminderStatus.MISSED)
                                      .execution_options(synchronize_session=False)).rowcount
                if won:
                    logger.warning("reminder %s was due at %s, beyond its %d-minute grace window: marked missed",
                                   reminder_id, reminder.due_at.isoformat(), reminder.grace_minutes)
                return "missed" if won else "lost"
    ours = (Reminder.id == reminder_id, Reminder.status == ReminderStatus.SENDING, Reminder.fanned_out_at.is_(None))
    claimed = resuming

    def take_over(session: Session) -> bool:
        """Start the fan-out (once), or check it is still ours to continue (not changed or cancelled)."""
        nonlocal claimed
        condition = ours if claimed else version
        won = session.execute(update(Reminder).where(*condition).values(status=ReminderStatus.SENDING)
                              .execution_options(synchronize_session=False)).rowcount
        claimed = claimed or bool(won)
        return bool(won)

    candidates = candidates_for(sessions, client, reminder_id=reminder_id, bot_user_id=bot_user_id)
    added = 0
    for start in range(0, len(candidates), FAN_OUT_CHUNK):
        chunk = candidates[start:start + FAN_OUT_CHUNK]
        recipients = recipients_among(sessions, client, reminder_id=reminder_id, candidates=chunk, now=now)
        with unit_of_work(sessions) as session:
            if not take_over(session):
                return "lost"  # changed, cancelled or fanned out by someone else meanwhile
            added += deliveries.fan_out(session, reminder_id=reminder_id, recipients=recipients)
        if on_rows is not None:
            on_rows()
    with unit_of_work(sessions) as session:
        if not take_over(session):
            return "lost"
        session.execute(update(Reminder).where(*ours).values(fanned_out_at=now)
                        .execution_options(synchronize_session=False))
    logger.info("reminder %s fanned out: %d deliveries%s", reminder_id, added, " (resumed)" if resuming else "")
    return "fanned_out"


def finish_reminders(sessions: sessionmaker[Session], *, now: datetime) -> list[int]:
    """Reminders with nothing left pending are done: sent, or missed if downtime stopped every send."""
    finished = []
    with unit_of_work(sessions) as session:
        sending = list(session.scalars(select(Reminder.id).where(Reminder.status == ReminderStatus.SENDING,
                                                                 Reminder.fanned_out_at.is_not(None))))
        counts = deliveries.counts_by_reminder(session, sending)
        for reminder_id in sending:
            count = counts[reminder_id]
            if count.get("pending"):
                continue
            missed = count.get("skipped_missed", 0) and not count.get("sent") and not count.get("failed")
            status = ReminderStatus.MISSED if missed else ReminderStatus.SENT
            won = session.execute(update(Reminder).where(Reminder.id == reminder_id,
                                                         Reminder.status == ReminderStatus.SENDING)
                                  .values(status=status).execution_options(synchronize_session=False)).rowcount
            if won:
                finished.append(reminder_id)
    return finished


def organisers_of(session: Session, *, event: Event, also: str | None = None) -> list[str]:
    found = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.ORGANISER)]
    if also and also not in found:
        found.append(also)
    if not found:
        found = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.CHAIR)]
    return found


def tell_organisers_of_missed(sessions: sessionmaker[Session], client: WebClient, *, now: datetime) -> list[int]:
    """DM the organisers about every reminder that downtime stopped, in whole or in part, once.

    The DMs go before the reminder is marked told, so a crash in between tells them twice rather
    than never.
    """
    with unit_of_work(sessions) as session:
        partly_missed = exists().where(Delivery.reminder_id == Reminder.id, Delivery.status == DeliveryStatus.SKIPPED,
                                       Delivery.last_error == deliveries.SKIPPED_MISSED)
        reminders = list(session.scalars(select(Reminder).where(
            Reminder.organisers_told_at.is_(None),
            or_(Reminder.status == ReminderStatus.MISSED,
                and_(Reminder.status == ReminderStatus.SENT, partly_missed)))))
        notices = []
        counts = deliveries.counts_by_reminder(session, [r.id for r in reminders])
        for reminder in reminders:
            event = session.get_one(Event, reminder.event_id)
            count = counts[reminder.id]
            message = reminder_blocks.missed_notice(
                event_title=event.title, channel_id=event.channel_id, timezone=event.timezone,
                when_spec=reminder.when_spec, due_at=reminder.due_at, audience=reminder.audience,
                missed=count.get("skipped_missed", 0), sent=count.get("sent", 0),
                grace_hours=reminder.grace_minutes / 60, fanned_out=reminder.fanned_out_at is not None,
            )
            notices.append((reminder.id, organisers_of(session, event=event, also=reminder.created_by_slack_user_id),
                            message))
    told = []
    for reminder_id, organisers, message in notices:
        for organiser in organisers:
            try:
                client.chat_postMessage(channel=organiser, **message.as_post())
            except SlackApiError as error:
                logger.warning("could not tell organiser %s about missed reminder %s: %s", organiser, reminder_id,
                               error.response.get("error"))
        with unit_of_work(sessions) as session:
            session.execute(update(Reminder).where(Reminder.id == reminder_id, Reminder.organisers_told_at.is_(None))
                            .values(organisers_told_at=now).execution_options(synchronize_session=False))
        told.append(reminder_id)
    return told


# --- the organiser's view ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderSummary:
    reminder_id: int
    when_spec: str
    due_at: datetime
    local_time: str | None
    audience: ReminderAudience
    only_incomplete: bool
    text: str
    status: ReminderStatus
    sent: int
    pending: int
    failed: int
    skipped_completed: int
    skipped_cancelled: int
    skipped_missed: int
    failures: list[tuple[str, str]]  # (recipient, organiser-facing reason)
    can_change: bool
    can_cancel: bool


@dataclass(frozen=True)
class EventReminders:
    event_id: int
    title: str
    timezone: str
    channel_id: str
    attendees: int
    completed: int
    reminders: list[ReminderSummary]
    more: int  # reminders not shown


def event_reminders(session: Session, *, event: Event) -> EventReminders:
    reminders = list(session.scalars(select(Reminder).where(Reminder.event_id == event.id)
                                     .order_by(Reminder.due_at, Reminder.id)))
    counts = deliveries.counts_by_reminder(session, [r.id for r in reminders])
    shown = reminders[:SHOWN_REMINDERS]
    summaries = []
    for reminder in shown:
        count = counts[reminder.id]
        attempted = any(count.get(k) for k in ("sent", "failed")) or session.scalar(select(exists().where(
            Delivery.reminder_id == reminder.id, or_(Delivery.attempts > 0, Delivery.claimed_by.is_not(None)))))
        summaries.append(ReminderSummary(
            reminder_id=reminder.id, when_spec=reminder.when_spec, due_at=reminder.due_at,
            local_time=reminder.local_time_for_recipient, audience=reminder.audience,
            only_incomplete=reminder.only_incomplete, text=reminder.text, status=reminder.status,
            sent=count.get("sent", 0), pending=count.get("pending", 0), failed=count.get("failed", 0),
            skipped_completed=count.get(f"skipped_{deliveries.SKIPPED_COMPLETED}", 0),
            skipped_cancelled=count.get(f"skipped_{deliveries.SKIPPED_CANCELLED}", 0),
            skipped_missed=count.get(f"skipped_{deliveries.SKIPPED_MISSED}", 0),
            failures=[(recipient, deliveries.describe_error(error))
                      for recipient, error in deliveries.failures_of(session, reminder.id)],
            can_change=reminder.status in OPEN_STATUSES and not attempted,
            can_cancel=reminder.status in OPEN_STATUSES,
        ))
    attendees = sum(1 for p in audience_people(session, event=event) if not (p.is_bot or p.is_deleted))
    completed = session.scalar(select(func.count()).select_from(EvaluationCompletion)
                               .where(EvaluationCompletion.event_id == event.id)) or 0
    return EventReminders(event_id=event.id, title=event.title, timezone=event.timezone, channel_id=event.channel_id,
                          attendees=attendees, completed=completed, reminders=summaries,
                          more=len(reminders) - len(shown))


def reminders_for_channel(sessions: sessionmaker[Session], *, workspace_id: int, channel_id: str,
                          slack_user_id: str) -> EventReminders:
    with unit_of_work(sessions) as session:
        event = event_to_run(session, workspace_id=workspace_id, channel_id=channel_id, slack_user_id=slack_user_id,
                             action="see the reminders", include_closed=True)
        return event_reminders(session, event=event)


def reminders_for_event(sessions: sessionmaker[Session], *, workspace_id: int, event_id: int,
                        slack_user_id: str) -> EventReminders:
    with unit_of_work(sessions) as session:
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id:
            raise ReminderError("That event no longer exists.")
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action="see the reminders")
        return event_reminders(session, event=event)


def event_of_reminder(sessions: sessionmaker[Session], *, reminder_id: int) -> int | None:
    with unit_of_work(sessions) as session:
        return session.scalar(select(Reminder.event_id).where(Reminder.id == reminder_id))

"""Evaluation-form reminders: scheduling them, who gets them and when, completions, the organiser's view.

Reminders come from programme files (bot/programme/importing.py) and from Slack (`/event remind`).
Either way a reminder is a row that waits, `scheduled`, until it is due; the scheduler's leader
then *fans it out* (bot/reminders/deliveries.py holds the outbox): one delivery row per recipient with its
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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import exists, func, or_, select, union, update
from sqlalchemy.orm import Session

from bot import clock, outbox
from bot.clock import to_utc
from bot.errors import UserError
from bot.events import people
from bot.events.rules import FormProblems
from bot.models import (
    Delivery,
    DeliveryStatus,
    EvaluationCompletion,
    Event,
    EventRole,
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
from bot.reminders import deliveries
from bot.reminders.timing import (
    DEFAULT_GRACE_HOURS,
    FORM_URL_PLACEHOLDER,
    MAX_TEXT_CHARS,
    placeholder_problem,
    render_reminder_text,
    resolve_reminder_time,
    timed_from_close,
)
from bot.run_of_show.rules import closing_time
from bot.slack.text import too_long, visible

logger = logging.getLogger(__name__)

UTC = timezone.utc
DEFAULT_DM_WHEN = "next day 10:00"
DEFAULT_TEXT = (
    "Thank you for joining {title}. If you have not yet had a chance, please take a few minutes to "
    "fill in the evaluation form: " + FORM_URL_PLACEHOLDER
)
DEFAULT_TEXT_WITHOUT_FORM = "Thank you for joining {title}. Please tell us what you thought of the session."
SHOWN_REMINDERS = 12
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
    include_team: bool = False  # DMs to the event's organisers, chairs and presenters too


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


def _checked(event: Event, form: ReminderForm, *, now: datetime,
             recipient_zones: frozenset[str | None] = frozenset()) -> tuple[dict, dict[str, str]]:
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
        elif local_time and audience == ReminderAudience.DIRECT_MESSAGE:
            # Each DM comes at that hour in its reader's own zone: refused only when it has passed
            # (beyond the grace window) for every one of them.
            latest = max(local_due(event, local_time, zone_name) for zone_name in recipient_zones | {None})
            if latest + grace < now:
                problems["when"] = (f"{local_time} on the day after the event was more than {DEFAULT_GRACE_HOURS} "
                                    "hours ago for every attendee, so it would only be marked missed: pick a later "
                                    "time.")
        elif due_at + grace < now:
            problems["when"] = (f"That was more than {DEFAULT_GRACE_HOURS} hours ago, so it would only be marked "
                                "missed: pick a later time.")
    text = (form.text or "").strip()
    if not visible(text):
        problems["text"] = "Write the reminder's text."
    else:
        placeholders = placeholder_problem(text, event.evaluation_form_url)
        if placeholders:
            problems["text"] = placeholders
        # Measured as sent: {form_url} filled in, then escaped like the rest of the text.
        elif problem := too_long(render_reminder_text(text, event.evaluation_form_url), limit=MAX_TEXT_CHARS,
                                 subject="The text, with the form's address filled in," if FORM_URL_PLACEHOLDER in text
                                 else "The text"):
            problems["text"] = problem
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
        "include_team": False if is_channel else form.include_team,
        "text": render_reminder_text(text, event.evaluation_form_url),
    }, {}


def create_reminder(session: Session, *, event: Event, created_by: str | None, form: ReminderForm,
                    now: datetime) -> Reminder:
    values, problems = _checked(event, form, now=now, recipient_zones=_zones(session, event))
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
    values, problems = _checked(event, form, now=now, recipient_zones=_zones(session, event))
    if problems:
        raise FormProblems(problems)
    _unplan(session, reminder, now=now, action="change")
    for name, value in values.items():
        setattr(reminder, name, value)
    return reminder


def _zones(session: Session, event: Event) -> frozenset[str | None]:
    """The time zones of the people the event's DMs would go to, as far as their profiles say."""
    return frozenset(person.timezone for person in audience_people(session, event=event, include_team=True))


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


@dataclass(frozen=True)
class Stopped:
    reminders: int
    deliveries: int


# Why a delivery was skipped when the app was removed from its workspace (kept in `last_error`).
def stop_workspace_reminders(session: Session, *, workspace_id: int) -> Stopped:
    """The app was removed from the workspace: no reminder goes out there any more. Safe to repeat."""
    # Cancelled before the deliveries are skipped: a fan-out still running checks its reminder
    # in the transaction that adds its rows, so either it committed first (and its rows are
    # skipped below) or it finds the reminder cancelled and adds none.
    reminders = session.execute(
        update(Reminder)
        .where(Reminder.event_id.in_(select(Event.id).where(Event.workspace_id == workspace_id)),
               Reminder.status.in_(OPEN_STATUSES))
        .values(status=ReminderStatus.CANCELLED).execution_options(synchronize_session=False)
    ).rowcount or 0
    # Every post of the workspace still in the outbox, reminders or not, stays unsent.
    return Stopped(reminders=reminders, deliveries=outbox.cancel_pending(
        session, workspace_id=workspace_id, reason=outbox.SKIPPED_UNINSTALLED))


def reminder_to_manage(session: Session, *, workspace_id: int, reminder_id: int, slack_user_id: str,
                        action: str) -> tuple[Reminder, Event]:
    reminder = session.get(Reminder, reminder_id)
    event = session.get(Event, reminder.event_id) if reminder is not None else None
    if reminder is None or event is None or event.workspace_id != workspace_id:
        raise ReminderError("That reminder no longer exists.")
    people.require_runner(session, event=event, slack_user_id=slack_user_id, action=action)
    return reminder, event


# --- completions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    first_time: bool
    completed: int  # people who have said so for this event
    stopped: int  # pending reminders to them that will not be sent now


def completers(session: Session, *, event_id: int) -> set[str]:
    return set(session.scalars(
        select(Person.slack_user_id).join(EvaluationCompletion, EvaluationCompletion.person_id == Person.id)
        .where(EvaluationCompletion.event_id == event_id)))


# --- who: the audience -----------------------------------------------------------------------------


# The event's own team: told of nothing they ran, unless the organiser includes them.
TEAM = (Role.ORGANISER, Role.CHAIR, Role.PRESENTER)


def audience_people(session: Session, *, event: Event, include_team: bool = False) -> list[Person]:
    """Everyone an "each attendee" reminder is for, before bots and deactivated accounts are removed.

    The channel's members during the event are its attendees (enrolled when it starts and as they
    join); anyone who took part in another way counts too. The event's organisers, chairs and
    presenters are left out unless `include_team`.
    """
    took_part = union(
        select(EventRole.person_id).where(EventRole.event_id == event.id, EventRole.role != Role.ORGANISER),
        select(Reflection.person_id).join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
        .where(ReflectionPrompt.event_id == event.id),
        select(Question.asker_person_id).where(Question.event_id == event.id),
        select(Vote.person_id).join(Question, Question.id == Vote.question_id).where(Question.event_id == event.id),
        select(SpeakingQueueEntry.person_id).where(SpeakingQueueEntry.event_id == event.id),
    ).subquery()
    query = select(Person).where(Person.id.in_(select(took_part.c[0])), Person.workspace_id == event.workspace_id)
    if not include_team:
        query = query.where(Person.id.not_in(select(EventRole.person_id).where(
            EventRole.event_id == event.id, EventRole.role.in_(TEAM))))
    return list(session.scalars(query.order_by(Person.id)))


def local_due(event: Event, hhmm: str, zone_name: str | None) -> datetime:
    """HH:MM on the day after the event's close, both in the recipient's own zone (the event's if unknown)."""
    name = zone_name or event.timezone
    try:
        zone = clock.zone(name)
    except ValueError:
        # A profile's `tz` is whatever Slack sent; the event's zone was checked when it was set up.
        name, zone = event.timezone, clock.zone(event.timezone)
    # "At close" means the actual close, once there has been one.
    day = (event.closed_at or event.ends_at).astimezone(zone).date() + timedelta(days=1)
    try:
        return to_utc(day, hhmm, name)
    except ValueError:
        # The clocks skip that time on that day (a spring-forward gap): the same wall time read with
        # the offset before the change, which lands just after the gap.
        hours, minutes = map(int, hhmm.split(":"))
        return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone).astimezone(UTC)


def organisers_of(session: Session, *, event: Event, also: str | None = None) -> list[str]:
    found = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.ORGANISER)]
    if also and also not in found:
        found.append(also)
    if not found:
        found = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.CHAIR)]
    return found


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


def follow_close(session: Session, *, event: Event) -> int:
    """Reminders timed from the close ("at close", "2 hours after", "next day 10:00") follow the
    close as it now stands: the chair's pace while the session runs, the actual close once there
    is one. Reminders at a date and time stay where they are. Returns how many moved."""
    moved = 0
    closes_at = closing_time(event)
    for reminder in session.scalars(select(Reminder).where(Reminder.event_id == event.id,
                                                           Reminder.status == ReminderStatus.SCHEDULED)):
        if not timed_from_close(reminder.when_spec):
            continue
        try:
            due_at, _ = resolve_reminder_time(reminder.when_spec, event_ends_at=closes_at, timezone=event.timezone)
        except ValueError:
            continue
        if due_at != reminder.due_at:
            reminder.due_at = due_at
            moved += 1
    return moved

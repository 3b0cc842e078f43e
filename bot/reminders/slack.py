"""Reminders in Slack: the `/event remind` form's transactions, fanning a due reminder out to its
recipients (their profiles and time zones come from pages of `users.list`, or from `user_change`
events, `users.info` only for a few), and telling organisers of missed ones.

A reminder waits, `scheduled`, until it is due; the scheduler's leader then fans it out: one
delivery row per recipient with its own due time (`bot/reminders/deliveries.py`), after which any
number of senders deliver them (bot/slack/sender.py, the `reminder` kind in bot/reminders/posts.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import and_, exists, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import home_tabs, outbox
from bot.db import Database, unit_of_work
from bot.events import people
from bot.events import slack as events_slack
from bot.events.rules import event_to_run
from bot.events.slack import fresh_profiles
from bot.models import (
    Delivery,
    DeliveryStatus,
    EvaluationCompletion,
    Event,
    EventStatus,
    Person,
    Reminder,
    ReminderAudience,
    ReminderStatus,
)
from bot.reminders import blocks as reminder_blocks
from bot.reminders import deliveries, rules
from bot.reminders.rules import (
    DEFAULT_DM_WHEN,
    DEFAULT_TEXT,
    DEFAULT_TEXT_WITHOUT_FORM,
    OPEN_STATUSES,
    Completion,
    EventReminders,
    FormContext,
    ReminderError,
    ReminderForm,
    Saved,
    Stopped,
    audience_people,
    cancel_reminder,
    change_reminder,
    completers,
    create_reminder,
    event_reminders,
    local_due,
    organisers_of,
    reminder_to_manage,
    stop_workspace_reminders,
)
from bot.reminders.timing import timed_from_close
from bot.workspaces import installed, mark_uninstalled

logger = logging.getLogger(__name__)
# Recipients written at a time, so sending starts before a large fan-out is complete.
FAN_OUT_CHUNK = 100


def form_context(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str,
                 reminder_id: int | None = None) -> FormContext:
    """What the modal opens with: the channel's event (closed ones too) or the reminder to change."""
    with unit_of_work(database) as session:
        if reminder_id is None:
            event = event_to_run(session, workspace_id=workspace_id, channel_id=channel_id,
                                 slack_user_id=slack_user_id, action="schedule reminders", include_closed=True)
            text = (DEFAULT_TEXT if event.evaluation_form_url else DEFAULT_TEXT_WITHOUT_FORM).replace(
                "{title}", event.title)
            defaults = ReminderForm(when=DEFAULT_DM_WHEN, audience="dm", only_incomplete=True, text=text)
        else:
            reminder, event = reminder_to_manage(session, workspace_id=workspace_id, reminder_id=reminder_id,
                                                  slack_user_id=slack_user_id, action="change reminders")
            if reminder.status not in OPEN_STATUSES:
                raise ReminderError(f"This reminder is {reminder.status.value}, so it cannot be changed.")
            defaults = ReminderForm(
                when=reminder.when_spec,
                audience="channel" if reminder.audience == ReminderAudience.CHANNEL else "dm",
                only_incomplete=reminder.only_incomplete, text=reminder.text, include_team=reminder.include_team,
            )
        return FormContext(event_id=event.id, event_title=event.title, event_timezone=event.timezone,
                           form_url=event.evaluation_form_url, reminder_id=reminder_id, defaults=defaults)


def save_form(database: Database, *, workspace_id: int, event_id: int, reminder_id: int | None,
              slack_user_id: str, form: ReminderForm, now: datetime) -> Saved:
    """Create a reminder from the modal, or change the one it was opened for. FormProblems for bad input."""
    with unit_of_work(database) as session:
        if reminder_id is None:
            event = session.get(Event, event_id)
            if event is None or event.workspace_id != workspace_id:
                raise ReminderError("That event no longer exists.")
            people.require_runner(session, event=event, slack_user_id=slack_user_id, action="schedule reminders")
            reminder = create_reminder(session, event=event, created_by=slack_user_id, form=form, now=now)
        else:
            reminder, event = reminder_to_manage(session, workspace_id=workspace_id, reminder_id=reminder_id,
                                                  slack_user_id=slack_user_id, action="change reminders")
            change_reminder(session, reminder=reminder, form=form, now=now)
        home_tabs.refresh_event(session, event_id=event.id, now=now)  # their Homes show what comes next
        return Saved(reminder_id=reminder.id, channel_id=event.channel_id,
                     description=reminder_blocks.describe_reminder(
                         when_spec=reminder.when_spec, due_at=reminder.due_at,
                         local_time=reminder.local_time_for_recipient, audience=reminder.audience,
                         only_incomplete=reminder.only_incomplete, timezone=event.timezone),
                     changed=reminder_id is not None)


def cancel(database: Database, *, workspace_id: int, reminder_id: int, slack_user_id: str,
           now: datetime) -> int:
    with unit_of_work(database) as session:
        reminder, event = reminder_to_manage(session, workspace_id=workspace_id, reminder_id=reminder_id,
                                              slack_user_id=slack_user_id, action="cancel reminders")
        home_tabs.refresh_event(session, event_id=event.id, now=now)
        return cancel_reminder(session, reminder=reminder, now=now)


def record_completion(database: Database, *, workspace_id: int, event_id: int, slack_user_id: str,
                      now: datetime) -> Completion:
    """"I've completed it": recorded once; no later "only those who have not completed" reminder goes to them."""
    with unit_of_work(database) as session:
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
        if first_time:
            home_tabs.refresh_people(session, person_ids=[person.id], now=now)  # no longer a form to do
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


def candidates_for(database: Database, client: WebClient, *, reminder_id: int,
                   bot_user_id: str | None) -> list[str]:
    """Everyone this reminder may be for (the channel, for a channel post), before profiles are checked."""
    with unit_of_work(database) as session:
        reminder = session.get_one(Reminder, reminder_id)
        event = session.get_one(Event, reminder.event_id)
        if reminder.audience == ReminderAudience.CHANNEL:
            return [event.channel_id]
        event_id, channel_id = event.id, event.channel_id
        still_on = event.status in (EventStatus.SCHEDULED, EventStatus.LIVE)
    if still_on:
        events_slack.enrol_channel_members(database, client, event_id=event_id, channel_id=channel_id,
                                          exclude=frozenset(filter(None, [bot_user_id])))
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        done = completers(session, event_id=event_id) if reminder.only_incomplete else set()
        return [p.slack_user_id for p in audience_people(session, event=event, include_team=reminder.include_team)
                if p.slack_user_id != bot_user_id and p.slack_user_id not in done]


def recipients_among(database: Database, *, reminder_id: int, candidates: list[str]) -> list[tuple[str, datetime]]:
    """Of these candidates, whose profiles are fresh, who gets the reminder (no bots, no deactivated
    accounts), and when each is due: a time for each reader is in the reader's zone."""
    with unit_of_work(database) as session:
        reminder = session.get_one(Reminder, reminder_id)
        event = session.get_one(Event, reminder.event_id)
        if reminder.audience == ReminderAudience.CHANNEL:
            return [(event.channel_id, reminder.due_at)]
        found = {p.slack_user_id: p for p in session.scalars(select(Person).where(
            Person.workspace_id == event.workspace_id, Person.slack_user_id.in_(candidates)))}
        result = []
        for slack_user_id in candidates:
            person = found.get(slack_user_id)
            if person is None or person.is_bot or person.is_deleted:
                continue
            due = (local_due(event, reminder.local_time_for_recipient, person.timezone)
                   if reminder.local_time_for_recipient else reminder.due_at)
            result.append((slack_user_id, due))
        return result


def candidates_as_profiles_come(database: Database, client: WebClient, *, reminder_id: int,
                                candidates: list[str], now: datetime) -> Iterator[list[str]]:
    """The candidates in batches whose profiles are fresh (users.list pages for a large audience);
    a channel post needs none."""
    with unit_of_work(database) as session:
        reminder = session.get_one(Reminder, reminder_id)
        workspace_id = session.get_one(Event, reminder.event_id).workspace_id
        in_channel = reminder.audience == ReminderAudience.CHANNEL
    if in_channel:
        yield candidates
        return
    yield from fresh_profiles(database, client, workspace_id=workspace_id, slack_user_ids=candidates, now=now)


# --- the scheduler leader's tick -------------------------------------------------------------------


@dataclass
class PlanRun:
    fanned_out: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    told: list[int] = field(default_factory=list)


def plan_reminders(database: Database, client: WebClient, *, now: datetime,
                   bot_user_id: str | None = None, on_rows: Callable[[], None] | None = None,
                   workspace_id: int | None = None) -> PlanRun:
    """Fan out what is due, mark what was missed, close off finished reminders, tell organisers.

    Safe to run as often as wanted and (though the scheduler runs one) from several processes:
    every step is a conditional update that only one caller can win, and fan-out adds no row twice.
    A fan-out cut short (the process killed half-way) is picked up again by the next run.
    `on_rows` is called whenever new deliveries are in, so senders can start at once. With
    `workspace_id`, only that workspace's reminders are fanned out (`client` holds its token).
    """
    ours = Event.workspace_id == workspace_id if workspace_id is not None else true()
    run = PlanRun()
    with unit_of_work(database) as session:
        # A live session closes when its chair closes it, whatever the plan said.
        closed = or_(and_(Event.status != EventStatus.LIVE, Event.ends_at <= now),
                     and_(Event.closed_at.is_not(None), Event.closed_at <= now))
        due = list(session.scalars(
            select(Reminder.id).join(Event, Event.id == Reminder.event_id)
            .where(installed(Event.workspace_id), ours, or_(
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
            outcome = fan_out_reminder(database, client, reminder_id=reminder_id, now=now, bot_user_id=bot_user_id,
                                       on_rows=on_rows)
        except SlackApiError as error:
            logger.warning("reminder %s not fanned out yet: %s", reminder_id, error.response.get("error"))
            continue
        if outcome == "fanned_out":
            run.fanned_out.append(reminder_id)
        elif outcome == "missed":
            run.missed.append(reminder_id)
    run.finished = finish_reminders(database, now=now)
    run.told = tell_organisers_of_missed(database, now=now)
    return run


def fan_out_reminder(database: Database, client: WebClient, *, reminder_id: int, now: datetime,
                     bot_user_id: str | None, on_rows: Callable[[], None] | None = None) -> str:
    """Turn one due reminder into delivery rows: "fanned_out", "missed", "cancelled" or "lost" (someone else won).

    Recipients are written FAN_OUT_CHUNK at a time as their profiles are known (those kept fresh by
    `user_change` at once, the rest a users.list page at a time), so the first DMs go while later
    recipients' profiles are still being read. The reminder is `sending` from the first chunk on
    and gets `fanned_out_at` after the last; a fan-out cut short is resumed from the start, and the
    rows already written are left as they are.
    """
    with unit_of_work(database) as session:
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
            if event.status == EventStatus.LIVE and timed_from_close(reminder.when_spec):
                # The chair decides when the session closes (a hold, an extension): a reminder
                # counted from the close waits for it, and then follows it.
                return "waiting"
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

    candidates = candidates_for(database, client, reminder_id=reminder_id, bot_user_id=bot_user_id)
    added = 0
    for batch in candidates_as_profiles_come(database, client, reminder_id=reminder_id, candidates=candidates,
                                             now=now):
        for start in range(0, len(batch), FAN_OUT_CHUNK):
            chunk = batch[start:start + FAN_OUT_CHUNK]
            recipients = recipients_among(database, reminder_id=reminder_id, candidates=chunk)
            with unit_of_work(database) as session:
                if not take_over(session):
                    return "lost"  # changed, cancelled or fanned out by someone else meanwhile
                added += deliveries.fan_out(session, reminder_id=reminder_id, recipients=recipients)
            if on_rows is not None:
                on_rows()
    with unit_of_work(database) as session:
        if not take_over(session):
            return "lost"
        session.execute(update(Reminder).where(*ours).values(fanned_out_at=now)
                        .execution_options(synchronize_session=False))
    logger.info("reminder %s fanned out: %d deliveries%s", reminder_id, added, " (resumed)" if resuming else "")
    return "fanned_out"


def finish_reminders(database: Database, *, now: datetime) -> list[int]:
    """Reminders with nothing left pending are done: sent, or missed if downtime stopped every send."""
    finished = []
    with unit_of_work(database) as session:
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


def tell_organisers_of_missed(database: Database, *, now: datetime) -> list[int]:
    """DM the organisers about every reminder that downtime stopped, in whole or in part, once.

    The DMs are outbox rows written in the same transaction that marks the reminder told, so
    they go out exactly once.
    """
    told = []
    with unit_of_work(database) as session:
        partly_missed = exists().where(Delivery.reminder_id == Reminder.id, Delivery.status == DeliveryStatus.SKIPPED,
                                       Delivery.last_error == deliveries.SKIPPED_MISSED)
        reminders = list(session.scalars(select(Reminder).join(Event, Event.id == Reminder.event_id).where(
            installed(Event.workspace_id), Reminder.organisers_told_at.is_(None),
            or_(Reminder.status == ReminderStatus.MISSED,
                and_(Reminder.status == ReminderStatus.SENT, partly_missed)))))
        counts = deliveries.counts_by_reminder(session, [r.id for r in reminders])
        for reminder in reminders:
            won = session.execute(update(Reminder).where(Reminder.id == reminder.id, Reminder.organisers_told_at.is_(None))
                                  .values(organisers_told_at=now).execution_options(synchronize_session=False)).rowcount
            if not won:
                continue
            event = session.get_one(Event, reminder.event_id)
            count = counts[reminder.id]
            message = reminder_blocks.missed_notice(
                event_title=event.title, channel_id=event.channel_id, timezone=event.timezone,
                when_spec=reminder.when_spec, due_at=reminder.due_at, audience=reminder.audience,
                missed=count.get("skipped_missed", 0), sent=count.get("sent", 0),
                grace_hours=reminder.grace_minutes / 60, fanned_out=reminder.fanned_out_at is not None,
            )
            for organiser in organisers_of(session, event=event, also=reminder.created_by_slack_user_id):
                outbox.notice(session, recipient=organiser, message=message, now=now, workspace_id=event.workspace_id,
                              event_id=event.id, dedupe_key=f"missed:{reminder.id}:{organiser}")
            told.append(reminder.id)
    return told


def stop_after_uninstall(database: Database, *, team_id: str, now: datetime) -> Stopped:
    """The app was removed from a workspace, or lost its bot token: forget the token and cancel
    whatever was waiting to go out there, in one transaction.

    No Slack call: the token is dead. Every post still in the outbox for the workspace is skipped,
    its reminders cancelled, and the scheduler's queries skip its events from then on.
    """
    with unit_of_work(database) as session:
        workspace = mark_uninstalled(session, team_id=team_id, now=now)
        return stop_workspace_reminders(session, workspace_id=workspace.id)


def reminders_for_channel(database: Database, *, workspace_id: int, channel_id: str,
                          slack_user_id: str) -> EventReminders:
    with unit_of_work(database) as session:
        event = event_to_run(session, workspace_id=workspace_id, channel_id=channel_id, slack_user_id=slack_user_id,
                             action="see the reminders", include_closed=True)
        return event_reminders(session, event=event)


def reminders_for_event(database: Database, *, workspace_id: int, event_id: int,
                        slack_user_id: str) -> EventReminders:
    with unit_of_work(database) as session:
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id:
            raise ReminderError("That event no longer exists.")
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action="see the reminders")
        return event_reminders(session, event=event)


def event_of_reminder(database: Database, *, reminder_id: int) -> int | None:
    with unit_of_work(database) as session:
        return session.scalar(select(Reminder.event_id).where(Reminder.id == reminder_id))


def follow_closes(database: Database, *, since: datetime) -> int:
    """Reminders timed from the close follow it: for live events (whose close follows the chair's
    pace) and for events closed since `since` (the actual close)."""
    moved = 0
    with unit_of_work(database) as session:
        for event in session.scalars(select(Event).where(or_(
                Event.status == EventStatus.LIVE, and_(Event.closed_at.is_not(None), Event.closed_at >= since)))):
            moved += rules.follow_close(session, event=event)
    return moved


def follow_close(database: Database, *, event_id: int) -> int:
    """Reminders timed from one event's close follow it now (after the chair moved it)."""
    with unit_of_work(database) as session:
        return rules.follow_close(session, event=session.get_one(Event, event_id))

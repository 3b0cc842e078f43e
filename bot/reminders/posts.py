"""What reminders post through the outbox: each delivery of an evaluation reminder, rendered when it is sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bot.events.posts import tell_organisers
from bot.models import EvaluationCompletion, Event, Person, Reminder, ReminderAudience, ReminderStatus
from bot.outbox import Claimed, Kind, Prepared
from bot.reminders.blocks import reminder_message
from bot.reminders.deliveries import REMINDER, SKIPPED_CANCELLED, SKIPPED_COMPLETED, SKIPPED_MISSED


class ReminderDelivery:
    """One reminder to one recipient (a person's DM, or the event's channel)."""

    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        reminder = session.get_one(Reminder, item.reminder_id)
        event = session.get_one(Event, reminder.event_id)
        in_channel = reminder.audience == ReminderAudience.CHANNEL
        skip = None
        if reminder.status == ReminderStatus.CANCELLED:
            skip = SKIPPED_CANCELLED
        elif reminder.only_incomplete and not in_channel and self._completed(session, event, item.recipient):
            skip = SKIPPED_COMPLETED
        elif now > item.due_at + timedelta(minutes=reminder.grace_minutes):
            skip = SKIPPED_MISSED
        return Prepared(channel=item.recipient, skip=skip, message=reminder_message(
            text=reminder.text, form_url=event.evaluation_form_url, event_id=event.id, in_channel=in_channel))

    @staticmethod
    def _completed(session: Session, event: Event, slack_user_id: str) -> bool:
        return bool(session.scalar(select(exists().where(
            EvaluationCompletion.event_id == event.id, EvaluationCompletion.person_id == Person.id,
            Person.workspace_id == event.workspace_id, Person.slack_user_id == slack_user_id))))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        # A DM that cannot reach one person is listed in `/event reminders`; a channel post that
        # cannot be made reaches nobody, so the organisers hear of it at once.
        if item.event_id is not None and item.recipient[:1] in ("C", "G"):
            tell_organisers(session, event_id=item.event_id, what="the evaluation reminder", error=error, now=now)


def kinds() -> dict[str, Kind]:
    """This domain's kinds of post, new for each sender (some keep a pace of their own)."""
    return {REMINDER: ReminderDelivery()}

"""Reminder rows in the outbox: fanning a reminder out to its recipients, and counting what became of them.

A reminder is fanned out (bot/reminders/slack.py decides to whom and when) by inserting one
outbox row (bot/outbox.py) of kind `reminder` per recipient; the unique constraint on
(reminder, recipient) and INSERT … ON CONFLICT DO NOTHING make a repeated fan-out add nothing.
Senders then deliver them like every other post; the `reminder` kind (bot/reminders/posts.py)
skips a row whose reminder was cancelled, whose recipient has completed the form, or which is
past its grace window.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.models import Delivery, DeliveryStatus, Event, Reminder
from bot.outbox import describe_error, wake_senders

REMINDER = "reminder"

# Why a delivery was skipped (kept in `last_error`, shown to organisers).
SKIPPED_COMPLETED = "completed"  # they said they completed the form
SKIPPED_CANCELLED = "cancelled"  # an organiser cancelled the reminder first
SKIPPED_MISSED = "missed"  # due while nothing ran, and past the grace window on return

__all__ = ["REMINDER", "SKIPPED_CANCELLED", "SKIPPED_COMPLETED", "SKIPPED_MISSED", "counts_by_reminder",
           "describe_error", "failures_of", "fan_out", "has_pending"]


# --- fan-out -----------------------------------------------------------------------------------


def fan_out(session: Session, *, reminder_id: int, recipients: Iterable[tuple[str, datetime]]) -> int:
    """Insert one pending delivery per (recipient, due time); rows already there are left alone.

    Returns how many rows were added. Safe to repeat: a second fan-out of the same reminder
    adds nothing, whoever runs it.
    """
    event_id, workspace_id = session.execute(
        select(Event.id, Event.workspace_id).join(Reminder, Reminder.event_id == Event.id)
        .where(Reminder.id == reminder_id)).one()
    now = utcnow()
    rows = [
        {"kind": REMINDER, "reminder_id": reminder_id, "event_id": event_id, "workspace_id": workspace_id,
         "recipient_slack_id": recipient, "due_at": due_at, "next_attempt_at": due_at,
         "status": DeliveryStatus.PENDING.value, "attempts": 0, "in_doubt": False, "created_at": now}
        for recipient, due_at in dict(recipients).items()
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The rows go as parameters of one cached statement (SQLAlchemy's "insertmanyvalues" sends them
    # 500 to a statement): a VALUES clause built from them would be compiled afresh for every chunk,
    # which cost more than the database's work in a fan-out of thousands.
    statement = insert(Delivery.__table__).on_conflict_do_nothing(
        index_elements=["reminder_id", "recipient_slack_id"]).returning(Delivery.__table__.c.id)
    added = 0
    for start in range(0, len(rows), 500):
        added += len(session.execute(statement, rows[start:start + 500]).all())
    if added:
        wake_senders(session)
    return added


# --- counts, for organisers and for finishing reminders ---------------------------------------------


def counts_by_reminder(session: Session, reminder_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per reminder: how many deliveries are pending, sent, failed, and skipped for each reason."""
    ids = list(reminder_ids)
    result: dict[int, dict[str, int]] = {rid: {} for rid in ids}
    if not ids:
        return result
    rows = session.execute(
        select(Delivery.reminder_id, Delivery.status, Delivery.last_error, func.count())
        .where(Delivery.reminder_id.in_(ids))
        .group_by(Delivery.reminder_id, Delivery.status, Delivery.last_error)
    ).all()
    for reminder_id, status, last_error, count in rows:
        key = status.value if status != DeliveryStatus.SKIPPED else f"skipped_{last_error or 'other'}"
        bucket = result[reminder_id]
        bucket[key] = bucket.get(key, 0) + count
        if status == DeliveryStatus.SKIPPED:
            bucket["skipped"] = bucket.get("skipped", 0) + count
    return result


def failures_of(session: Session, reminder_id: int, *, limit: int = 10) -> list[tuple[str, str]]:
    """Recipients a reminder could not reach, with the reason, for the organiser."""
    return [
        (recipient, error or "")
        for recipient, error in session.execute(
            select(Delivery.recipient_slack_id, Delivery.last_error)
            .where(Delivery.reminder_id == reminder_id, Delivery.status == DeliveryStatus.FAILED)
            .order_by(Delivery.id)
            .limit(limit)
        )
    ]


def has_pending(session: Session, reminder_id: int) -> bool:
    return bool(session.scalar(select(exists().where(
        Delivery.reminder_id == reminder_id, Delivery.status == DeliveryStatus.PENDING))))

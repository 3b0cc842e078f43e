"""The reminder outbox: one row per reminder and recipient, claimed, sent once, and accounted for.

A reminder is fanned out (bot/reminders/slack.py decides to whom and when) by inserting one `Delivery`
row per recipient; the unique constraint on (reminder, recipient) and INSERT … ON CONFLICT DO
NOTHING make a repeated fan-out add nothing. Senders, in as many threads and processes as are
running, then loop over three steps:

1. **Claim** a few due rows (`CLAIM_BATCH`): an UPDATE that sets `claimed_by` and a lease
   (`claimed_until`) on rows that are pending and unclaimed (or whose lease ran out). On
   PostgreSQL the rows are picked with `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent claimers
   skip each other's rows instead of queueing; SQLite runs one writer at a time, and the UPDATE's
   own WHERE re-checks each row. A claimer that died (`kill -9`) on this machine is noticed at
   once and its rows taken back; one elsewhere loses them when the lease runs out.
2. **Send** it with `chat.postMessage`, carrying message metadata that names the delivery.
3. **Record** the outcome: sent (with the message ts), failed (a permanent error, or transient
   ones until `MAX_ATTEMPTS`), skipped (completed the form, cancelled, missed its grace window),
   or pending again after a backoff.

Exactly once, and rate limits: see `bot/reminders/sender.py`. What it cannot close without
Slack-side idempotency keys: a worker frozen (not dead) for longer than the send margin between
its check and its send; machines whose clocks disagree by more than 10 s; and a message Slack
stores only after the send timed out and after another worker has looked. Each would at worst
send one recipient a second copy.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.lease import is_dead_local_process
from bot.models import (
    Delivery,
    DeliveryStatus,
    EvaluationCompletion,
    Event,
    Person,
    Reminder,
    ReminderAudience,
    ReminderStatus,
)

logger = logging.getLogger(__name__)

# --- the error table ---------------------------------------------------------------------------

# Errors that mean this reminder can never reach this recipient (or that the message itself is
# wrong): recorded once, shown to the organiser in `/event reminders`, never retried.
PERMANENT_ERRORS: dict[str, str] = {
    # the recipient
    "user_not_found": "no such Slack user",
    "users_not_found": "no such Slack user",
    "account_inactive": "the account is deactivated",
    "user_disabled": "the account is deactivated",
    "cannot_dm_bot": "that is a bot",
    "messages_tab_disabled": "they cannot receive DMs from apps",
    # the conversation
    "channel_not_found": "the conversation cannot be found (a deactivated account, or a channel eventbot cannot see)",
    "not_in_channel": "eventbot is not in the channel",
    "is_archived": "the channel is archived",
    "restricted_action": "the workspace does not allow eventbot to post there",
    "restricted_action_read_only_channel": "the channel is read-only",
    "restricted_action_thread_only_channel": "the channel only allows thread replies",
    "restricted_action_non_threadable_channel": "the channel does not allow this post",
    "team_access_not_granted": "eventbot has no access to that workspace",
    "ekm_access_denied": "the workspace's key management refused it",
    # the token or the message: retrying cannot help, an operator must act
    "not_authed": "eventbot's token is missing",
    "invalid_auth": "eventbot's token is not valid",
    "token_revoked": "eventbot's token was revoked",
    "token_expired": "eventbot's token expired",
    "org_login_required": "the workspace is migrating",
    "missing_scope": "eventbot lacks a permission",
    "not_allowed_token_type": "the wrong kind of token",
    "no_permission": "eventbot lacks a permission",
    "access_denied": "access denied",
    "invalid_blocks": "the message was malformed",
    "invalid_blocks_format": "the message was malformed",
    "msg_too_long": "the message is too long",
    "no_text": "the message is empty",
    "invalid_metadata_format": "the message was malformed",
    "invalid_metadata_schema": "the message was malformed",
    "metadata_too_large": "the message was malformed",
    "invalid_arguments": "the message was malformed",
}
# Anything else (internal_error, fatal_error, service_unavailable, request_timeout, HTTP 5xx,
# dropped connections, timeouts, errors this table does not know) is transient: retried with
# exponential backoff and jitter, at most MAX_ATTEMPTS times, then recorded as failed.
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 900.0

# Why a delivery was skipped (kept in `last_error`, shown to organisers).
SKIPPED_COMPLETED = "completed"  # they said they completed the form
SKIPPED_CANCELLED = "cancelled"  # an organiser cancelled the reminder first
SKIPPED_MISSED = "missed"  # due while nothing ran, and past the grace window on return
# What an interrupted attempt is recorded as until it is resolved.
INTERRUPTED = "interrupted"

# A claim lasts this long; a send never starts with less than SEND_TIMEOUT + margin of it left.
LEASE_SECONDS = 60
SEND_TIMEOUT_SECONDS = 10
LEASE_MARGIN_SECONDS = 10
SENDER_THREADS = 8
# Rows each sender thread claims at a time (fewer database round trips per DM).
CLAIM_BATCH = 4

METADATA_EVENT_TYPE = "eventbot_reminder"
# How far back (pages of 200, newest first) to look for an in-doubt send.
HISTORY_PAGES = 5




# --- fan-out -----------------------------------------------------------------------------------


def fan_out(session: Session, *, reminder_id: int, recipients: Iterable[tuple[str, datetime]]) -> int:
    """Insert one pending delivery per (recipient, due time); rows already there are left alone.

    Returns how many rows were added. Safe to repeat: a second fan-out of the same reminder
    adds nothing, whoever runs it.
    """
    rows = [
        {"reminder_id": reminder_id, "recipient_slack_id": recipient, "due_at": due_at, "next_attempt_at": due_at,
         "status": DeliveryStatus.PENDING.value, "attempts": 0, "in_doubt": False}
        for recipient, due_at in dict(recipients).items()
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = 0
    for start in range(0, len(rows), 500):
        statement = insert(Delivery.__table__).values(rows[start:start + 500]).on_conflict_do_nothing(
            index_elements=["reminder_id", "recipient_slack_id"]).returning(Delivery.__table__.c.id)
        added += len(session.execute(statement).all())
    return added


# --- claiming ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery with what sending it needs."""

    delivery_id: int
    claim: str  # our claimed_by value for this row
    claimed_until: datetime
    reminder_id: int
    recipient: str
    due_at: datetime
    attempts: int  # including this one
    in_doubt: bool  # an earlier attempt may have reached Slack: look before sending
    event_id: int
    workspace_id: int
    event_title: str
    channel_id: str
    form_url: str | None
    text: str
    audience: ReminderAudience
    only_incomplete: bool
    grace_minutes: int
    reminder_status: ReminderStatus
    completed: bool


_claim_counter = itertools.count(1)


def claim(session: Session, *, worker: str, now: datetime, limit: int = 1,
          lease_seconds: int = LEASE_SECONDS) -> list[Claimed]:
    """Claim up to `limit` due deliveries for `worker`; nobody else can claim them until the lease ends."""
    claimable = and_(
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.next_attempt_at <= now,
        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now),
    )
    candidates = select(Delivery.id).where(claimable).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Lock the rows picked, skipping rows another claimer has locked (it is claiming them).
        # A separate statement: inside `UPDATE … WHERE id IN (…)` the planner may run a LIMITed
        # SKIP LOCKED subquery more than once and claim more rows than asked for.
        picked = list(session.scalars(candidates.with_for_update(skip_locked=True)))
        if not picked:
            return []
        target = Delivery.id.in_(picked)
    else:
        # SQLite has one writer at a time: the UPDATE below picks and claims in one step, and its
        # WHERE re-checks each row.
        target = Delivery.id.in_(candidates.scalar_subquery())
    tag = f"{worker}#{next(_claim_counter) % 1_000_000:x}"[:64]
    until = now + timedelta(seconds=lease_seconds)
    claimed_ids = list(session.execute(
        update(Delivery)
        .where(target, claimable)
        .values(
            claimed_by=tag,
            claimed_until=until,
            attempts=Delivery.attempts + 1,
            # Evaluated on the row as it was: still claimed by someone means their attempt's
            # outcome was never recorded.
            in_doubt=or_(Delivery.in_doubt, Delivery.claimed_by.is_not(None)),
            last_error=case((Delivery.claimed_by.is_not(None), INTERRUPTED), else_=Delivery.last_error),
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).scalars())
    if not claimed_ids:
        return []
    rows = session.execute(
        select(Delivery, Reminder, Event)
        .join(Reminder, Reminder.id == Delivery.reminder_id)
        .join(Event, Event.id == Reminder.event_id)
        .where(Delivery.id.in_(claimed_ids))
        .execution_options(populate_existing=True)
    ).all()
    completed_people = set(session.scalars(
        select(Person.slack_user_id)
        .join(EvaluationCompletion, EvaluationCompletion.person_id == Person.id)
        .where(
            EvaluationCompletion.event_id.in_({event.id for _, _, event in rows}),
            Person.slack_user_id.in_({delivery.recipient_slack_id for delivery, _, _ in rows}),
        )
    ))
    return [
        Claimed(
            delivery_id=delivery.id, claim=tag, claimed_until=until, reminder_id=reminder.id,
            recipient=delivery.recipient_slack_id, due_at=delivery.due_at, attempts=delivery.attempts,
            in_doubt=delivery.in_doubt, event_id=event.id, workspace_id=event.workspace_id,
            event_title=event.title, channel_id=event.channel_id, form_url=event.evaluation_form_url,
            text=reminder.text, audience=reminder.audience, only_incomplete=reminder.only_incomplete,
            grace_minutes=reminder.grace_minutes, reminder_status=reminder.status,
            completed=delivery.recipient_slack_id in completed_people,
        )
        for delivery, reminder, event in rows
    ]


def anything_due(session: Session, *, now: datetime) -> bool:
    """A cheap read before any claiming: is a delivery due, or held by a claim that may be dead?"""
    return bool(session.scalar(select(exists().where(
        Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now))))


def release_dead_claims(session: Session, *, now: datetime) -> int:
    """End the leases of claimers that were processes on this machine and are gone (a `kill -9`).

    Their rows become claimable at once instead of when the lease runs out, and stay marked as
    claimed, so the next claimer treats them as in doubt.
    """
    holders = session.scalars(
        select(Delivery.claimed_by).distinct()
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.claimed_until > now)
    ).all()
    dead = [holder for holder in holders if is_dead_local_process(holder)]
    if not dead:
        return 0
    released = session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.claimed_by.in_(dead))
        .values(claimed_until=now)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    if released:
        logger.info("took back %d deliveries claimed by stopped processes (%s)", released, ", ".join(dead))
    return released


# --- recording outcomes ----------------------------------------------------------------------------


def _finish(session: Session, item: Claimed, **values: Any) -> bool:
    """Record an outcome, if the claim is still ours; clears the claim."""
    done = session.execute(
        update(Delivery)
        .where(Delivery.id == item.delivery_id, Delivery.claimed_by == item.claim)
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        logger.warning("delivery %s was reclaimed by another worker before its outcome was recorded", item.delivery_id)
    return bool(done)


def mark_sent(session: Session, item: Claimed, *, ts: str, now: datetime) -> bool:
    return _finish(session, item, status=DeliveryStatus.SENT, sent_at=now, message_ts=ts, in_doubt=False,
                   last_error=None)


def mark_skipped(session: Session, item: Claimed, *, reason: str) -> bool:
    return _finish(session, item, status=DeliveryStatus.SKIPPED, last_error=reason, in_doubt=False)


def mark_failed(session: Session, item: Claimed, *, error: str, in_doubt: bool = False) -> bool:
    return _finish(session, item, status=DeliveryStatus.FAILED, last_error=error[:255], in_doubt=in_doubt)


def retry_later(session: Session, item: Claimed, *, error: str, at: datetime, in_doubt: bool) -> bool:
    return _finish(session, item, status=DeliveryStatus.PENDING, last_error=error[:255], next_attempt_at=at,
                   in_doubt=in_doubt)


def put_back(session: Session, item: Claimed, *, resolved: bool, at: datetime | None = None) -> bool:
    """Release a claim that made no attempt (rate limited, not enough lease left, shutting down).

    No attempt is counted. `resolved`: any doubt about an earlier attempt was settled (Slack's
    history was checked); otherwise the row stays in doubt for whoever claims it next.
    """
    values: dict[str, Any] = {"attempts": Delivery.attempts - 1}
    if resolved:
        values["in_doubt"] = False
    if at is not None:
        values["next_attempt_at"] = at
    return _finish(session, item, **values)


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with ±25% jitter: 5 s, 10 s, 20 s … up to 15 minutes."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * (0.75 + 0.5 * (rng or random).random()))


def describe_error(code: str | None) -> str:
    """An organiser-facing phrase for a delivery's last error."""
    if not code:
        return "unknown error"
    if code in PERMANENT_ERRORS:
        return f"{PERMANENT_ERRORS[code]} ({code})"
    return code


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

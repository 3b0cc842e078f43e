"""The outbox: every post eventbot must make is a row, claimed, sent once, and accounted for.

A change that calls for a post (a question asked, an agenda item announced, an answer given, a
reminder due) writes its `Delivery` row with `enqueue` in the same transaction, so the post
exists exactly when the change does: a crash before the commit loses both, a crash after it
loses neither. Senders (bot/slack/sender.py), in as many threads and processes as are running,
then loop over three steps:

1. **Claim** a few due rows (`CLAIM_BATCH`): an UPDATE that sets `claimed_by` and a lease
   (`claimed_until`) on rows that are pending and unclaimed (or whose lease ran out). On
   PostgreSQL the rows are picked with `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent claimers
   skip each other's rows instead of queueing; SQLite runs one writer at a time, and the UPDATE's
   own WHERE re-checks each row. A claimer that died (`kill -9`) on this machine is noticed at
   once and its rows taken back; one elsewhere loses them when the lease runs out.
2. **Send** it with `chat.postMessage` (or `chat.update` for a redraw), carrying message metadata
   that names the row.
3. **Record** the outcome: sent (with the message ts, and whatever the row's kind records, such
   as a card's ts on its question), failed (a permanent error, or transient ones until
   `MAX_ATTEMPTS`), skipped (its kind said so: a cancelled reminder, a question dismissed before
   its card went out), or pending again after a backoff.

A row whose send may have reached Slack without us hearing back (the claimer died, the
connection dropped, a 5xx) is *in doubt*; whoever claims it next looks for the message by its
metadata before sending again (bot/slack/sender.py). What cannot be closed without Slack-side
idempotency keys: a sender frozen (not dead) for longer than the send margin between its check
and its send; machines whose clocks disagree by more than 10 s; and a message Slack stores only
after the send timed out and after another sender has looked. Each would at worst post one
message twice.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, case, event, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.lease import is_dead_local_process
from bot.models import Delivery, DeliveryStatus

if TYPE_CHECKING:
    from bot.slack.messages import Message

logger = logging.getLogger(__name__)

# --- the error table ---------------------------------------------------------------------------

# Errors that mean this post can never be made (to this recipient, in this conversation, with
# this token, or as written): recorded once, told to the people who can act, never retried.
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
    "message_not_found": "the message to change is gone",
    "cant_update_message": "the message cannot be changed",
    "edit_window_closed": "the message can no longer be changed",
    # the token or the message: retrying cannot help, an operator must act
    "not_authed": "eventbot's token is missing",
    "invalid_auth": "eventbot's token is not valid",
    "token_revoked": "eventbot's token was revoked",
    "token_expired": "eventbot's token expired",
    "account_inactive_token": "eventbot's token belongs to a deactivated account",
    "org_login_required": "the workspace is migrating",
    "missing_scope": "eventbot lacks a permission",
    "not_allowed_token_type": "the wrong kind of token",
    "no_permission": "eventbot lacks a permission",
    "access_denied": "access denied",
    "invalid_blocks": "the message was malformed",
    "invalid_blocks_format": "the message was malformed",
    "msg_too_long": "the message is too long",
    "msg_blocks_too_long": "the message is too long",
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

# What an interrupted attempt is recorded as until it is resolved.
INTERRUPTED = "interrupted"
# Why a row was skipped when its workspace uninstalled eventbot.
SKIPPED_UNINSTALLED = "uninstalled"

# A claim lasts this long; a send never starts with less than SEND_TIMEOUT + margin of it left.
LEASE_SECONDS = 60
SEND_TIMEOUT_SECONDS = 10
LEASE_MARGIN_SECONDS = 10
SENDER_THREADS = 8
# Rows each sender thread claims at a time (fewer database round trips per post).
CLAIM_BATCH = 4

# Every post carries this metadata event type, with the row's id, so it can be found again.
METADATA_EVENT_TYPE = "eventbot_post"
# How far back (pages of 200, newest first) to look for an in-doubt send.
HISTORY_PAGES = 5

# The kind every domain can use: a message fixed when the row was written (payload: text, blocks,
# and optionally thread_ts), to a channel or, for a user ID, to that person's DM.
NOTICE = "notice"


# --- writing rows --------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    now: datetime,
    workspace_id: int | None = None,
    event_id: int | None = None,
    subject_id: int | None = None,
    payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    coalesce_key: str | None = None,
    due_at: datetime | None = None,
) -> int | None:
    """Add a post to the outbox in the caller's transaction; None if its key says it is there already.

    `dedupe_key` makes a logical post happen once ever ("card:17"); `coalesce_key` keeps one pending
    row for a post that only needs to happen once more ("redraw:17").
    """
    added = enqueue_all(session, now=now, posts=[{
        "kind": kind, "recipient": recipient, "workspace_id": workspace_id, "event_id": event_id,
        "subject_id": subject_id, "payload": payload, "dedupe_key": dedupe_key, "coalesce_key": coalesce_key,
        "due_at": due_at}])
    return added[0] if added else None


def enqueue_all(session: Session, *, now: datetime, posts: Iterable[Mapping[str, Any]]) -> list[int]:
    """Several posts in one statement (each a mapping of `enqueue`'s keywords); the ids of those added.

    A vote batch asks for a redraw of every card it touched: one round trip, not one a card.
    """
    rows = []
    for post in posts:
        due = post.get("due_at") or now
        rows.append({
            "kind": post["kind"], "recipient_slack_id": post["recipient"], "workspace_id": post.get("workspace_id"),
            "event_id": post.get("event_id"), "subject_id": post.get("subject_id"), "payload": post.get("payload"),
            "dedupe_key": post.get("dedupe_key"), "coalesce_key": post.get("coalesce_key"), "due_at": due,
            "next_attempt_at": due, "status": DeliveryStatus.PENDING.value, "attempts": 0, "in_doubt": False,
            "created_at": now,
        })
    if not rows:
        return []
    statement = _insert(session)(Delivery.__table__).on_conflict_do_nothing().returning(Delivery.__table__.c.id)
    if len(rows) == 1:
        added = [session.execute(statement.values(**rows[0])).scalar()]
    else:
        # SQLAlchemy sends these as multi-row VALUES, as many rows a statement as the driver takes.
        added = list(session.execute(statement, rows).scalars())
    added = [row_id for row_id in added if row_id is not None]
    if added and any(row["due_at"] <= now for row in rows):
        wake_senders(session)  # a row due later is found by the sender's own timer
    return added


def _insert(session: Session) -> Callable[..., Any]:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def notice(session: Session, *, recipient: str, message: Any, now: datetime, workspace_id: int | None = None,
           event_id: int | None = None, dedupe_key: str | None = None, thread_ts: str | None = None) -> int | None:
    """A fixed message (a `bot.slack.messages.Message`) to a channel, or to a person's DM by user ID."""
    payload: dict[str, Any] = {"text": message.text, "blocks": message.blocks}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    return enqueue(session, kind=NOTICE, recipient=recipient, now=now, workspace_id=workspace_id,
                   event_id=event_id, payload=payload, dedupe_key=dedupe_key)


# Senders in this process are woken as soon as a transaction that enqueued something commits,
# instead of at their next poll: a question's card follows its ack within moments.
_ENQUEUED = "eventbot_outbox_enqueued"
_wakers: list[Callable[[], None]] = []
# How many transactions in this process have committed rows due at once: a sender compares it
# before and after sending, to know whether its own sends asked for more (an organiser told).
_enqueued_so_far = 0
_enqueued_lock = threading.Lock()


def enqueued_so_far() -> int:
    return _enqueued_so_far


def wake_senders(session: Session) -> None:
    """Rows were added in this transaction: senders in this process start once it commits."""
    session.info[_ENQUEUED] = True


def wake_on_enqueue(callback: Callable[[], None]) -> None:
    _wakers.append(callback)


def stop_waking(callback: Callable[[], None]) -> None:
    if callback in _wakers:
        _wakers.remove(callback)


@event.listens_for(Session, "after_commit")
def _wake_senders(session: Session) -> None:
    if session.info.pop(_ENQUEUED, False):
        global _enqueued_so_far
        with _enqueued_lock:
            _enqueued_so_far += 1
        for callback in list(_wakers):
            callback()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_ENQUEUED, None)


# --- what a kind says about a row --------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """Where a row goes and what it says, or why it should not (or not yet) be sent."""

    channel: str  # a conversation ID, or a user ID for that person's DM with the app
    message: Message | None = None
    thread_ts: str | None = None
    update_ts: str | None = None  # redraw this message (chat.update) instead of posting a new one
    skip: str | None = None  # a reason not to send it at all
    later: float | None = None  # seconds to wait: it depends on something not posted yet
    # A Home tab to publish for the user `channel` names (views.publish) instead of a message.
    view: dict[str, Any] | None = None


class Kind(Protocol):
    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        """Render the row from the database as it is now."""

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        """Record the posted message on the kind's own rows (same transaction as marking it sent)."""

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        """A permanent failure: tell whoever can act (same transaction as marking it failed)."""


# --- claiming ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A claimed row with what its kind needs to send it."""

    delivery_id: int
    claim: str  # our claimed_by value for this row
    claimed_until: datetime
    kind: str
    recipient: str
    workspace_id: int | None
    event_id: int | None
    reminder_id: int | None
    subject_id: int | None
    payload: dict[str, Any] | None
    due_at: datetime
    attempts: int  # including this one
    in_doubt: bool  # an earlier attempt may have reached Slack: look before sending


_claim_counter = itertools.count(1)


def _claimable(now: datetime) -> Any:
    return and_(
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.next_attempt_at <= now,
        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now),
    )


def claim(session: Session, *, worker: str, now: datetime, limit: int = 1,
          lease_seconds: int = LEASE_SECONDS) -> list[Claimed]:
    """Claim up to `limit` due rows for `worker`; nobody else can claim them until the lease ends."""
    claimable = _claimable(now)
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
    rows = session.scalars(
        select(Delivery).where(Delivery.id.in_(claimed_ids)).order_by(Delivery.id)
        .execution_options(populate_existing=True)
    ).all()
    return [
        Claimed(
            delivery_id=row.id, claim=tag, claimed_until=until, kind=row.kind, recipient=row.recipient_slack_id,
            workspace_id=row.workspace_id, event_id=row.event_id, reminder_id=row.reminder_id,
            subject_id=row.subject_id, payload=row.payload, due_at=row.due_at, attempts=row.attempts,
            in_doubt=row.in_doubt,
        )
        for row in rows
    ]


def due_count(session: Session, *, now: datetime, at_most: int) -> int:
    """How many rows are due, counting no further than `at_most` (enough to size a pass)."""
    due = select(Delivery.id).where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
    return session.scalar(select(func.count()).select_from(due.limit(at_most).subquery())) or 0


def next_due(session: Session) -> datetime | None:
    """When the earliest pending row falls due, so an idle sender knows how long it may sleep."""
    return session.scalar(
        select(Delivery.next_attempt_at).where(Delivery.status == DeliveryStatus.PENDING)
        .order_by(Delivery.next_attempt_at).limit(1))


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
        logger.info("took back %d outbox rows claimed by stopped processes (%s)", released, ", ".join(dead))
    return released


def release_claims_of(session: Session, holder: str, now: datetime) -> int:
    """Make the rows claimed by a process that lost the scheduler lease claimable at once.

    Its lease ran out because it stopped renewing: a process on another host that died or lost
    the database. Waiting out its claims would delay their posts by up to `LEASE_SECONDS`; taking
    them back leaves them marked as claimed, so the next claimer looks for each post before
    sending it, and a process that was only slow does not post twice.
    """
    released = session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.claimed_until > now,
               Delivery.claimed_by.startswith(f"{holder}#", autoescape=True))
        .values(claimed_until=now)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    if released:
        logger.info("took back %d outbox rows claimed by %s, whose scheduler lease ran out", released, holder)
    return released


def unsent_before(session: Session, item: Claimed, *, kinds: Iterable[str]) -> bool:
    """Whether an older row of these kinds for the same event has not gone out yet.

    Kinds whose posts must appear in order (an event's run of show) wait for it.
    """
    if item.event_id is None:
        return False
    return bool(session.scalar(select(exists().where(
        Delivery.event_id == item.event_id, Delivery.kind.in_(list(kinds)), Delivery.id < item.delivery_id,
        Delivery.status == DeliveryStatus.PENDING))))


def posts_in_flight(session: Session, *, channel_id: str, kind: str) -> bool:
    """Whether a post of this kind to this channel may be in Slack already without its ts recorded
    here yet (claimed and being sent, or in doubt): a reply in its thread could not be recognised yet."""
    return bool(session.scalar(select(exists().where(
        Delivery.recipient_slack_id == channel_id, Delivery.kind == kind, Delivery.status == DeliveryStatus.PENDING,
        or_(Delivery.claimed_by.is_not(None), Delivery.in_doubt.is_(True))))))


def pending_of(session: Session, *, kind: str, subject_id: int) -> bool:
    """Whether a row of this kind about this subject has still to go out."""
    return bool(session.scalar(select(exists().where(
        Delivery.kind == kind, Delivery.subject_id == subject_id, Delivery.status == DeliveryStatus.PENDING))))


# --- recording outcomes ----------------------------------------------------------------------------


def rendering(session: Session, item: Claimed) -> None:
    """A coalesced row is being rendered now: a change from here on asks for a row of its own."""
    session.execute(update(Delivery).where(Delivery.id == item.delivery_id).values(coalesce_key=None)
                    .execution_options(synchronize_session=False))


def _finish(session: Session, item: Claimed, **values: Any) -> bool:
    """Record an outcome, if the claim is still ours; clears the claim."""
    done = session.execute(
        update(Delivery)
        .where(Delivery.id == item.delivery_id, Delivery.claimed_by == item.claim)
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        logger.warning("outbox row %s was reclaimed by another sender before its outcome was recorded",
                       item.delivery_id)
    return bool(done)


def mark_sent(session: Session, item: Claimed, *, ts: str, sent_at: datetime) -> bool:
    """`sent_at`: when the call that made the post went out, which is when Slack counts it against
    the method's rate limit (card redraws are paced by it), not when it came back."""
    return _finish(session, item, status=DeliveryStatus.SENT, sent_at=sent_at, message_ts=ts or None, in_doubt=False,
                   last_error=None, coalesce_key=None)


def mark_skipped(session: Session, item: Claimed, *, reason: str) -> bool:
    return _finish(session, item, status=DeliveryStatus.SKIPPED, last_error=reason, in_doubt=False,
                   coalesce_key=None)


def mark_failed(session: Session, item: Claimed, *, error: str, in_doubt: bool = False) -> bool:
    return _finish(session, item, status=DeliveryStatus.FAILED, last_error=error[:255], in_doubt=in_doubt,
                   coalesce_key=None)


def retry_later(session: Session, item: Claimed, *, error: str, at: datetime, in_doubt: bool) -> bool:
    return _finish(session, item, status=DeliveryStatus.PENDING, last_error=error[:255], next_attempt_at=at,
                   in_doubt=in_doubt)


def put_back(session: Session, item: Claimed, *, resolved: bool, at: datetime | None = None) -> bool:
    """Release a claim that made no attempt (rate limited, not enough lease left, not ready, shutting down).

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
    """A phrase for organisers: what a row's last error means."""
    if not code:
        return "unknown error"
    if code in PERMANENT_ERRORS:
        return f"{PERMANENT_ERRORS[code]} ({code})"
    return code


def cancel_pending(session: Session, *, workspace_id: int, reason: str) -> int:
    """Stop every unsent post of a workspace (eventbot was uninstalled there).

    Rows a sender has claimed are stopped too, since the token they would be sent with is dead;
    their claim stays, so a sender half-way through a send still records what really happened.
    """
    return session.execute(
        update(Delivery)
        .where(Delivery.workspace_id == workspace_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, last_error=reason, coalesce_key=None)
        .execution_options(synchronize_session=False)
    ).rowcount or 0

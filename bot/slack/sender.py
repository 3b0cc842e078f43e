"""The outbox's Slack side: senders that claim due rows, post them once, and record what happened.

See bot/outbox.py for the rows and their claims. Each row's `kind` names a `Kind` that a domain
provides: it renders the message from the database as it is at send time (a card shows the
votes it has now), says where it goes, and records the result on its own rows. The composition
root hands every domain's kinds to the one `Sender` of the process.

Exactly once: between a successful `chat.postMessage` and recording it a sender can die
(`kill -9`), or the connection can drop after Slack has posted. Such a row is *in doubt*:
whoever claims it next first looks in the conversation (or the thread) for a message whose
metadata names this row, and records that message as the send instead of sending again. A
sender never starts a send with less than its send timeout plus a margin (20 s) of its 60-second
lease left, so a live sender's send is over before anyone else can reclaim the row. A redraw
(`chat.update`) needs no such look: making it twice shows the same card.

Rate limits: the sender paces its posts (`POSTS_PER_MINUTE`, EVENTBOT_POSTS_PER_MINUTE) so that a
large fan-out keeps under Slack's workspace limit instead of running into it. Slack answers 429
with Retry-After for the whole workspace's use of a method, so the sender pauses *every* thread in
the process for that long (the `Pacer`) instead of letting each call sleep and retry on its own,
and the 429ed row goes back to pending untouched.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import Database, reading, unit_of_work
from bot.errors import DatabaseUnavailable
from bot.lease import process_identity
from bot.outbox import (
    CLAIM_BATCH,
    HISTORY_PAGES,
    LEASE_MARGIN_SECONDS,
    MAX_ATTEMPTS,
    METADATA_EVENT_TYPE,
    NOTICE,
    PERMANENT_ERRORS,
    SEND_TIMEOUT_SECONDS,
    SENDER_THREADS,
    Claimed,
    Kind,
    Prepared,
    backoff,
    claim,
    due_count,
    enqueued_so_far,
    mark_failed,
    mark_sent,
    mark_skipped,
    next_due,
    put_back,
    release_dead_claims,
    retry_later,
    stop_waking,
    wake_on_enqueue,
)
from bot.slack.dm import dm_channel
from bot.slack.messages import Message

logger = logging.getLogger(__name__)

# An idle sender still looks at the outbox this often: rows written by other processes, retries
# that fall due, and rows left by a sender that died.
POLL_SECONDS = 2.0
# How often a sender looks for claims left by processes that died on this machine.
RECLAIM_EVERY_SECONDS = 5.0
# A row told to wait no longer than this waits in its sender thread, and is prepared again (a few
# times at most). Put back, it was claimed again only after the sender's next wake-up, later than
# asked: a redraw a moment early then made the next one early too, and so on for a whole burst
# (bench/qa_burst.py on PostgreSQL: a put-back and a second claim for each of 36 redraws).
WAIT_IN_PLACE_SECONDS = 0.25
WAITS_IN_PLACE = 3
# How often a post Slack made is recorded again while the database does not answer.
RECORD_RETRY_SECONDS = 1.0


# --- the kind every domain can use ------------------------------------------------------------


class Notice:
    """A message fixed when the row was written: DMs to askers, presenters and organisers."""

    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        payload = item.payload or {}
        return Prepared(channel=item.recipient, thread_ts=payload.get("thread_ts"),
                        message=Message(text=payload.get("text") or "", blocks=payload.get("blocks") or []))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        # A private word that cannot be delivered (a deactivated account) is told to nobody else:
        # telling organisers of every one would bury what they need to act on.
        logger.info("notice %s to %s could not be delivered: %s", item.delivery_id, item.recipient, error)


# --- what Slack said ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackOutcome:
    kind: str  # "ratelimited", "permanent" or "transient"
    error: str
    in_doubt: bool = False  # Slack may have acted on the call despite the error
    retry_after: float = 0.0


def classify(error: Exception) -> SlackOutcome:
    """Sort a failed Slack call into the error table's kinds."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", 200) or 200
        code = str(response.get("error") or f"http_{status}")
        if status == 429 or code == "ratelimited":
            return SlackOutcome("ratelimited", "ratelimited", retry_after=_retry_after(response))
        if status >= 500:
            return SlackOutcome("transient", f"{code} (HTTP {status})", in_doubt=True)
        if code in PERMANENT_ERRORS:
            return SlackOutcome("permanent", code)
        return SlackOutcome("transient", code)
    if isinstance(error, (OSError, http.client.HTTPException)):
        # Timeouts, refused or dropped connections: the request may or may not have been handled.
        return SlackOutcome("transient", f"no_response ({type(error).__name__})", in_doubt=True)
    raise error


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                break
    return 1.0


# --- sending -----------------------------------------------------------------------------------


# Slack allows an app "several hundred messages per minute" across a workspace (besides about one
# a second in any one channel): a sender keeps under it by itself rather than learning it from 429s,
# each of which stops every thread for a whole Retry-After second.
POSTS_PER_MINUTE = 600
# Posts a quiet sender may make at once before the pace applies (a card after a lone question waits
# for nothing): one second's worth, as Slack's own bucket allows, less one, which stays in Slack's
# bucket for a post that arrives a little early (threads and the network do not keep exact time).
POST_BURST_SECONDS = 1.0


class Pacer:
    """One pace for the whole process: chat.postMessage at most `posts_per_minute` (a token bucket
    of one second's worth), and a 429's Retry-After holding every sender thread back."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 posts_per_minute: float = POSTS_PER_MINUTE) -> None:
        self._clock = clock
        self._resume_at = 0.0
        self._lock = threading.Lock()
        self.pauses = 0
        self._rate = posts_per_minute / 60.0
        self._capacity = max(1.0, self._rate * POST_BURST_SECONDS - 1.0)
        self._tokens = self._capacity
        self._updated = clock()
        self.post_waits = 0  # posts that waited for their turn

    def pause(self, seconds: float) -> None:
        with self._lock:
            resume = self._clock() + seconds
            if resume > self._resume_at:
                self._resume_at = resume
                self.pauses += 1

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._resume_at - self._clock())

    def wait(self, stopping: threading.Event) -> None:
        while (delay := self.remaining()) > 0 and not stopping.is_set():
            stopping.wait(min(delay, 0.25))

    def take_post_turn(self, stopping: threading.Event) -> None:
        """Wait for this post's turn under the pace. A turn is taken at once (the bucket may go below
        zero), so threads waiting together leave one after another, evenly spaced."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1.0
            delay = 0.0 if self._tokens >= 0 else -self._tokens / self._rate
            if delay:
                self.post_waits += 1
        if delay:
            stopping.wait(delay)


@dataclass
class DeliveryRun:
    """What one pass of `Sender.deliver_due` did."""

    sent: int = 0
    recovered: int = 0  # in-doubt rows found already posted, recorded without sending again
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


def sender_client(client: WebClient, *, timeout: int = SEND_TIMEOUT_SECONDS) -> WebClient:
    """A sibling of the app's client without automatic retries: the outbox decides what is retried.

    An automatic retry after a 5xx or a dropped connection could post a second copy; a per-call
    429 sleep would let every thread wait on its own. Both are handled here instead.
    """
    return WebClient(token=client.token, base_url=client.base_url, timeout=timeout, retry_handlers=[],
                     headers=dict(client.headers or {}))


class Sender:
    """Sends due outbox rows from several threads; one per process, shared by every pass."""

    def __init__(
        self,
        database: Database,
        client: WebClient,
        kinds: Mapping[str, Kind],
        *,
        identity: str | None = None,
        threads: int = SENDER_THREADS,
        batch: int = CLAIM_BATCH,
        clock: Callable[[], datetime] = utcnow,
        pacer: Pacer | None = None,
        client_for: Callable[[int | None], WebClient] | None = None,
        posts_per_minute: float = POSTS_PER_MINUTE,
    ) -> None:
        self.database = database
        self.client = sender_client(client)
        # Distributed, each row goes out with its own workspace's token.
        self.client_for = client_for
        self._clients: dict[str | None, WebClient] = {}
        self._clients_lock = threading.Lock()
        self.kinds: dict[str, Kind] = {NOTICE: Notice(), **kinds}
        self.identity = identity or process_identity()
        self.threads = threads
        self.batch = batch
        self.clock = clock
        self.pacer = pacer or Pacer(posts_per_minute=posts_per_minute)
        self.stopping = threading.Event()
        self._pass_lock = threading.Lock()
        self._wake = threading.Event()
        self._loop: threading.Thread | None = None
        self._next_reclaim = 0.0

    # -- running on its own ---------------------------------------------------------------------

    def start(self) -> None:
        """Send in the background: at once when this process enqueues, and every POLL_SECONDS."""
        if self._loop is not None:
            return
        wake_on_enqueue(self.kick)
        self._loop = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self._loop.start()

    def kick(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self._wake.clear()
            try:
                self.deliver_due()
            except DatabaseUnavailable:
                pass  # said once by the database layer; the next pass retries
            except Exception:
                logger.exception("the outbox pass failed; the next one retries")
            self._wake.wait(self._idle_seconds())

    def _idle_seconds(self) -> float:
        try:
            with unit_of_work(self.database) as session:
                due = next_due(session)
        except Exception:
            return POLL_SECONDS
        if due is None:
            return POLL_SECONDS
        return min(POLL_SECONDS, max(0.05, (due - self.clock()).total_seconds()))

    def stop(self) -> None:
        """Stop claiming; sends in flight finish and are recorded."""
        self.stopping.set()
        self._wake.set()
        stop_waking(self.kick)
        if self._loop is not None and self._loop is not threading.current_thread():
            self._loop.join(timeout=SEND_TIMEOUT_SECONDS + 5)

    def busy(self) -> bool:
        """Whether a pass is sending right now."""
        return self._pass_lock.locked()

    # -- one pass ----------------------------------------------------------------------------------

    def deliver_due(self) -> DeliveryRun:
        """Send everything due now, then return. Safe alongside other passes and other processes."""
        run = DeliveryRun()
        if self.stopping.is_set() or not self._pass_lock.acquire(blocking=False):
            return run
        try:
            with reading(self.database) as session:
                due = due_count(session, now=self.clock(), at_most=self.threads * self.batch)
            if not due:
                return run
            if time.monotonic() >= self._next_reclaim:
                # Claims of processes that died on this machine come back at once, not at every pass.
                self._next_reclaim = time.monotonic() + RECLAIM_EVERY_SECONDS
                with unit_of_work(self.database) as session:
                    release_dead_claims(session, now=self.clock())
            # As many threads as the rows due need: a card after a question is one thread, not eight,
            # and that one is this thread (a pass per card in a burst of questions).
            wanted = min(self.threads, -(-due // self.batch))
            workers = [threading.Thread(target=self._work, args=(run,), name=f"outbox-sender-{n}", daemon=True)
                       for n in range(1, wanted)]
            for worker in workers:
                worker.start()
            self._work(run)
            for worker in workers:
                worker.join()
        finally:
            self._pass_lock.release()
        if run.sent or run.failed or run.recovered:
            logger.info("outbox: %s", run)
        return run

    def _work(self, run: DeliveryRun) -> None:
        while not self.stopping.is_set():
            self.pacer.wait(self.stopping)
            if self.stopping.is_set():
                return
            enqueued = enqueued_so_far()
            try:
                with unit_of_work(self.database) as session:
                    items = claim(session, worker=self.identity, now=self.clock(), limit=self.batch)
            except DatabaseUnavailable:
                return  # the next pass retries
            except Exception:
                logger.exception("could not claim outbox rows; the next pass retries")
                return
            if not items:
                return
            for item in items:
                self.pacer.wait(self.stopping)
                try:
                    if self.stopping.is_set():  # shutting down: hand unsent claims back untouched
                        with unit_of_work(self.database) as session:
                            put_back(session, item, resolved=False)
                        continue
                    self.process(item, run)
                except DatabaseUnavailable:
                    # The row stays claimed and will be treated as in doubt when its lease ends.
                    logger.warning("outbox row %s waits for the database", item.delivery_id)
                except Exception:
                    logger.exception("outbox row %s failed unexpectedly", item.delivery_id)
            if len(items) < self.batch and enqueued_so_far() == enqueued:
                # Nothing else was due when these were claimed, and nothing due at once was added
                # here since: claiming again would find nothing, at the cost of a write transaction
                # per pass on the GIL a burst's acknowledgements need. Rows that fall due later are
                # the next pass's.
                return

    def _client(self, item: Claimed) -> WebClient:
        if self.client_for is None:
            return self.client
        token = self.client_for(item.workspace_id).token
        with self._clients_lock:
            if token not in self._clients:
                self._clients[token] = sender_client(self.client_for(item.workspace_id))
            return self._clients[token]

    # One row, start to finish. Public so tests can drive a single row.
    def process(self, item: Claimed, run: DeliveryRun | None = None) -> str:
        run = run or DeliveryRun()
        kind = self.kinds.get(item.kind)
        if kind is None:
            # Written by a newer version of eventbot that knows this kind; leave it to that one.
            with unit_of_work(self.database) as session:
                put_back(session, item, resolved=False, at=self.clock() + timedelta(minutes=5))
            logger.warning("outbox row %s has a kind this process does not know: %s", item.delivery_id, item.kind)
            return "put_back"
        prepared = self._prepare(kind, item)
        if prepared is None:
            return "later"
        # A redraw or a Home tab made twice shows the same thing: no need to look for the first.
        if item.in_doubt and prepared.update_ts is None and prepared.view is None:
            try:
                ts = self._find_sent(item, prepared)
            except Exception as error:
                return self._failed_call(kind, item, error, run, self.clock(), in_doubt=True)
            if ts is not None:
                self._record_sent(kind, item, ts, prepared, sent_at=self.clock())
                run.add("recovered")
                return "recovered"
        if prepared.skip is not None or (prepared.message is None and prepared.view is None):
            with unit_of_work(self.database) as session:
                mark_skipped(session, item, reason=prepared.skip or "nothing to say")
            run.add("skipped")
            return "skipped"
        if (item.claimed_until - self.clock()).total_seconds() < SEND_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS:
            with unit_of_work(self.database) as session:
                put_back(session, item, resolved=True)
            return "put_back"
        if prepared.update_ts is None:
            self.pacer.take_post_turn(self.stopping)
        sent_at = self.clock()
        try:
            ts = self._send(item, prepared)
        except Exception as error:
            return self._failed_call(kind, item, error, run, self.clock(), in_doubt=False)
        self._record_sent(kind, item, ts, prepared, sent_at=sent_at)
        run.add("sent")
        return "sent"

    def _prepare(self, kind: Kind, item: Claimed) -> Prepared | None:
        """The row ready to send now; None if it was put back to wait for its time."""
        waited = 0
        while True:
            with unit_of_work(self.database) as session:
                prepared = kind.prepare(session, item, self.clock())
                wait = prepared.later
                in_place = (wait is not None and wait <= WAIT_IN_PLACE_SECONDS and waited < WAITS_IN_PLACE
                            and not self.stopping.is_set())
                if wait is not None and not in_place:
                    # In the same transaction: in a burst most redraws are told to wait for their turn.
                    put_back(session, item, resolved=False, at=self.clock() + timedelta(seconds=wait))
            if wait is None:
                return prepared
            if not in_place:
                return None
            waited += 1
            self.stopping.wait(wait)

    def _record_sent(self, kind: Kind, item: Claimed, ts: str, prepared: Prepared, *, sent_at: datetime) -> None:
        """Record a post Slack made. The ts is known only here, so a database that does not answer
        is tried again until the claim runs out, rather than leaving the post in doubt: replies in
        its thread are recognised only once its ts is recorded."""
        permalink = self._permalink(item, prepared.channel, ts) if hasattr(kind, "permalinked") else None
        while True:
            try:
                with unit_of_work(self.database) as session:
                    if mark_sent(session, item, ts=ts, sent_at=sent_at):
                        kind.sent(session, item, ts)
                        if permalink:
                            kind.permalinked(session, item, permalink)  # type: ignore[attr-defined]
                return
            except DatabaseUnavailable:
                if item.claimed_until <= utcnow() or self.stopping.is_set():
                    raise  # whoever claims it next finds the post by its metadata
                time.sleep(RECORD_RETRY_SECONDS)

    def _permalink(self, item: Claimed, channel: str, ts: str) -> str | None:
        """A link to the post, for kinds that keep one (chat.getPermalink, Tier 4); none if Slack will not say."""
        try:
            return str(self._client(item).chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except (SlackApiError, OSError, KeyError) as error:
            logger.info("no permalink for %s in %s: %s", ts, channel, error)
            return None

    def _send(self, item: Claimed, prepared: Prepared) -> str:
        if prepared.view is not None:
            self.client.views_publish(user_id=prepared.channel, view=prepared.view)
            return ""  # a view has no ts; nothing is recorded against it
        assert prepared.message is not None
        client = self._client(item)
        if prepared.update_ts is not None:
            client.chat_update(channel=prepared.channel, ts=prepared.update_ts, **prepared.message.as_post())
            return prepared.update_ts
        response = client.chat_postMessage(
            channel=prepared.channel, thread_ts=prepared.thread_ts, **prepared.message.as_post(),
            metadata={"event_type": METADATA_EVENT_TYPE,
                      "event_payload": {"delivery_id": item.delivery_id, "kind": item.kind}},
            unfurl_links=False,
        )
        return str(response["ts"])

    def _failed_call(self, kind: Kind, item: Claimed, error: Exception, run: DeliveryRun, now: datetime, *,
                     in_doubt: bool) -> str:
        outcome = classify(error)
        with unit_of_work(self.database) as session:
            if outcome.kind == "ratelimited":
                self.pacer.pause(outcome.retry_after)
                run.add("rate_limited")
                if in_doubt:  # the history check was limited: the doubt stands, look again later
                    retry_later(session, item, error="ratelimited", in_doubt=True,
                                at=now + timedelta(seconds=outcome.retry_after))
                else:
                    put_back(session, item, resolved=True)  # Slack did not post it
                return "rate_limited"
            doubt = in_doubt or outcome.in_doubt
            if outcome.kind == "permanent":
                # A permanent error while checking history leaves the earlier attempt in doubt.
                if mark_failed(session, item, error=outcome.error, in_doubt=in_doubt):
                    kind.failed(session, item, outcome.error, now)
                logger.info("outbox row %s (%s) to %s failed for good: %s", item.delivery_id, item.kind,
                            item.recipient, outcome.error)
                run.add("failed")
                return "failed"
            if item.attempts >= MAX_ATTEMPTS:
                if mark_failed(session, item, error=outcome.error, in_doubt=doubt):
                    kind.failed(session, item, outcome.error, now)
                logger.warning("outbox row %s (%s) to %s failed after %d attempts: %s", item.delivery_id,
                               item.kind, item.recipient, item.attempts, outcome.error)
                run.add("failed")
                return "failed"
            retry_later(session, item, error=outcome.error, at=now + backoff(item.attempts), in_doubt=doubt)
        run.add("retried")
        return "retried"

    def _find_sent(self, item: Claimed, prepared: Prepared) -> str | None:
        """The ts of a message already posted for this row, if an earlier attempt got through."""
        client = self._client(item)
        channel = prepared.channel
        if channel[:1] in ("U", "W"):
            channel = dm_channel(client, user_id=channel)
        # Newest first, and no `oldest` bound: the attempt was recent, and our clock and Slack's
        # need not agree. A reply is only found in its thread.
        if prepared.thread_ts:
            pages = client.conversations_replies(channel=channel, ts=prepared.thread_ts, limit=200,
                                                      include_all_metadata=True)
        else:
            pages = client.conversations_history(channel=channel, limit=200, include_all_metadata=True)
        for page in itertools.islice(pages, HISTORY_PAGES):
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == METADATA_EVENT_TYPE and payload.get("delivery_id") == item.delivery_id:
                    return str(message["ts"])
        return None

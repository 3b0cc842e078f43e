"""The reminder outbox: fan-out, claims, sending once, errors, rate limits, in-doubt sends, the scheduler lease."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import lease as scheduler_lease
from bot import outbox
from bot.app import outbox_kinds
from bot.clock import utcnow
from bot.db import Database, unit_of_work
from bot.lease import SchedulerSingleton
from bot.models import Delivery, DeliveryStatus, Reminder, ReminderAudience, ReminderStatus
from bot.reminders import deliveries
from bot.slack.client import make_web_client
from bot.slack.messages import Message
from bot.slack.sender import Sender
from tests.apprunner import BOT_TOKEN
from tests.conftest import BACKENDS
from tests.reminder_world import (
    CHANNEL,
    ORGANISER,
    add_reminder,
    attendee_ids,
    deliver,
    double,
    make_event,
    plan,
    populate,
    reminder_status,
    rows,
    utc,
)
from tests.slackdouble import SlackDouble

CLOSE = utc(2031, 3, 3, 16, 0)
PEOPLE = attendee_ids(6)


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    slack = double().start()
    populate(slack, PEOPLE)
    yield slack
    assert slack.internal_errors == []
    slack.stop()


@pytest.fixture
def client(slack: SlackDouble) -> WebClient:
    return make_web_client(token=BOT_TOKEN, base_url=slack.api_url)


@pytest.fixture
def reminder_id(database: Database) -> int:
    event_id = make_event(database, attendees=PEOPLE, ends_at=CLOSE)
    return add_reminder(database, event_id, due_at=CLOSE)


def dm_count(slack: SlackDouble, user: str) -> int:
    return len(slack.dms(user))


def posts_to(slack: SlackDouble, user: str) -> list:
    return [c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == user]


def dead_identity() -> str:
    """The identity of a process on this machine that has exited."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    host, namespace, _, _ = scheduler_lease.process_identity().split(":")
    return f"{host}:{namespace}:{gone.pid}:12345"


# --- fan-out and sending once -------------------------------------------------------------------


def test_each_recipient_gets_one_dm_and_its_row_says_so(
    database: Database, client: WebClient, slack: SlackDouble, reminder_id: int
) -> None:
    assert plan(database, client, CLOSE - timedelta(seconds=1)).fanned_out == []
    assert plan(database, client, CLOSE).fanned_out == [reminder_id]
    assert plan(database, client, CLOSE + timedelta(seconds=5)).fanned_out == []  # once
    run = deliver(database, client, CLOSE + timedelta(seconds=5))
    assert run.sent == len(PEOPLE)
    deliver(database, client, CLOSE + timedelta(seconds=10))
    plan(database, client, CLOSE + timedelta(seconds=10))
    assert reminder_status(database, reminder_id) == ReminderStatus.SENT
    for person in PEOPLE:
        assert dm_count(slack, person) == 1
        dm = slack.dms(person)[0]
        assert "evaluation" in dm["text"] and dm["metadata"]["event_type"] == "eventbot_post"
        assert "a=1&amp;b=2" in dm["text"]  # escaped as Slack asks
    for row in rows(database, reminder_id):
        assert (row.status, row.attempts, row.in_doubt, row.claimed_by) == (DeliveryStatus.SENT, 1, False, None)
        assert row.message_ts and row.sent_at == CLOSE + timedelta(seconds=5)
    # Fanning out again (two schedulers by mistake, a crash before the reminder was marked) adds nobody twice.
    with unit_of_work(database) as session:
        again = [(person, CLOSE) for person in PEOPLE] + [("U0LATECOMER", CLOSE)]
        assert deliveries.fan_out(session, reminder_id=reminder_id, recipients=again) == 1
    assert len(rows(database, reminder_id)) == len(PEOPLE) + 1


def test_concurrent_claimers_never_share_a_row(database: Database, reminder_id: int) -> None:
    with unit_of_work(database) as session:
        deliveries.fan_out(session, reminder_id=reminder_id,
                           recipients=[(f"U0MANY{n:05d}", CLOSE) for n in range(120)])
    claimed: list[list[int]] = [[] for _ in range(6)]

    def claimer(n: int) -> None:
        while True:
            with unit_of_work(database) as session:
                items = outbox.claim(session, worker=f"worker-{n}", now=CLOSE, limit=3)
            if not items:
                return
            claimed[n].extend(item.delivery_id for item in items)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [delivery_id for ids in claimed for delivery_id in ids]
    assert len(every) == len(set(every)) == 120
    assert sum(1 for ids in claimed if ids) > 1  # they really ran side by side


if "postgresql" in BACKENDS:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_postgresql_claimers_skip_rows_locked_by_another_claim(
        database: Database, reminder_id: int
    ) -> None:
        with unit_of_work(database) as session:
            deliveries.fan_out(session, reminder_id=reminder_id, recipients=[("U0FIRST", CLOSE), ("U0SECOND", CLOSE)])
        first = database()
        first.begin()
        try:
            held = outbox.claim(first, worker="slow", now=CLOSE)  # still uncommitted: its row stays locked
            started = time.monotonic()
            with unit_of_work(database) as session:
                other = outbox.claim(session, worker="fast", now=CLOSE, limit=5)
            assert time.monotonic() - started < 2  # skipped the locked row instead of waiting for it
            assert [i.recipient for i in held] == ["U0FIRST"] and [i.recipient for i in other] == ["U0SECOND"]
        finally:
            first.rollback()
            first.close()


# --- errors ------------------------------------------------------------------------------------------


def test_permanent_errors_are_recorded_once_and_never_retried(
    database: Database, client: WebClient, slack: SlackDouble, reminder_id: int
) -> None:
    channel_reminder = add_reminder(database, _event_of_reminder(database, reminder_id), due_at=CLOSE,
                                    audience=ReminderAudience.CHANNEL, only_incomplete=False)
    plan(database, client, CLOSE)
    slack.deactivate_user(PEOPLE[-1])  # after the fan-out looked them up
    slack.archive_channel(CHANNEL)
    slack.fail_next("chat.postMessage", 1, mode="error", error="account_inactive")
    run = deliver(database, client, CLOSE, threads=1)
    # Every DM but two, and one more: the organiser is told the channel post could not be made.
    assert (run.failed, run.sent) == (3, len(PEOPLE) - 2 + 1)
    [told] = slack.dms(ORGANISER)
    assert "could not post the evaluation reminder" in told["text"] and "archived" in str(told["blocks"])
    failed = {r.recipient_slack_id: r.last_error for r in rows(database) if r.status == DeliveryStatus.FAILED}
    assert failed.pop(PEOPLE[-1]) == "channel_not_found"
    assert failed.pop(CHANNEL) == "is_archived"
    assert list(failed.values()) == ["account_inactive"]
    assert all(r.attempts == 1 for r in rows(database) if r.status == DeliveryStatus.FAILED)
    calls = len(slack.calls_to("chat.postMessage"))
    deliver(database, client, CLOSE + timedelta(hours=1))
    assert len(slack.calls_to("chat.postMessage")) == calls  # not retried
    plan(database, client, CLOSE + timedelta(hours=1))
    assert reminder_status(database, reminder_id) == reminder_status(database, channel_reminder) == ReminderStatus.SENT


def _event_of_reminder(database: Database, reminder_id: int) -> int:
    with unit_of_work(database) as session:
        return session.get_one(Reminder, reminder_id).event_id


def test_transient_errors_are_retried_with_backoff_and_sent_once(
    database: Database, client: WebClient, slack: SlackDouble
) -> None:
    event_id = make_event(database, attendees=[PEOPLE[0]], ends_at=CLOSE)
    reminder_id = add_reminder(database, event_id, due_at=CLOSE)
    plan(database, client, CLOSE)
    slack.fail_next("chat.postMessage", 2, mode="http_500")
    assert deliver(database, client, CLOSE).retried == 1
    row = rows(database, reminder_id)[0]
    assert row.status == DeliveryStatus.PENDING and row.in_doubt  # a 5xx: Slack may have posted it
    assert timedelta(seconds=3) <= row.next_attempt_at - CLOSE <= timedelta(seconds=7)
    assert deliver(database, client, CLOSE + timedelta(seconds=2)).retried == 0  # not yet due again
    history_before = len(slack.calls_to("conversations.history"))
    assert deliver(database, client, CLOSE + timedelta(seconds=8)).retried == 1
    assert len(slack.calls_to("conversations.history")) == history_before + 1  # looked before sending again
    assert deliver(database, client, CLOSE + timedelta(minutes=5)).sent == 1
    row = rows(database, reminder_id)[0]
    assert (row.status, row.attempts, row.in_doubt) == (DeliveryStatus.SENT, 3, False)
    assert dm_count(slack, PEOPLE[0]) == 1


def test_transient_errors_are_not_retried_for_ever(
    database: Database, client: WebClient, slack: SlackDouble, reminder_id: int
) -> None:
    plan(database, client, CLOSE)
    slack.fail_share("chat.postMessage", 1.0, mode="error", error="internal_error")
    now = CLOSE
    for _ in range(outbox.MAX_ATTEMPTS + 2):
        deliver(database, client, now)
        now += timedelta(minutes=16)
    for row in rows(database, reminder_id):
        assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.FAILED, outbox.MAX_ATTEMPTS,
                                                              "internal_error")


# --- rate limits -----------------------------------------------------------------------------------


def test_a_rate_limited_fan_out_is_all_delivered_paced_by_retry_after(
    database: Database, client: WebClient, slack: SlackDouble
) -> None:
    many = attendee_ids(20, prefix="U0RATED")
    for n, person in enumerate(many):
        slack.add_user(person, f"rated{n}")
        slack.add_member(CHANNEL, person)
    event_id = make_event(database, attendees=many, ends_at=CLOSE)
    reminder_id = add_reminder(database, event_id, due_at=CLOSE)
    slack.rate_limit("chat.postMessage", per="workspace", calls=8, period=1)
    plan(database, client, CLOSE)
    sender = Sender(database, client, outbox_kinds(), clock=lambda: CLOSE, threads=4)
    started = time.monotonic()
    run = sender.deliver_due()
    elapsed = time.monotonic() - started
    assert run.sent == len(rows(database, reminder_id)) == len(many)
    assert all(dm_count(slack, person) == 1 for person in many)
    assert elapsed >= (len(many) - 8) / 8 - 0.5  # the limit was really in force
    limited = [c for c in slack.calls_to("chat.postMessage") if c.status == 429]
    # The whole process waits after a 429: at most one refused call per thread per pause.
    assert limited and len(limited) <= 4 * sender.pacer.pauses
    assert all(r.attempts == 1 for r in rows(database, reminder_id))  # a 429 is not an attempt


# --- sends in doubt -----------------------------------------------------------------------------------


def test_a_send_that_reached_slack_before_its_worker_died_is_not_sent_again(
    database: Database, client: WebClient, slack: SlackDouble, reminder_id: int
) -> None:
    plan(database, client, CLOSE)
    dead = dead_identity()
    with unit_of_work(database) as session:
        [first] = outbox.claim(session, worker=dead, now=CLOSE)
        [second] = outbox.claim(session, worker=dead, now=CLOSE)
    # The dead worker had posted the first (then died before recording it), not the second.
    client.chat_postMessage(channel=first.recipient, text="reminder",
                            metadata={"event_type": outbox.METADATA_EVENT_TYPE,
                                      "event_payload": {"delivery_id": first.delivery_id}})
    run = deliver(database, client, CLOSE + timedelta(seconds=1))  # leases still running, but the holder is dead
    assert run.recovered == 1 and run.sent == len(PEOPLE) - 1
    assert dm_count(slack, first.recipient) == 1 and dm_count(slack, second.recipient) == 1
    by_recipient = {r.recipient_slack_id: r for r in rows(database, reminder_id)}
    assert by_recipient[first.recipient].status == DeliveryStatus.SENT
    assert by_recipient[first.recipient].attempts == 2 and not by_recipient[first.recipient].in_doubt
    assert by_recipient[second.recipient].message_ts == slack.dms(second.recipient)[0]["ts"]


def test_a_claim_held_by_a_live_worker_elsewhere_waits_for_its_lease(
    database: Database, client: WebClient, slack: SlackDouble, reminder_id: int
) -> None:
    plan(database, client, CLOSE)
    with unit_of_work(database) as session:
        [held] = outbox.claim(session, worker="elsewhere:4026531836:42:99", now=CLOSE)
    deliver(database, client, CLOSE + timedelta(seconds=30))
    assert dm_count(slack, held.recipient) == 0  # still the other worker's
    history = len(slack.calls_to("conversations.history"))
    deliver(database, client, CLOSE + timedelta(seconds=outbox.LEASE_SECONDS + 1))
    assert dm_count(slack, held.recipient) == 1
    assert len(slack.calls_to("conversations.history")) == history + 1  # checked before sending


def test_a_dropped_connection_leaves_the_send_in_doubt(
    database: Database, client: WebClient, slack: SlackDouble, reminder_id: int
) -> None:
    plan(database, client, CLOSE)
    slack.fail_next("chat.postMessage", 1, mode="drop")
    assert deliver(database, client, CLOSE, threads=1).retried == 1
    [doubtful] = [r for r in rows(database, reminder_id) if r.status == DeliveryStatus.PENDING]
    assert doubtful.in_doubt and doubtful.last_error.startswith("no_response")
    deliver(database, client, CLOSE + timedelta(minutes=1))
    assert dm_count(slack, doubtful.recipient_slack_id) == 1


# --- exactly one scheduler ---------------------------------------------------------------------------------


def test_one_scheduler_holds_the_lease_and_the_others_stand_by(database: Database) -> None:
    first = SchedulerSingleton(database, identity="hostA:1:100:5")
    second = SchedulerSingleton(database, identity="hostB:1:200:6")
    assert first.renew(CLOSE) and not second.renew(CLOSE)
    assert first.renew(CLOSE + timedelta(seconds=5)) and not second.renew(CLOSE + timedelta(seconds=6))
    # The holder stops renewing (its machine went away): the lease runs out and the other takes over.
    later = CLOSE + timedelta(seconds=5 + scheduler_lease.LEASE_SECONDS + 1)
    assert second.renew(later) and not first.renew(later)
    # A clean stop hands over at once.
    with unit_of_work(database) as session:
        assert scheduler_lease.release(session, holder=second.identity, now=later)
    assert first.renew(later + timedelta(seconds=1))
    # A holder that was a process on this machine and is gone (kill -9) is replaced without waiting.
    with unit_of_work(database) as session:
        scheduler_lease.release(session, holder=first.identity, now=later)
    dead = SchedulerSingleton(database, identity=dead_identity())
    assert dead.renew(later + timedelta(seconds=2))
    me = SchedulerSingleton(database)
    assert me.renew(later + timedelta(seconds=3))
    assert not second.renew(later + timedelta(seconds=4))
    assert not scheduler_lease.is_dead_local_process(scheduler_lease.process_identity())


def test_a_standby_taking_over_the_lease_takes_back_the_old_holders_claims_at_once(
        database: Database, client: WebClient, reminder_id: int) -> None:
    """A worker on another host died holding claims: the standby that replaces it does not make its
    recipients wait out the claims' 60 s lease, and another live process's claims stay theirs."""
    elsewhere, other, standby = "hostA:1:100:5", "hostC:1:300:7", "hostB:1:200:6"
    holder = SchedulerSingleton(database, identity=elsewhere, on_take_over=outbox.release_claims_of)
    assert holder.renew(CLOSE)
    plan(database, client, CLOSE)
    with unit_of_work(database) as session:
        theirs = {item.delivery_id for item in outbox.claim(session, worker=elsewhere, now=CLOSE, limit=3)}
        kept = {item.delivery_id for item in outbox.claim(session, worker=other, now=CLOSE, limit=2)}
    assert len(theirs) == 3 and len(kept) == 2
    later = CLOSE + timedelta(seconds=scheduler_lease.LEASE_SECONDS + 1)
    with unit_of_work(database) as session:  # the rest, claimed by the standby before it leads
        before = {item.delivery_id for item in outbox.claim(session, worker=standby, now=later, limit=1000)}
    assert not before & (theirs | kept)
    took_over = SchedulerSingleton(database, identity=standby, on_take_over=outbox.release_claims_of)
    assert took_over.renew(later)
    with unit_of_work(database) as session:
        reclaimed = {item.delivery_id for item in outbox.claim(session, worker=standby, now=later, limit=1000)}
    assert reclaimed == theirs


class ReadyIn:
    """A kind whose row is ready to send `wait` seconds after it is first prepared, as a card redraw
    waits for its turn in chat.update's budget."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.ready_at: datetime | None = None

    def prepare(self, session: Session, item: outbox.Claimed, now: datetime) -> outbox.Prepared:
        self.ready_at = self.ready_at or now + timedelta(seconds=self.wait)
        left = (self.ready_at - now).total_seconds()
        if left > 0:
            return outbox.Prepared(channel=PEOPLE[0], later=left)
        return outbox.Prepared(channel=PEOPLE[0], message=Message(text="Your turn came"))

    def sent(self, session: Session, item: outbox.Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: outbox.Claimed, error: str, now: datetime) -> None:
        pass


def _enqueue_one(database: Database, kind: str) -> None:
    with unit_of_work(database) as session:
        outbox.enqueue(session, kind=kind, recipient=PEOPLE[0], now=utcnow())


def _the_row(database: Database, kind: str) -> Delivery:
    with unit_of_work(database) as session:
        return session.scalars(select(Delivery).where(Delivery.kind == kind)).one()


def test_a_row_told_to_wait_a_moment_goes_out_in_the_same_pass_on_one_claim(
        database: Database, client: WebClient, slack: SlackDouble) -> None:
    """Put back and claimed again, it went out only at the sender's next wake-up, later than its
    turn: the next redraw of a burst was then early for its own, and so on, each a wasted claim."""
    kind = ReadyIn(0.1)
    _enqueue_one(database, "ready_in")
    run = Sender(database, client, {"ready_in": kind}, threads=1).deliver_due()
    assert run.sent == 1 and dm_count(slack, PEOPLE[0]) == 1
    row = _the_row(database, "ready_in")
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)
    assert row.sent_at is not None and kind.ready_at is not None and row.sent_at >= kind.ready_at


def test_a_row_told_to_wait_longer_is_put_back_until_its_time(
        database: Database, client: WebClient, slack: SlackDouble) -> None:
    kind = ReadyIn(30)
    _enqueue_one(database, "ready_in")
    run = Sender(database, client, {"ready_in": kind}, threads=1).deliver_due()
    assert run.sent == 0 and dm_count(slack, PEOPLE[0]) == 0
    row = _the_row(database, "ready_in")
    assert (row.status, row.claimed_by) == (DeliveryStatus.PENDING, None)
    assert kind.ready_at is not None and abs((row.next_attempt_at - kind.ready_at).total_seconds()) < 1

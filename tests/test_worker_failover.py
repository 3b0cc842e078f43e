"""A worker on another host dies holding the scheduler and some DMs: a standby takes over within a
minute and sends those DMs at once, each exactly once (issue #13).

"Another host" is a worker in its own PID namespace: the standby cannot see whether it lives, as
it could not across machines, so it must wait for the lease to run out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot import db
from bot.clock import utcnow
from bot.db import unit_of_work
from bot.lease import LEASE_SECONDS
from bot.models import Delivery, SchedulerLease
from tests.apprunner import eventbot_env, free_port, migrate, start_eventbot
from tests.reminder_world import add_reminder, attendee_ids, double, make_event, populate

ATTENDEES = attendee_ids(12)


def lease_holder(database: db.Database) -> str | None:
    with unit_of_work(database) as session:
        return session.scalar(select(SchedulerLease.holder))


def claimed_by(database: db.Database, holder: str) -> int:
    with unit_of_work(database) as session:
        return len(session.scalars(select(Delivery.id).where(Delivery.claimed_by.startswith(f"{holder}#"))).all())


def wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_standby_worker_takes_over_within_a_minute_and_sends_the_dead_workers_dms_once(
        database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    engine = db.make_engine(database_url)
    database = db.make_session_factory(engine)
    slack = double()
    populate(slack, ATTENDEES)
    slack.start()
    event_id = make_event(database, attendees=ATTENDEES, ends_at=utcnow() - timedelta(hours=1))
    add_reminder(database, event_id, due_at=utcnow() + timedelta(seconds=3))
    env = eventbot_env(api_url=slack.api_url, database_url=database_url, PORT=str(free_port()))
    log = (tmp_path / "elsewhere.log").open("wb")
    elsewhere = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-m", "bot.cli", "worker"],
                                 env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    standby = None
    try:
        # Slack is slow to answer the DMs, so the first worker is caught holding them.
        slack.stall("chat.postMessage")
        holder = wait(lambda: lease_holder(database), 30, "the first worker to take the lease")
        standby = start_eventbot("worker", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path,
                                 wait_for_health=False)
        wait(lambda: "stands by" in standby.log(), 30, "the second worker to stand by")
        wait(lambda: claimed_by(database, holder), 30, "the first worker to claim DMs")
        os.killpg(elsewhere.pid, signal.SIGKILL)
        died = time.monotonic()
        # Slack answers again; the call the dead worker had made goes through, unheard by anyone.
        slack.release_stalls()
        new_holder = wait(lambda: (h := lease_holder(database)) not in (None, holder) and h, LEASE_SECONDS + 30,
                          "the standby to take the lease")
        took_over = time.monotonic()

        def all_sent() -> bool:
            return all(slack.dms(user) for user in ATTENDEES)

        wait(all_sent, 30, "every DM")
        all_out = time.monotonic()
        sent = Counter(user for user in ATTENDEES for _ in slack.dms(user))
        assert sent == Counter({user: 1 for user in ATTENDEES}), sent
        assert new_holder != holder
        assert took_over - died < 60, f"failover took {took_over - died:.0f} s"
        # Not the dead worker's 60 s claims: they came back with the lease.
        assert all_out - took_over < 15, f"the dead worker's DMs waited {all_out - took_over:.0f} s more"
        print(f"\nfailover: lease taken over {took_over - died:.1f} s after the kill; "
              f"every DM out {all_out - died:.1f} s after it")
    finally:
        slack.release_stalls()
        if elsewhere.poll() is None:
            os.killpg(elsewhere.pid, signal.SIGKILL)
        elsewhere.wait(timeout=10)
        if standby is not None:
            standby.stop()
        slack.stop()
        engine.dispose()

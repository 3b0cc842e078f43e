"""The one scheduler: APScheduler 3.x with an in-memory job store and explicit job ids.

Job state never lives in a store shared between processes (APScheduler's FAQ warns that sharing
one gives duplicate or missed runs). What must survive a restart, such as which reminders went to
whom, lives in eventbot's own tables, and every job here is a short poll over them.

Exactly one process runs the scheduled jobs: the holder of the scheduler lease
(bot/lease.py). Any other process that starts a scheduler stays on standby, says so in
its log, and takes over when the holder stops. Sending is not a job here: every process runs the
outbox's sender (bot/slack/sender.py), because its row claims make concurrent senders safe.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bot import outbox
from bot.app import Runtime
from bot.db import unit_of_work
from bot.errors import DatabaseUnavailable
from bot.lease import RENEW_SECONDS, SchedulerSingleton
from bot.privacy import slack as privacy_slack
from bot.questions import slack as questions_slack
from bot.redeliveries import forget_old_events
from bot.reminders import slack as reminders_slack
from bot.run_of_show import slack as run_of_show_slack

logger = logging.getLogger(__name__)


class _TickSkipped(logging.Filter):
    """A poll still running at its next tick (a fan-out to thousands takes minutes) skips that tick,
    as `max_instances=1` means it to; APScheduler logs a warning for it every tick, which buried the
    warnings that matter in the logs of a large reminder."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_TickSkipped())

PURGE_PROCESSED_EVENTS_JOB = "purge-processed-slack-events"
RUN_PROGRAMMES_JOB = "run-programmes"
# Posts land within this many seconds of their minute.
PROGRAMME_TICK_SECONDS = 5
AFTER_THE_EVENT_JOB = "after-the-event"
# Owners hear of their questions within seconds of the close.
AFTER_THE_EVENT_TICK_SECONDS = 5
NUDGE_JOB = "nudge-follow-up-owners"
# Nudges land within this many minutes of the hour they may (day-time in the owner's zone).
NUDGE_TICK_MINUTES = 10
PURGE_PERSONAL_DATA_JOB = "purge-personal-data"
# Retention is counted in days: an event's data goes within minutes of its last day.
PURGE_PERSONAL_DATA_TICK_MINUTES = 10
SCHEDULER_LEASE_JOB = "scheduler-lease"
PLAN_REMINDERS_JOB = "plan-reminders"
# A reminder is fanned out within 2 s of its due time; its deliveries start as soon as they are in.
REMINDER_TICK_SECONDS = 2


def _each_workspace(runtime: Runtime) -> list[int | None]:
    """Distributed, each job runs once per installed workspace, with that workspace's token; with
    one token, once for all."""
    return list(runtime.workspaces_served()) if runtime.installations is not None else [None]


def _run_programmes(runtime: Runtime) -> None:
    for workspace_id in _each_workspace(runtime):
        run_of_show_slack.run_due_work(
            runtime.database, runtime.client_for(workspace_id), now=datetime.now(timezone.utc),
            exclude_from_attendees=frozenset({runtime.bot_user_id(workspace_id)}), workspace_id=workspace_id,
        )


def _after_the_event(runtime: Runtime) -> None:
    """Closed events' questions get owners; finished ledgers are closed out in the channel."""
    now = datetime.now(timezone.utc)
    # "At close" means the close as it stands (the chair's pace, then the actual close): reminders
    # timed from it move with it.
    reminders_slack.follow_closes(runtime.database, since=now - timedelta(days=1))
    questions_slack.open_follow_up_ledgers(runtime.database, now=now)
    questions_slack.close_out_events(runtime.database, now=now)


def _nudge_follow_up_owners(runtime: Runtime) -> None:
    for workspace_id in _each_workspace(runtime):
        questions_slack.nudge_owners(runtime.database, runtime.client_for(workspace_id),
                                     now=datetime.now(timezone.utc), workspace_id=workspace_id)


def _purge_processed_events(runtime: Runtime) -> None:
    with unit_of_work(runtime.database) as session:
        removed = forget_old_events(session)
    if removed:
        logger.info("forgot %d processed Slack event ids", removed)


def _purge_personal_data(runtime: Runtime) -> None:
    privacy_slack.purge_expired(runtime.database, now=datetime.now(timezone.utc))


@dataclass
class SchedulerParts:
    """What a scheduler's process holds besides the jobs: the lease, and the outbox's sender."""

    singleton: SchedulerSingleton
    runtime: Runtime

    def stop(self) -> None:
        self.runtime.outbox().stop()

    def release(self) -> None:
        self.singleton.release()


class OutageLog:
    """One line when the database stops answering the jobs, and one when they resume: not a
    traceback from every job every few seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: datetime | None = None

    def watched(self, func: Callable[[Runtime], None]) -> Callable[[Runtime], None]:
        def run(runtime: Runtime) -> None:
            try:
                func(runtime)
            except DatabaseUnavailable:
                with self._lock:
                    if self.since is None:
                        self.since = datetime.now(timezone.utc)
                        logger.warning("the database is not answering: scheduled jobs pause until it does")
                return
            with self._lock:
                if self.since is not None:
                    logger.warning("the database answers again: scheduled jobs resume (paused %.0f s)",
                                   (datetime.now(timezone.utc) - self.since).total_seconds())
                    self.since = None
        run.__name__ = run.__qualname__ = func.__name__
        return run


def add_jobs(scheduler: BaseScheduler, runtime: Runtime) -> SchedulerParts:
    parts = SchedulerParts(singleton=SchedulerSingleton(runtime.database, on_take_over=outbox.release_claims_of),
                           runtime=runtime)
    outage = OutageLog()
    runtime.outbox().start()
    parts.singleton.renew()

    def led(func: Callable[[Runtime], None]) -> Callable[[Runtime], None]:
        """Run only in the process holding the scheduler lease."""
        def run(runtime: Runtime) -> None:
            if parts.singleton.active:
                func(runtime)
        run.__name__ = run.__qualname__ = func.__name__
        return run

    def job(job_id: str, func: Callable[[Runtime], None], **trigger: int) -> None:
        scheduler.add_job(
            outage.watched(func),
            "interval",
            args=[runtime],
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(timezone.utc),
            **trigger,
        )

    def plan_reminders(runtime: Runtime) -> None:
        for workspace_id in _each_workspace(runtime):
            reminders_slack.plan_reminders(runtime.database, runtime.client_for(workspace_id),
                                           now=datetime.now(timezone.utc), bot_user_id=runtime.bot_user_id(workspace_id),
                                           workspace_id=workspace_id)

    job(SCHEDULER_LEASE_JOB, lambda runtime: parts.singleton.renew(), seconds=RENEW_SECONDS)
    job(PURGE_PROCESSED_EVENTS_JOB, led(_purge_processed_events), hours=1)
    job(RUN_PROGRAMMES_JOB, led(_run_programmes), seconds=PROGRAMME_TICK_SECONDS)
    job(PLAN_REMINDERS_JOB, led(plan_reminders), seconds=REMINDER_TICK_SECONDS)
    job(AFTER_THE_EVENT_JOB, led(_after_the_event), seconds=AFTER_THE_EVENT_TICK_SECONDS)
    job(NUDGE_JOB, led(_nudge_follow_up_owners), minutes=NUDGE_TICK_MINUTES)
    job(PURGE_PERSONAL_DATA_JOB, led(_purge_personal_data), minutes=PURGE_PERSONAL_DATA_TICK_MINUTES)
    return parts


def start_in_background(runtime: Runtime) -> BackgroundScheduler:
    """For `serve` and `socket`: the scheduler runs beside the web listeners in one process."""
    scheduler = BackgroundScheduler(timezone="UTC")
    parts = add_jobs(scheduler, runtime)
    scheduler.start()
    logger.info("scheduler started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))

    def stop() -> None:
        parts.stop()
        if scheduler.running:
            scheduler.shutdown(wait=True)
        parts.release()

    atexit.register(stop)
    return scheduler


def run_forever(runtime: Runtime) -> None:
    """For `worker`: the scheduler alone, until the process is told to stop.

    Platforms stop a worker with SIGTERM; running jobs are let finish so no send is cut in half.
    The signal handler only sets a flag: raising from it could land inside APScheduler's own
    bookkeeping, which swallows the exception and keeps running.
    """
    scheduler = BackgroundScheduler(timezone="UTC")
    parts = add_jobs(scheduler, runtime)
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()
    logger.info("worker started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        while not stopping:
            time.sleep(0.2)
        logger.info("worker stopping")
    finally:
        parts.stop()
        if scheduler.running:
            scheduler.shutdown(wait=True)
        parts.release()

"""The one scheduler: APScheduler 3.x with an in-memory job store and explicit job ids.

Job state never lives in a store shared between processes (APScheduler's FAQ warns that sharing
one gives duplicate or missed runs). What must survive a restart, such as which reminders went to
whom, lives in eventbot's own tables, and every job here is a short poll over them.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from bot import run_of_show
from bot.app import Runtime
from bot.db import unit_of_work
from bot.slack_events import forget_old_events

logger = logging.getLogger(__name__)

PURGE_PROCESSED_EVENTS_JOB = "purge-processed-slack-events"
RUN_PROGRAMMES_JOB = "run-programmes"
# Posts land within this many seconds of their minute.
PROGRAMME_TICK_SECONDS = 5


def _run_programmes(runtime: Runtime) -> None:
    run_of_show.run_due_work(
        runtime.sessions, runtime.client, now=datetime.now(timezone.utc),
        exclude_from_attendees=frozenset({runtime.bot_user_id()}),
    )


def _purge_processed_events(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as session:
        removed = forget_old_events(session)
    if removed:
        logger.info("forgot %d processed Slack event ids", removed)


def add_jobs(scheduler: BaseScheduler, runtime: Runtime) -> None:
    def job(job_id: str, func: Callable[[Runtime], None], **trigger: int) -> None:
        scheduler.add_job(
            func,
            "interval",
            args=[runtime],
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(timezone.utc),
            **trigger,
        )

    job(PURGE_PROCESSED_EVENTS_JOB, _purge_processed_events, hours=1)
    job(RUN_PROGRAMMES_JOB, _run_programmes, seconds=PROGRAMME_TICK_SECONDS)


def start_in_background(runtime: Runtime) -> BackgroundScheduler:
    """For `serve` and `socket`: the scheduler runs beside the web listeners in one process."""
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, runtime)
    scheduler.start()
    logger.info("scheduler started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    return scheduler


def run_forever(runtime: Runtime) -> None:
    """For `worker`: the scheduler alone, until the process is told to stop.

    Platforms stop a worker with SIGTERM; running jobs are let finish so no send is cut in half.
    """
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, runtime)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    logger.info("worker started with jobs: %s", ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        logger.info("worker stopping")
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)

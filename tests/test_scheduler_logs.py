"""The scheduler's log keeps to what matters: a poll still running at its next tick (a fan-out to
thousands takes minutes) skips that tick as planned, without a warning every two seconds."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

import bot.scheduler  # noqa: F401 - its import installs the filter


def test_a_tick_skipped_while_the_poll_still_runs_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    running = threading.Event()

    def long_poll() -> None:
        running.set()
        time.sleep(2.5)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(long_poll, "interval", seconds=1, max_instances=1, coalesce=True,
                      next_run_time=datetime.now(timezone.utc))
    scheduler.start()
    try:
        assert running.wait(5)
        time.sleep(2.2)  # two ticks come while the first run still holds its only instance
    finally:
        scheduler.shutdown(wait=True)
    assert not [r for r in caplog.records if "maximum number of running instances" in r.getMessage()]
    # Other warnings from the scheduler still get through.
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed by 0:00:05")
    assert any("was missed" in r.getMessage() for r in caplog.records)

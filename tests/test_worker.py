"""`eventbot worker` runs the scheduler alone and stops cleanly when the platform says so."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.apprunner import BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, TEAM_ID, migrate, start_eventbot
from tests.slackdouble import SlackDouble


def test_worker_starts_its_jobs_and_stops_on_sigterm(database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    slack = SlackDouble(team_id=TEAM_ID, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, bot_user_id=BOT_USER_ID)
    slack.start()
    worker = start_eventbot(
        "worker", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path, wait_for_health=False
    )
    try:
        deadline = time.monotonic() + 30
        while "worker started" not in worker.log() and time.monotonic() < deadline:
            assert worker.process.poll() is None, worker.log()
            time.sleep(0.1)
        assert "purge-processed-slack-events" in worker.log()
        assert "run-programmes" in worker.log()
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=15) == 0, worker.log()
        assert "Traceback" not in worker.log()
    finally:
        worker.stop()
        slack.stop()


def test_worker_checks_slack_at_start_up_as_serve_does(database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    slack = SlackDouble(team_id=TEAM_ID, bot_token="xoxb-the-current-token", signing_secret=SIGNING_SECRET,
                        bot_user_id=BOT_USER_ID)
    slack.start()
    worker = start_eventbot("worker", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path,
                            wait_for_health=False)  # started with the old token, BOT_TOKEN
    try:
        assert worker.process.wait(timeout=30) == 2, worker.log()
        lines = [line for line in worker.log().splitlines() if line.strip()]
        assert len(lines) == 1 and "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in lines[0], worker.log()
    finally:
        worker.stop()
        slack.stop()


def test_two_serve_processes_on_one_host_each_keep_their_own_address(database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    slack = SlackDouble(team_id=TEAM_ID, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, bot_user_id=BOT_USER_ID)
    slack.start()
    first = start_eventbot("serve", "--no-scheduler", api_url=slack.api_url, database_url=database_url,
                           log_dir=tmp_path, HOST="127.0.0.1")
    second = start_eventbot("serve", "--no-scheduler", api_url=slack.api_url, database_url=database_url,
                            log_dir=tmp_path, HOST="127.0.0.1")
    try:
        for running in (first, second):
            assert running.get("/healthz")[0] == 200
            assert f"Listening at: http://127.0.0.1:{running.port}" in running.log()
            assert "Control socket" not in running.log()  # nothing shared between them to take over
    finally:
        first.stop()
        second.stop()
        slack.stop()

"""Runs `eventbot serve` as a subprocess against a Slack double, the way an operator starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot import db
from bot.rehearsal import ORGANISER

BOT_TOKEN = "xoxb-0000000000-eventbot-test"
SIGNING_SECRET = "5c1a5e1ec0ffee0ddba11f00d5ca1ab1e"
TEAM_ID = "T0EVENTBOT"
BOT_USER_ID = "U0EVENTBOT"
STARTUP_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningApp:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return self.base_url + "/slack/events"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def eventbot_env(*, api_url: str, database_url: str, **extra: str) -> dict[str, str]:
    own = ("SLACK_", "DATABASE_URL", "PORT", "EVENTBOT_ORGANISER")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return {
        **inherited,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
        # The cast's organiser runs a learning community, not the Slack workspace: like a real
        # install, the operator names them rather than making them a workspace admin.
        "EVENTBOT_ORGANISERS": ORGANISER,
        **extra,
    }


def start_eventbot(
    *args: str, api_url: str, database_url: str, log_dir: Path, wait_for_health: bool = True, **extra_env: str
) -> RunningApp:
    """Start `eventbot serve` (or another command) and wait until /healthz answers 200."""
    port = free_port()
    env = eventbot_env(api_url=api_url, database_url=database_url, PORT=str(port), **extra_env)
    log_path = log_dir / f"eventbot-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *(args or ("serve",))],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_dir,
        )
    running = RunningApp(process=process, port=port, log_path=log_path, env=env)
    if wait_for_health:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"eventbot exited with {process.returncode}:\n{running.log()}")
            try:
                if running.get("/healthz")[0] == 200:
                    return running
            except OSError:
                pass
            time.sleep(0.1)
        running.stop()
        raise RuntimeError(f"eventbot did not become healthy:\n{running.log()}")
    return running


def migrate(database_url: str) -> None:
    db.upgrade(database_url)


def kill_9(app: RunningApp) -> None:
    """SIGKILL the app and every process it started (gunicorn's workers too): a crash, not a shutdown."""
    doomed = [app.process.pid, *_descendants(app.process.pid)]
    for pid in reversed(doomed):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    app.process.wait()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found

"""Start-up problems stop the process with one line an operator can act on, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_eventbot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "PORT"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_naming(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_serve_without_signing_secret_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_eventbot("serve", env={"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)
    assert_one_line_naming(result, "SLACK_SIGNING_SECRET", "Basic Information")


def test_serve_without_bot_token_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_eventbot("serve", env={"SLACK_SIGNING_SECRET": "abc123"}, cwd=tmp_path)
    assert_one_line_naming(result, "SLACK_BOT_TOKEN")


def test_socket_mode_without_app_token_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_eventbot("socket", env={"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)
    assert_one_line_naming(result, "SLACK_APP_TOKEN", "connections:write")


def test_a_malformed_setting_read_from_dotenv_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=abc\nPORT=http\n")
    result = run_eventbot("serve", env={}, cwd=tmp_path)
    assert_one_line_naming(result, "PORT")


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "abc123"}
    result = run_eventbot("serve", env=env, cwd=tmp_path)
    assert_one_line_naming(result, "eventbot db upgrade")


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unreachable_database_is_named(tmp_path: Path, command: str) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "abc123",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere",
    }
    result = run_eventbot(command, env=env, cwd=tmp_path)
    assert_one_line_naming(result, "DATABASE_URL")

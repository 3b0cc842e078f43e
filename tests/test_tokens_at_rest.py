"""Workspaces' bot tokens are encrypted at rest with EVENTBOT_TOKEN_KEY; without the key none is stored."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import StatementError

from bot import tokens
from bot.config import ConfigError, load_settings
from bot.db import Database, unit_of_work
from bot.models import Workspace
from bot.workspaces import ensure_workspace, mark_uninstalled

STORED_TOKEN = "xoxb-111-222-storedtokenatrest"


@pytest.fixture(autouse=True)
def fresh_log_memory() -> None:
    tokens._said.clear()


def raw_token(database: Database, team_id: str) -> str | None:
    with unit_of_work(database) as session:
        return session.execute(text("SELECT bot_token FROM workspaces WHERE team_id = :t"), {"t": team_id}).scalar()


def test_a_token_is_stored_encrypted_and_read_back_with_the_key(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTBOT_TOKEN_KEY", Fernet.generate_key().decode())
    with unit_of_work(database) as session:
        ensure_workspace(session, team_id="T0OAUTH").bot_token = STORED_TOKEN
    stored = raw_token(database, "T0OAUTH")
    assert stored and STORED_TOKEN not in stored and "storedtoken" not in stored
    with unit_of_work(database) as session:
        assert session.scalars(select(Workspace).where(Workspace.team_id == "T0OAUTH")).one().bot_token == STORED_TOKEN
    # An uninstall forgets it, key or no key.
    monkeypatch.delenv("EVENTBOT_TOKEN_KEY")
    with unit_of_work(database) as session:
        mark_uninstalled(session, team_id="T0OAUTH", now=session.scalars(select(Workspace.installed_at)).first())
    assert raw_token(database, "T0OAUTH") is None


def test_without_a_key_no_token_is_stored_and_the_log_says_why_without_the_token(
    database: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("EVENTBOT_TOKEN_KEY", raising=False)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StatementError) as refused:
        with unit_of_work(database) as session:
            ensure_workspace(session, team_id="T0NOKEY").bot_token = STORED_TOKEN
    assert isinstance(refused.value.orig, tokens.TokenNotStored)
    # SQLAlchemy's error would print the statement's parameters: the engine hides them.
    assert STORED_TOKEN not in str(refused.value) and STORED_TOKEN not in repr(refused.value)
    assert raw_token(database, "T0NOKEY") is None
    assert "EVENTBOT_TOKEN_KEY is not set" in caplog.text and STORED_TOKEN not in caplog.text


def test_a_token_under_another_key_or_tampered_reads_as_absent(
    database: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("EVENTBOT_TOKEN_KEY", Fernet.generate_key().decode())
    with unit_of_work(database) as session:
        ensure_workspace(session, team_id="T0ROTATE").bot_token = STORED_TOKEN
    monkeypatch.setenv("EVENTBOT_TOKEN_KEY", Fernet.generate_key().decode())
    caplog.set_level(logging.DEBUG)
    with unit_of_work(database) as session:
        assert session.scalars(select(Workspace).where(Workspace.team_id == "T0ROTATE")).one().bot_token is None
    assert "does not open with EVENTBOT_TOKEN_KEY" in caplog.text and STORED_TOKEN not in caplog.text


def test_a_malformed_key_stops_start_up_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as wrong:
        load_settings({"EVENTBOT_TOKEN_KEY": "not-a-fernet-key-secret"})
    assert "EVENTBOT_TOKEN_KEY is malformed" in str(wrong.value) and "not-a-fernet-key-secret" not in str(wrong.value)


def test_settings_never_show_their_secrets() -> None:
    key = Fernet.generate_key().decode()
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-1-2-settingsrepr", "SLACK_SIGNING_SECRET": "abc123secret",
                              "SLACK_APP_TOKEN": "xapp-1-settingsrepr", "EVENTBOT_TOKEN_KEY": key})
    assert settings.slack_bot_token == "xoxb-1-2-settingsrepr" and settings.token_key == key
    for secret in ("xoxb-1-2-settingsrepr", "abc123secret", "xapp-1-settingsrepr", key):
        assert secret not in repr(settings) and secret not in str(settings)


def test_an_oauth_install_keeps_every_token_encrypted_and_none_without_the_key(
    database: Database, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slack_sdk import WebClient
    from slack_sdk.oauth.installation_store import Installation

    from bot.installations import InstallationStore

    store = InstallationStore(client_id="1.2", client_secret="abc", engine=engine, client=WebClient())
    secrets = {"bot_token": "xoxe.xoxb-1-installtokenatrest", "bot_refresh_token": "xoxe-1-refreshtokenatrest",
               "user_token": "xoxp-1-usertokenatrest", "incoming_webhook_url": "https://hooks.slack.com/T/B/webhookatrest"}
    installation = Installation(app_id="A0APP", team_id="T0OAUTH", bot_id="B0BOT", bot_user_id="U0BOT",
                                bot_token_expires_in=43200, user_id="U0INSTALLER",
                                incoming_webhook_channel_id="C0HOOK", **secrets)
    monkeypatch.delenv("EVENTBOT_TOKEN_KEY", raising=False)
    with pytest.raises(StatementError):
        store.save(installation)
    with unit_of_work(database) as session:
        assert session.execute(text("SELECT count(*) FROM slack_installations")).scalar() == 0

    monkeypatch.setenv("EVENTBOT_TOKEN_KEY", Fernet.generate_key().decode())
    store.save(installation)
    with unit_of_work(database) as session:
        stored = [str(value) for table in ("slack_installations", "slack_bots")
                  for row in session.execute(text(f"SELECT * FROM {table}")).all() for value in row]
    assert not [value for value in stored for secret in secrets.values() if secret in value or "atrest" in value]
    bot = store.find_bot(enterprise_id=None, team_id="T0OAUTH")
    assert bot is not None and (bot.bot_token, bot.bot_refresh_token) == (secrets["bot_token"],
                                                                          secrets["bot_refresh_token"])
    assert store.find_installation(enterprise_id=None, team_id="T0OAUTH").user_token == secrets["user_token"]

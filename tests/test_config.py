from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, normalise_database_url

GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"}


def test_defaults_are_the_embedded_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(dict(GOOD))
    assert settings.database_url == f"sqlite:///{tmp_path / 'eventbot.sqlite3'}"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    assert settings.default_timezone == "Europe/London"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/app", "postgresql+psycopg://u:p@db.example:5432/app"),
        ("postgresql://u@h/app", "postgresql+psycopg://u@h/app"),
        ("postgresql+psycopg://u@h/app", "postgresql+psycopg://u@h/app"),
        ("sqlite:////var/data/x.sqlite3", "sqlite:////var/data/x.sqlite3"),
    ],
)
def test_database_urls_as_platforms_hand_them_out(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize(
    ("name", "value", "named_in_message"),
    [
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL"),
        ("PORT", "eighty", "PORT"),
        ("PORT", "70000", "PORT"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token", "SLACK_APP_TOKEN"),
        ("SLACK_SIGNING_SECRET", "has spaces in it", "SLACK_SIGNING_SECRET"),
        ("SLACK_API_URL", "slack.com/api", "SLACK_API_URL"),
        ("EVENTBOT_DEFAULT_TIMEZONE", "Mars/Olympus", "EVENTBOT_DEFAULT_TIMEZONE"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("HOST", "0.0.0.0; rm -rf /", "HOST"),
        ("EVENTBOT_ORGANISERS", "U0123ABCD,@olu", "EVENTBOT_ORGANISERS"),
        ("EVENTBOT_ORGANISERS", "<@U0123ABCD>", "EVENTBOT_ORGANISERS"),
        ("EVENTBOT_ORGANISER_GROUP", "@event-organisers", "EVENTBOT_ORGANISER_GROUP"),
        ("EVENTBOT_ORGANISER_GROUP", "S0123,S0456", "EVENTBOT_ORGANISER_GROUP"),
    ],
)
def test_malformed_settings_name_the_variable(name: str, value: str, named_in_message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**GOOD, name: value})
    message = str(caught.value)
    assert named_in_message in message
    assert "\n" not in message


def test_organisers_are_read_as_slack_ids() -> None:
    settings = load_settings({**GOOD, "EVENTBOT_ORGANISERS": " U0123ABCD, W0456EFGH,,U0123ABCD ",
                              "EVENTBOT_ORGANISER_GROUP": "S0ORGANISE"})
    assert settings.organisers == ("U0123ABCD", "W0456EFGH")
    assert settings.organiser_group == "S0ORGANISE"
    unset = load_settings(dict(GOOD))
    assert (unset.organisers, unset.organiser_group) == ((), None)


def test_missing_secrets_are_reported_when_needed() -> None:
    settings = load_settings({})
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        settings.require_signing_secret()
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        settings.require_bot_token()
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        settings.require_app_token()


def test_dotenv_fills_gaps_but_never_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\nPORT=4000\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "5000")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    settings = load_settings()
    assert settings.slack_bot_token == "xoxb-from-dotenv"
    assert settings.port == 5000


def test_api_url_gets_the_trailing_slash_slack_sdk_needs() -> None:
    assert load_settings({"SLACK_API_URL": "http://127.0.0.1:9999/api"}).slack_api_url == "http://127.0.0.1:9999/api/"


def test_the_bind_address_is_configurable() -> None:
    assert load_settings(GOOD).host == "0.0.0.0"
    assert load_settings({**GOOD, "HOST": "127.0.0.1"}).host == "127.0.0.1"

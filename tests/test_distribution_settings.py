"""An operator turns distribution on (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET): what start-up
checks, and that an install asks for the scopes the manifest lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import BOT_SCOPES, ConfigError, load_settings

KEY = Fernet.generate_key().decode()
DISTRIBUTED = {"SLACK_CLIENT_ID": "1111111111.2222222222", "SLACK_CLIENT_SECRET": "0c11e47c11e47c11e47c11e47c11e47c",
               "SLACK_SIGNING_SECRET": "abc123", "EVENTBOT_TOKEN_KEY": KEY}


def test_client_id_and_secret_make_eventbot_distributed_and_stay_out_of_its_repr() -> None:
    settings = load_settings(DISTRIBUTED)
    assert settings.distributed and settings.slack_bot_token is None
    assert "0c11e47c11e47c11e47c11e47c11e47c" not in repr(settings)
    assert settings.oauth_authorize_url == "https://slack.com/oauth/v2/authorize"
    local = load_settings({**DISTRIBUTED, "SLACK_API_URL": "http://127.0.0.1:9000/api/"})
    assert local.oauth_authorize_url == "http://127.0.0.1:9000/oauth/v2/authorize"
    assert not load_settings({"SLACK_BOT_TOKEN": "xoxb-1-2-3"}).distributed


@pytest.mark.parametrize(("change", "said"), [
    ({"SLACK_CLIENT_SECRET": ""}, "SLACK_CLIENT_SECRET is not set"),
    ({"SLACK_CLIENT_ID": ""}, "SLACK_CLIENT_ID is not set"),
    ({"SLACK_CLIENT_ID": "eventbot"}, "SLACK_CLIENT_ID is malformed"),
    ({"SLACK_CLIENT_SECRET": "'quoted secret'"}, "SLACK_CLIENT_SECRET is malformed"),
    ({"SLACK_BOT_TOKEN": "xoxb-1-2-3"}, "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set"),
    ({"EVENTBOT_TOKEN_KEY": ""}, "EVENTBOT_TOKEN_KEY is not set"),
    ({"SLACK_REDIRECT_URI": "eventbot.example.org"}, "SLACK_REDIRECT_URI must be the full URL"),
])
def test_a_half_configured_distribution_stops_start_up_with_one_line(change: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError) as wrong:
        load_settings({**DISTRIBUTED, **change})
    assert said in str(wrong.value) and "0c11e47c" not in str(wrong.value)


def test_an_install_asks_for_the_scopes_the_manifest_lists() -> None:
    manifest = (Path(__file__).resolve().parent.parent / "manifest.yml").read_text().splitlines()
    start = manifest.index("    bot:")
    listed = []
    for line in manifest[start + 1:]:
        if not line.startswith("      "):
            break
        if line.strip().startswith("- "):
            listed.append(line.strip()[2:])
    assert tuple(listed) == BOT_SCOPES

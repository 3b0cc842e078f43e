"""With token rotation on, an ageing bot token is refreshed once, however many threads or processes
want it at the same moment (bot/installations.py), against the double's oauth.v2.access."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography.fernet import Fernet
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import Engine, text

from bot import tokens
from bot.installations import ROTATE_WITHIN_MINUTES, InstallationStore
from bot.slack.client import make_web_client
from tests.apprunner import SIGNING_SECRET
from tests.slackdouble.distribution import SlackPlatform

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "0c11e47c11e47c11e47c11e47c11e47c"
TEAM = "T0NORTH"
REDIRECT = "https://eventbot.example.org/slack/oauth_redirect"


@pytest.fixture(autouse=True)
def token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTBOT_TOKEN_KEY", Fernet.generate_key().decode())
    tokens._said.clear()


@pytest.fixture
def platform() -> Iterator[SlackPlatform]:
    # The first token is already within the refresh window; the ones refreshes give are not.
    platform = SlackPlatform(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, signing_secret=SIGNING_SECRET,
                             redirect_urls=[REDIRECT], token_rotation=True,
                             token_lifetime_seconds=(ROTATE_WITHIN_MINUTES - 30) * 60).start()
    platform.add_workspace(TEAM, bot_user_id="U0EVENTBOT", bot_id="B0EVENTBOT", team_name="North Trust")
    platform.workspace(TEAM).add_user("U0ORGANISE", "olu")
    yield platform
    assert platform.internal_errors == []
    platform.stop()


def installed(platform: SlackPlatform, store: InstallationStore) -> str:
    """Someone allows the install and the app exchanges the code, as Bolt's OAuth flow does."""
    authorize = f"{platform.authorize_url}?{urlencode({'client_id': CLIENT_ID, 'scope': 'commands,chat:write', 'state': 's'})}"
    back = platform.approve(authorize, team_id=TEAM, user_id="U0ORGANISE")
    code = parse_qs(urlsplit(back).query)["code"][0]
    client = WebClient(base_url=platform.api_url)
    answer = client.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
    store.save(Installation(app_id=answer["app_id"], team_id=TEAM, bot_token=answer["access_token"],
                            bot_id="B0EVENTBOT", bot_user_id=answer["bot_user_id"], bot_scopes=answer["scope"],
                            bot_refresh_token=answer["refresh_token"], bot_token_expires_in=answer["expires_in"],
                            user_id="U0ORGANISE"))
    return str(answer["access_token"])


def store_for(engine: Engine, platform: SlackPlatform) -> InstallationStore:
    return InstallationStore(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, engine=engine,
                             client=make_web_client(token=None, base_url=platform.api_url))


def refreshes(platform: SlackPlatform) -> list[dict]:
    return [e for e in platform.exchanges if e["args"].get("grant_type") == "refresh_token"]


def test_an_ageing_token_is_refreshed_once_when_many_want_it_at_once(engine: Engine, platform: SlackPlatform) -> None:
    # Two stores, as two processes would have, and four threads each.
    stores = [store_for(engine, platform), store_for(engine, platform)]
    first = installed(platform, stores[0])
    platform.token_lifetime_seconds = 12 * 3600

    start = threading.Barrier(8)
    found: list[str | None] = []

    def use(store: InstallationStore) -> None:
        start.wait()
        bot = store.find_bot(enterprise_id=None, team_id=TEAM)
        found.append(bot.bot_token if bot else None)

    threads = [threading.Thread(target=use, args=(stores[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [e["answer"].get("error") for e in refreshes(platform)] == [None]
    fresh = refreshes(platform)[0]["answer"]["access_token"]
    assert fresh.startswith("xoxe.xoxb-") and fresh != first
    assert found == [fresh] * 8
    # Stored encrypted, refresh token included; later reads need no refresh.
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT bot_token, bot_refresh_token FROM slack_bots")).all()
    assert rows and all(not value.startswith("xox") for row in rows for value in row)
    assert stores[1].find_bot(enterprise_id=None, team_id=TEAM).bot_token == fresh
    assert len(refreshes(platform)) == 1
    # The new token works; the old one too, until its own expiry, as Slack's do.
    assert WebClient(token=fresh, base_url=platform.api_url).auth_test()["team_id"] == TEAM
    assert WebClient(token=first, base_url=platform.api_url).auth_test()["team_id"] == TEAM


def test_a_refresh_token_is_single_use_at_slack(platform: SlackPlatform, engine: Engine) -> None:
    installed(platform, store_for(engine, platform))
    refresh_token = platform.exchanges[0]["answer"]["refresh_token"]
    client = WebClient(base_url=platform.api_url)
    assert client.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="refresh_token",
                                  refresh_token=refresh_token)["ok"]
    with pytest.raises(SlackApiError) as again:
        client.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="refresh_token",
                               refresh_token=refresh_token)
    assert again.value.response["error"] == "invalid_refresh_token"
    with pytest.raises(SlackApiError) as wrong:
        client.oauth_v2_access(client_id=CLIENT_ID, client_secret="0bad5ec4e7", grant_type="refresh_token",
                               refresh_token=refresh_token)
    assert wrong.value.response["error"] == "bad_client_secret"

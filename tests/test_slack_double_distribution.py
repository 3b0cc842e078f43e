"""The double's distributed app: Slack's side of OAuth v2, and calls routed by token, checked on their own."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.slackdouble.distribution import CODE_TTL_SECONDS, SlackPlatform

CLIENT_ID, CLIENT_SECRET = "1111111111.2222222222", "0c11e47c"
BACK = "https://eventbot.example.org/slack/oauth_redirect"


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(clock: Clock) -> Iterator[SlackPlatform]:
    platform = SlackPlatform(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, signing_secret="sekrit",
                             redirect_urls=[BACK], wall_clock=clock).start()
    for team in ("T0NORTH", "T0SOUTH"):
        platform.add_workspace(team, bot_user_id="UBOT", bot_id="BBOT", team_name=team).add_user("U1", "one")
    yield platform
    assert platform.internal_errors == []
    platform.stop()


def code_for(platform: SlackPlatform, team: str, **query: str) -> str:
    url = f"{platform.authorize_url}?{urlencode({'client_id': CLIENT_ID, 'scope': 'commands', 'state': 's', **query})}"
    return parse_qs(urlsplit(platform.approve(url, team_id=team, user_id="U1")).query)["code"][0]


def error_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as refused:
        call()
    return str(refused.value.response["error"])


def test_a_code_gives_that_workspace_a_token_once(platform: SlackPlatform, clock: Clock) -> None:
    api = WebClient(base_url=platform.api_url)
    north, south = code_for(platform, "T0NORTH"), code_for(platform, "T0SOUTH")
    north_token = api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=north)["access_token"]
    south_token = api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=south)["access_token"]
    assert WebClient(token=north_token, base_url=platform.api_url).auth_test()["team_id"] == "T0NORTH"
    assert WebClient(token=south_token, base_url=platform.api_url).auth_test()["team_id"] == "T0SOUTH"
    assert platform.workspace("T0NORTH").calls_to("auth.test") and len(platform.workspace("T0SOUTH").calls) == 1
    assert error_of(lambda: api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                                code=north)) == "invalid_code"
    assert error_of(lambda: WebClient(token="xoxb-nobody", base_url=platform.api_url).auth_test()) == "invalid_auth"

    late = code_for(platform, "T0NORTH")
    clock.now += CODE_TTL_SECONDS
    assert error_of(lambda: api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                                code=late)) == "invalid_code"


def test_the_client_and_the_redirect_are_checked(platform: SlackPlatform) -> None:
    api = WebClient(base_url=platform.api_url)
    code = code_for(platform, "T0NORTH", redirect_uri=BACK)
    assert error_of(lambda: api.oauth_v2_access(client_id="1.3", client_secret=CLIENT_SECRET,
                                                code=code)) == "invalid_client_id"
    assert error_of(lambda: api.oauth_v2_access(client_id=CLIENT_ID, client_secret="wrong",
                                                code=code)) == "bad_client_secret"
    assert error_of(lambda: api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                                                redirect_uri=BACK + "/other")) == "bad_redirect_uri"
    assert api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=BACK)["ok"]
    with pytest.raises(ValueError, match="redirect_uri did not match"):
        code_for(platform, "T0NORTH", redirect_uri="https://evil.example/back")
    with pytest.raises(ValueError, match="client_id"):
        platform.approve(f"{platform.authorize_url}?client_id=9.9&scope=commands", team_id="T0NORTH", user_id="U1")


def test_rotating_tokens_expire_and_refresh_tokens_work_once(platform: SlackPlatform, clock: Clock) -> None:
    platform.token_rotation, platform.token_lifetime_seconds = True, 60
    api = WebClient(base_url=platform.api_url)
    answer = api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code_for(platform, "T0NORTH"))
    assert answer["access_token"].startswith("xoxe.xoxb-") and answer["expires_in"] == 60
    client = WebClient(token=answer["access_token"], base_url=platform.api_url)
    assert client.auth_test()["ok"]
    clock.now += 60
    assert error_of(client.auth_test) == "token_expired"
    fresh = api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="refresh_token",
                                refresh_token=answer["refresh_token"])["access_token"]
    assert WebClient(token=fresh, base_url=platform.api_url).auth_test()["team_id"] == "T0NORTH"
    assert error_of(lambda: api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                                grant_type="refresh_token",
                                                refresh_token=answer["refresh_token"])) == "invalid_refresh_token"

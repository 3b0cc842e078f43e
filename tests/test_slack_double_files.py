"""The Slack double's files: what a person shares is found by files.info and read at its
url_private with the bot token only, as Slack does."""

from __future__ import annotations

import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.apprunner import BOT_TOKEN
from tests.cast import ORGANISER
from tests.slackdouble import SlackDouble


def _get(url: str, token: str | None) -> tuple[str, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
        return response.headers.get("Content-Type") or "", response.read()


def test_a_file_a_person_shares_is_found_and_read_with_the_bot_token_only(slack: SlackDouble) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    dm = slack.im_channel(ORGANISER)
    shared = slack.user_uploads(ORGANISER, dm, filename="programme.toml", content=b"[event]\n")
    assert shared["subtype"] == "file_share" and shared["user"] == ORGANISER
    file = shared["files"][0]
    info = client.files_info(file=file["id"])["file"]
    assert info == file and info["name"] == "programme.toml" and info["size"] == 8
    assert _get(info["url_private"], BOT_TOKEN)[1] == b"[event]\n"
    # Slack's answer to a request without the bot's token is its sign-in page, not the file.
    kind, page = _get(info["url_private"], None)
    assert kind.startswith("text/html") and b"[event]" not in page
    assert _get(info["url_private"], "xoxb-someone-else")[0].startswith("text/html")
    with pytest.raises(SlackApiError) as unknown:
        client.files_info(file="F0NOSUCHFILE")
    assert unknown.value.response["error"] == "file_not_found"

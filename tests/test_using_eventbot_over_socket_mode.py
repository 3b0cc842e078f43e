"""`eventbot socket`: the app connects to Slack over Socket Mode (SLACK_APP_TOKEN) instead of taking
HTTP requests, and people use it the same way: slash commands, buttons and events arrive as
envelopes on the websocket, each is acked by its envelope_id, and what they do shows in Slack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.apprunner import BOT_TOKEN, RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, seed_programme
from tests.slackdouble import SlackDouble
from tests.slackdouble.socketmode import SocketModeServer
from tests.test_running_a_session import channel_texts, run_cli

APP_TOKEN = "xapp-1-A0EVENTBOT-1234-socketmodetest"


@pytest.fixture
def socket_mode(slack: SlackDouble) -> SocketModeServer:
    return slack.use_socket_mode(APP_TOKEN)


@pytest.fixture
def app(slack: SlackDouble, socket_mode: SocketModeServer, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    programme = seed_programme(date.today() + timedelta(days=2), tmp_path)
    result = run_cli("event", "import", str(programme), "--channel", CHANNEL, slack=slack, database_url=database_url,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    running = start_eventbot("socket", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path,
                             wait_for_health=False, SLACK_APP_TOKEN=APP_TOKEN)
    try:
        socket_mode.wait_connected(timeout=60)
    except TimeoutError:
        running.stop()
        raise AssertionError(running.log()) from None
    yield running
    running.stop()
    assert socket_mode.unexpected == []  # no stray message, no envelope acked twice


def cards(slack: SlackDouble) -> list[dict]:
    return [m for m in slack.messages(CHANNEL) if m["text"].startswith("Question:")]


def test_the_app_connects_with_its_app_level_token(app: RunningApp, slack: SlackDouble,
                                                   socket_mode: SocketModeServer) -> None:
    [opened] = slack.calls_to("apps.connections.open")
    assert opened.status == 200 and opened.response == {"ok": True, "url": socket_mode.url}
    assert socket_mode.connections == 1


def test_commands_buttons_and_events_over_socket_mode(app: RunningApp, slack: SlackDouble) -> None:
    # A slash command whose answer is in the ack: the ack's payload is the ephemeral reply.
    unknown = slack.send_slash_command("/event", "frobnicate", user_id=CHAIR, channel_id=CHANNEL)
    assert unknown.status == 200 and "frobnicate" in unknown.json["text"]
    assert "frobnicate" in slack.ephemeral(CHANNEL, CHAIR)[-1]["text"]

    # A slash command acked at once, whose work follows: the chair starts the session.
    started = slack.send_slash_command("/event", "start", user_id=CHAIR, channel_id=CHANNEL)
    assert started.status == 200 and started.elapsed < 3
    slack.wait_for(lambda: "Now: Welcome and introduction" in channel_texts(slack), timeout=15)

    # /ask: the question's card is posted in the channel and the asker is told.
    asked = slack.send_slash_command("/ask", "Will the slides be shared?", user_id=ATTENDEES[0], channel_id=CHANNEL)
    assert asked.status == 200
    [card] = slack.wait_for(lambda: cards(slack), timeout=15)
    assert "Will the slides be shared?" in json.dumps(card["blocks"])
    slack.wait_for(lambda: any("posted" in m["text"] for m in slack.ephemeral(CHANNEL, ATTENDEES[0])), timeout=10)

    # A button: an upvote is acked, and the card follows.
    upvote = next(e for b in card["blocks"] for e in b.get("elements", []) if e.get("action_id") == "question_upvote")
    clicked = slack.send_block_action(user_id=ATTENDEES[1], action_id="question_upvote", value=upvote["value"],
                                      channel_id=CHANNEL, message_ts=card["ts"])
    assert clicked.status == 200 and clicked.json is None  # a block action's ack carries nothing
    slack.wait_for(lambda: "Upvote (1)" in json.dumps(cards(slack)[0]["blocks"]), timeout=15)

    # An event: opening the app's Home tab publishes it.
    home = slack.send_event({"type": "app_home_opened", "user": ATTENDEES[2], "channel": "D0HOME", "tab": "home",
                             "event_ts": "1700000000.000100"})
    assert home.status == 200
    published = slack.wait_for(lambda: [c for c in slack.calls_to("views.publish")
                                        if c.args.get("user_id") == ATTENDEES[2]], timeout=15)
    assert published[-1].status == 200

    # Every envelope was answered over the socket, none over HTTP (there is no app URL at all).
    assert [d.response.status for d in slack.deliveries] == [200] * len(slack.deliveries)


def test_only_the_app_level_token_opens_a_connection(slack: SlackDouble, socket_mode: SocketModeServer,
                                                      client: WebClient) -> None:
    def error_of(call) -> str:  # type: ignore[no-untyped-def]
        with pytest.raises(SlackApiError) as raised:
            call()
        return str(raised.value.response["error"])

    app_client = WebClient(token=APP_TOKEN, base_url=slack.api_url)
    assert app_client.apps_connections_open(app_token=APP_TOKEN)["url"] == socket_mode.url
    assert error_of(lambda: client.apps_connections_open(app_token=BOT_TOKEN)) == "not_allowed_token_type"
    assert error_of(lambda: app_client.apps_connections_open(app_token="xapp-1-A0OTHER-9-nope")) == "invalid_auth"
    assert error_of(lambda: app_client.chat_postMessage(channel=CHANNEL, text="hi")) == "not_allowed_token_type"

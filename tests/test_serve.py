"""`eventbot serve` as operators start it, driven by signed requests like Slack's, against the double."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_bolt.request import BoltRequest

from bot.app import build_app, make_runtime
from bot.config import load_settings
from tests.apprunner import BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, TEAM_ID, RunningApp, migrate, start_eventbot
from tests.slackdouble import SlackDouble, sign_request

CHANNEL = "C0EVENT01"
NO_EVENT_CHANNEL = "C0RANDOM1"
ATTENDEE = "U0ATTEND1"


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    double = SlackDouble(team_id=TEAM_ID, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, bot_user_id=BOT_USER_ID)
    double.start()
    double.add_user(ATTENDEE, "ada", real_name="Ada Attendee", tz="Europe/London")
    double.add_channel(CHANNEL, "provider-collaboratives", members=[ATTENDEE])
    double.add_channel(NO_EVENT_CHANNEL, "random", members=[ATTENDEE])
    yield double
    double.stop()


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


def test_health_check_answers(app: RunningApp) -> None:
    assert app.get("/healthz")[0] == 200


def _help(slack: SlackDouble, user: str, text: str = "help") -> dict:
    before = len(slack.response_url_posts)
    response = slack.send_slash_command("/event", text, user_id=user, channel_id=CHANNEL)
    assert response.status == 200
    return slack.wait_for(lambda: slack.response_url_posts[before:], timeout=10)[-1]


def test_signed_event_help_lists_only_what_the_person_may_do(app: RunningApp, slack: SlackDouble) -> None:
    reply = _help(slack, ATTENDEE)
    assert reply["response_type"] == "ephemeral"
    shown = json.dumps(reply["blocks"])
    assert "/event help" in shown and "/ask" in shown and "/ask top" in shown
    # An attendee is not offered what only chairs and organisers may do.
    assert "/event next" not in shown and "/event setup" not in shown and "/event report" not in shown
    slack.add_user("U0ADMIN01", "admin", is_admin=True)
    slack.add_member(CHANNEL, "U0ADMIN01")
    admin = json.dumps(_help(slack, "U0ADMIN01")["blocks"])  # a workspace admin may set events up
    assert "/event setup" in admin and "/event report" in admin and "/event next" in admin


def test_event_with_no_subcommand_shows_help(app: RunningApp, slack: SlackDouble) -> None:
    assert "What you can do with eventbot" in _help(slack, ATTENDEE, "")["text"]


def test_unknown_subcommand_is_named_and_escaped(app: RunningApp, slack: SlackDouble) -> None:
    response = slack.send_slash_command("/event", "<!channel> please", user_id=ATTENDEE, channel_id=CHANNEL)
    assert response.status == 200
    text = response.json["text"]
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "/event help" in text


def test_ask_where_no_event_runs_gets_a_helpful_answer(app: RunningApp, slack: SlackDouble) -> None:
    response = slack.send_slash_command("/ask", "What is a provider collaborative?", user_id=ATTENDEE, channel_id=NO_EVENT_CHANNEL)
    assert response.status == 200
    assert response.json["response_type"] == "ephemeral"
    assert "no live event in this channel" in response.json["text"]
    assert slack.calls_to("chat.postMessage") == []


def _slash_body(text: str) -> bytes:
    return urllib.parse.urlencode(
        {"command": "/event", "text": text, "team_id": TEAM_ID, "user_id": ATTENDEE, "channel_id": CHANNEL}
    ).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": "{now}", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "{six_minutes_ago}", "X-Slack-Signature": "{signed_six_minutes_ago}"},
    ],
    ids=["unsigned", "wrong-signature", "six-minutes-old"],
)
def test_requests_not_signed_by_slack_are_refused(app: RunningApp, slack: SlackDouble, headers: dict[str, str]) -> None:
    body = _slash_body("help")
    now = int(time.time())
    old = now - 6 * 60
    values = {"now": str(now), "six_minutes_ago": str(old), "signed_six_minutes_ago": sign_request(SIGNING_SECRET, old, body)}
    filled = {k: v.format(**values) for k, v in headers.items()}
    filled["Content-Type"] = "application/x-www-form-urlencoded"
    response = slack.send_raw(body, filled)
    assert response.status == 401


def test_a_correctly_signed_raw_request_is_accepted(app: RunningApp, slack: SlackDouble) -> None:
    """The refusal above is about the signature, not about the raw request's shape."""
    body = _slash_body("help")
    now = int(time.time())
    response = slack.send_raw(
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(now),
            "X-Slack-Signature": sign_request(SIGNING_SECRET, now, body),
        },
    )
    assert response.status == 200


def _wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_home_tab_is_published_once_even_when_slack_redelivers(app: RunningApp, slack: SlackDouble) -> None:
    event = {"type": "app_home_opened", "user": ATTENDEE, "channel": "D0HOME001", "tab": "home", "event_ts": "1732800000.000100"}
    first = slack.send_event(event, event_id="Ev0HOME001")
    again = slack.send_event(event, event_id="Ev0HOME001", retry_num=1, retry_reason="http_timeout")
    assert first.status == 200 and again.status == 200
    _wait_for(lambda: ATTENDEE in slack.home_views)
    time.sleep(0.5)  # give a wrongly processed redelivery the time to show itself
    assert len(slack.calls_to("views.publish")) == 1


def test_rate_limited_calls_are_retried_after_retry_after(app: RunningApp, slack: SlackDouble) -> None:
    slack.rate_limit("views.publish", per="workspace", calls=1, period=1)
    for n, user in enumerate([ATTENDEE, ATTENDEE]):
        slack.send_event({"type": "app_home_opened", "user": user, "tab": "home", "event_ts": f"17328000{n}.000100"})
    _wait_for(lambda: len([c for c in slack.calls_to("views.publish") if c.status == 200]) == 2, timeout=15)
    assert any(c.status == 429 for c in slack.calls_to("views.publish"))


@pytest.mark.parametrize("mode", ["http_500", "drop"])
def test_server_errors_and_dropped_connections_are_retried(app: RunningApp, slack: SlackDouble, mode: str) -> None:
    slack.fail_next("views.publish", count=2, mode=mode)
    slack.send_event({"type": "app_home_opened", "user": ATTENDEE, "tab": "home", "event_ts": "1732800001.000100"})
    _wait_for(lambda: ATTENDEE in slack.home_views, timeout=15)


def test_a_failing_listener_answers_with_a_message_not_a_500(slack: SlackDouble, database_url: str) -> None:
    """The composition root's error handler, for a bug in a listener: the person is told, Slack gets a 200.

    No payload reaches a listener that fails on it any more (bot/web.py and handlers/payloads.py
    refuse them first), so a listener that fails is added to the app as it is built for serving.
    """
    migrate(database_url)
    runtime = make_runtime(load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                          "SLACK_API_URL": slack.api_url, "DATABASE_URL": database_url}))
    app = build_app(runtime, verify_token=False)

    def fails(ack: object) -> None:
        raise RuntimeError("a bug")

    app.command("/fails")(fails)
    body = urllib.parse.urlencode({"command": "/fails", "text": "", "team_id": TEAM_ID, "user_id": ATTENDEE,
                                   "channel_id": CHANNEL}).encode()
    now = int(time.time())
    try:
        response = app.dispatch(BoltRequest(body=body.decode(), headers={
            "content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": str(now),
            "x-slack-signature": sign_request(SIGNING_SECRET, now, body)}))
    finally:
        runtime.engine.dispose()
    assert response.status == 200
    assert "nothing was changed" in json.loads(response.body)["text"]


def test_the_home_tab_shows_each_person_what_they_may_do(app: RunningApp, slack: SlackDouble) -> None:
    slack.add_user("U0ADMIN01", "admin", is_admin=True)
    for user in (ATTENDEE, "U0ADMIN01"):
        before = len(slack.calls_to("views.publish"))
        slack.send_event({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"})
        slack.wait_for(lambda: len(slack.calls_to("views.publish")) > before, timeout=10)
    attendee, admin = (json.dumps(call.args) for call in slack.calls_to("views.publish")[-2:])
    assert "/ask top" in attendee and "/event setup" not in attendee and "/event hold" not in attendee
    assert "/event setup" in admin and "/event hold" in admin

"""The check in front of Bolt on POST /slack/events, called as a WSGI server calls it.

The scenario tests (test_serve.py, test_bad_input.py) send real HTTP, whose client always writes a
correct Content-Length and ASCII headers; the cases here are the ones only a hand-built environ reaches.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest
from slack_bolt import App
from sqlalchemy import Engine

from bot import db
from bot.web import PARSED_BODY, SLACK_PATH, EventbotWsgi
from tests.slackdouble import sign_request

SECRET = "5ec2e7"


@pytest.fixture
def wsgi() -> Iterator[EventbotWsgi]:
    engine: Engine = db.make_engine("sqlite://")
    bolt = App(token="xoxb-x", signing_secret=SECRET, token_verification_enabled=False)
    yield EventbotWsgi(bolt, engine, signing_secret=SECRET)
    engine.dispose()


def post(wsgi: EventbotWsgi, body: bytes, *, content_length: str | None = None, signature: str | None = None,
         timestamp: str | None = None) -> tuple[str, bytes]:
    now = int(time.time())
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": SLACK_PATH, "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)) if content_length is None else content_length,
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": str(now) if timestamp is None else timestamp,
        "HTTP_X_SLACK_SIGNATURE": sign_request(SECRET, now, body) if signature is None else signature,
        "wsgi.input": io.BytesIO(body),
    }
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list) -> None:
        seen["status"] = status

    answer = b"".join(wsgi(environ, start_response))
    return seen["status"], answer


CHALLENGE = json.dumps({"type": "url_verification", "token": "x", "challenge": "c4a11e9e"}).encode()


def test_a_signed_request_reaches_bolt_with_its_body_intact(wsgi: EventbotWsgi) -> None:
    status, answer = post(wsgi, CHALLENGE)
    assert status.startswith("200")
    assert b"c4a11e9e" in answer


@pytest.mark.parametrize("length", ["many", "-1", "1e3"])
def test_a_content_length_that_is_not_a_number_is_refused_400(wsgi: EventbotWsgi, length: str) -> None:
    status, answer = post(wsgi, CHALLENGE, content_length=length)
    assert status.startswith("400")
    assert b"Content-Length" in answer and answer.count(b"\n") == 1


def test_a_signature_header_that_is_not_ascii_is_refused_401(wsgi: EventbotWsgi) -> None:
    # WSGI servers decode header bytes as latin-1; hmac.compare_digest refuses non-ASCII text.
    status, _ = post(wsgi, CHALLENGE, signature="v0=" + "é" * 64)
    assert status.startswith("401")


# Signed bodies Bolt would trip over before any listener runs: it dispatches on `type` and takes
# `event`, `actions[0]`, `view` and every id for granted.
MISSHAPEN = {
    "event-null": {"type": "event_callback", "team_id": "T0EVENTBOT", "event_id": "Ev1", "event": None},
    "event-a-string": {"type": "event_callback", "team_id": "T0EVENTBOT", "event": "message"},
    "event-without-type": {"type": "event_callback", "team_id": "T0EVENTBOT", "event": {"user": "U0ATTEND01"}},
    "event-user-a-number": {"type": "event_callback", "team_id": "T0EVENTBOT",
                            "event": {"type": "member_joined_channel", "user": 5, "channel": "C0PROVCOLL"}},
    "event-channel-a-number": {"type": "event_callback", "team_id": "T0EVENTBOT",
                               "event": {"type": "message", "user": "U0ATTEND01", "channel": 5}},
    "edited-message-user-a-number": {"type": "event_callback", "team_id": "T0EVENTBOT", "event": {
        "type": "message", "subtype": "message_changed", "channel": "C0PROVCOLL", "message": {"user": 5}}},
    "team-id-a-number": {"type": "event_callback", "team_id": 5, "event": {"type": "app_home_opened"}},
    "event-id-a-list": {"type": "event_callback", "team_id": "T0EVENTBOT", "event_id": ["x"],
                        "event": {"type": "app_home_opened", "user": "U0ATTEND01"}},
    "authorizations-not-objects": {"type": "event_callback", "authorizations": [5],
                                   "event": {"type": "app_home_opened"}},
    "no-actions": {"type": "block_actions", "team": {"id": "T0EVENTBOT"}, "actions": []},
    "actions-a-string": {"type": "block_actions", "team": {"id": "T0EVENTBOT"}, "actions": "x"},
    "action-without-id": {"type": "block_actions", "team": {"id": "T0EVENTBOT"}, "actions": [{}]},
    "user-id-a-number": {"type": "block_actions", "user": {"id": 5}, "actions": [{"action_id": "a"}]},
    "view-without-type": {"type": "view_submission", "view": {"callback_id": "question_ask"}},
    "view-callback-null": {"type": "view_submission", "view": {"type": "modal", "callback_id": None}},
    "response-urls-not-urls": {"type": "view_submission", "view": {"type": "modal", "callback_id": "x"},
                               "response_urls": [5]},
    "shortcut-without-callback": {"type": "message_action", "team": {"id": "T0EVENTBOT"}},
    "command-without-channel": {"command": "/ask", "team_id": "T0EVENTBOT", "user_id": "U0ATTEND01"},
    # Ids go on to columns of 32 characters: PostgreSQL refuses a longer one as it is stored.
    "command-user-too-long": {"command": "/ask", "team_id": "T0EVENTBOT", "user_id": "U" * 33,
                              "channel_id": "C0PROVCOLL"},
    "command-user-empty": {"command": "/ask", "team_id": "T0EVENTBOT", "user_id": "", "channel_id": "C0PROVCOLL"},
    "event-user-not-an-id": {"type": "event_callback", "team_id": "T0EVENTBOT",
                             "event": {"type": "member_joined_channel", "user": "<@U1>", "channel": "C0PROVCOLL"}},
}


@pytest.mark.parametrize("body", MISSHAPEN.values(), ids=MISSHAPEN.keys())
def test_a_signed_body_not_shaped_as_slack_sends_it_is_refused_400(wsgi: EventbotWsgi, body: dict,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    status, answer = post(wsgi, json.dumps(body).encode())
    assert status.startswith("400"), (status, answer)
    assert b"not shaped as Slack sends it" in answer and answer.count(b"\n") == 1
    assert [r.levelname for r in caplog.records if r.name == "bot.web"] == ["WARNING"]


def test_what_slack_sends_reaches_bolt(wsgi: EventbotWsgi, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids as strings or as objects holding one, null where Slack leaves something out."""
    reached: list[tuple[bytes, dict]] = []

    def bolt(environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
        text, parsed = environ[PARSED_BODY]  # handed to Bolt parsed once, with the text it came from
        reached.append((text.encode(), parsed))
        start_response("200 OK", [])
        return [b""]

    monkeypatch.setattr(wsgi, "slack", bolt)
    event = {"type": "event_callback", "team_id": "T0EVENTBOT", "event_id": "Ev1", "enterprise_id": None,
             "authorizations": [{"enterprise_id": None, "team_id": "T0EVENTBOT", "user_id": "U0EVENTBOT"}],
             "event": {"type": "message", "subtype": "message_changed", "channel": "C0PROVCOLL", "hidden": True,
                       "message": {"type": "message", "user": "U0ATTEND01", "text": "hi", "ts": "1.2"},
                       "previous_message": {"type": "message", "user": "U0ATTEND01", "ts": "1.2"}}}
    action = {"type": "block_actions", "team": {"id": "T0EVENTBOT"}, "enterprise": None,
              "user": {"id": "U0ATTEND01", "team_id": "T0EVENTBOT"}, "channel": {"id": "C0PROVCOLL"},
              "actions": [{"action_id": "question_upvote", "value": "1"}], "response_url": "https://x.example/r"}
    submission = {"type": "view_submission", "team": {"id": "T0EVENTBOT"}, "user": {"id": "U0ATTEND01"},
                  "view": {"type": "modal", "callback_id": "question_ask", "state": {"values": {}}},
                  "response_urls": []}
    bodies = [json.dumps(body).encode() for body in (event, action, submission)]
    for body in bodies:
        status, answer = post(wsgi, body)
        assert status.startswith("200"), (status, answer)
    assert reached == [(body, json.loads(body)) for body in bodies]


def test_whatever_else_bolt_trips_on_is_a_400_not_a_500(wsgi: EventbotWsgi, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    def trips(environ: dict, start_response: object) -> list[bytes]:
        raise TypeError("argument of type 'int' is not iterable")

    monkeypatch.setattr(wsgi, "slack", trips)
    status, answer = post(wsgi, CHALLENGE)
    assert status.startswith("400"), (status, answer)
    assert [r.getMessage() for r in caplog.records if r.name == "bot.web"] == [
        ("refused a request to /slack/events that Bolt could not read: "
         "TypeError: argument of type 'int' is not iterable")]

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
from bot.web import SLACK_PATH, EventbotWsgi
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

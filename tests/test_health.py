"""GET /healthz: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest
from slack_bolt import App
from sqlalchemy import Engine

from bot import db
from bot.web import EventbotWsgi


def _get(wsgi: EventbotWsgi, path: str) -> tuple[str, bytes]:
    environ: dict = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list) -> None:
        seen["status"] = status

    body = b"".join(wsgi(environ, start_response))
    return seen["status"], body


def _bare_app() -> App:
    return App(token="xoxb-x", signing_secret="s", token_verification_enabled=False)


def test_healthy_when_the_migrated_database_answers(engine: Engine) -> None:
    status, body = _get(EventbotWsgi(_bare_app(), engine, signing_secret="s"), "/healthz")
    assert status.startswith("200")
    assert b'"ok"' in body


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://nobody@127.0.0.1:1/nowhere?connect_timeout=2",
        "sqlite:///{tmp}/never-migrated.sqlite3",
    ],
    ids=["unreachable", "empty"],
)
def test_unavailable_when_the_database_does_not_answer(url: str, tmp_path: Path) -> None:
    engine = db.make_engine(url.format(tmp=tmp_path))
    try:
        status, body = _get(EventbotWsgi(_bare_app(), engine, signing_secret="s"), "/healthz")
    finally:
        engine.dispose()
    assert status.startswith("503")
    assert b"database unavailable" in body


def test_other_paths_are_not_found(engine: Engine) -> None:
    status, _ = _get(EventbotWsgi(_bare_app(), engine, signing_secret="s"), "/nope")
    assert status.startswith("404")

"""The WSGI application that a production server runs: Slack's endpoint and a health check."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any, Callable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine

from bot.db import database_answers

logger = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

StartResponse = Callable[..., Any]


class EventbotWsgi:
    def __init__(self, app: App, engine: Engine) -> None:
        self.slack = SlackRequestHandler(app, path=SLACK_PATH)
        self.engine = engine

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self._health(start_response)
        return self.slack(environ, start_response)

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        healthy = database_answers(self.engine)
        status = "200 OK" if healthy else "503 Service Unavailable"
        body = json.dumps({"status": "ok" if healthy else "database unavailable"}).encode()
        if not healthy:
            logger.warning("health check failed: the database does not answer")
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

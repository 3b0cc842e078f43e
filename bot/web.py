"""The WSGI application that a production server runs: Slack's endpoint and a health check."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Iterable
from typing import Any, Callable
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from sqlalchemy import Engine

from bot.db import database_answers
from bot.models import SLACK_ID

logger = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

StartResponse = Callable[..., Any]

# Slack's own rule: a request signed more than five minutes ago may be a replay.
SIGNATURE_MAX_AGE_SECONDS = 300
_DIGITS = re.compile(r"[0-9]+")


class Refused(Exception):
    """A request to the Slack endpoint that never reaches Bolt; the message is one line for the log."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


# Where the checked request's body waits for Bolt in the WSGI environ: (text, parsed).
PARSED_BODY = "eventbot.parsed_body"


class _ParsedOnce(SlackRequestHandler):
    """Bolt's WSGI handler, handed the body already parsed for the checks below.

    Parsing an interaction's form body (URL-decoding the whole message it came from) was the
    largest single cost of a click in a vote burst, and Bolt would have done it a second time.
    Bolt takes a parsed body only from Socket Mode, so the request is built as one and then
    marked as the HTTP request it is (the text kept, as for any HTTP request).
    """

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        parsed = request.environ.get(PARSED_BODY)
        if parsed is None:
            return super().dispatch(request)
        text, body = parsed
        bolt_request = BoltRequest(body=body, query=request.query_string, headers=request.get_headers(),
                                   mode="socket_mode")
        bolt_request.raw_body, bolt_request.mode = text, "http"
        return self.app.dispatch(bolt_request)


class EventbotWsgi:
    def __init__(self, app: App, engine: Engine, *, signing_secret: str) -> None:
        self.slack = _ParsedOnce(app, path=SLACK_PATH)
        self.engine = engine
        self.signing_secret = signing_secret.encode()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self._health(start_response)
        if path == SLACK_PATH and environ.get("REQUEST_METHOD") == "POST":
            try:
                environ[PARSED_BODY] = self._checked_body(environ)
            except Refused as refusal:
                logger.warning("refused a request to %s: %s", SLACK_PATH, refusal)
                return _plain(start_response, refusal.status, str(refusal))
            try:
                return self.slack(environ, start_response)
            except Exception as error:  # noqa: BLE001 - whatever else Bolt trips on is the request's fault
                # Bolt reads the ids out of the body before any listener or error handler runs; a
                # shape the check above did not foresee would end as a 500, which Slack retries.
                logger.warning("refused a request to %s that Bolt could not read: %s: %s", SLACK_PATH,
                               type(error).__name__, str(error)[:200])
                return _plain(start_response, "400 Bad Request", "the body is not shaped as Slack sends it")
        return self.slack(environ, start_response)

    def _checked_body(self, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The body of a request Slack signed and Bolt can read, as text and parsed; Refused otherwise.

        Bolt parses the body before it verifies the signature, and slack_sdk's verifier turns the
        timestamp into an int unguarded: a malformed request would end as a traceback and a 500.
        So the signature is checked here first, over the raw bytes as Slack signs them, and then
        the body is read the way Bolt will read it.
        """
        length_header = environ.get("CONTENT_LENGTH") or "0"
        if not _DIGITS.fullmatch(length_header):
            raise Refused("400 Bad Request", "the Content-Length header is not a number")
        raw = environ["wsgi.input"].read(int(length_header))
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not _DIGITS.fullmatch(timestamp):
            raise Refused("401 Unauthorized", "the request is not signed by Slack (no timestamp, or not a number)")
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
            raise Refused("401 Unauthorized", "the request's signature is more than five minutes old")
        expected = b"v0=" + hmac.new(self.signing_secret, b"v0:" + timestamp.encode() + b":" + raw,
                                     hashlib.sha256).hexdigest().encode()
        # WSGI hands header values over as latin-1 text, so this gives back the bytes that were sent.
        if not hmac.compare_digest(expected, signature.encode("latin-1", "replace")):
            raise Refused("401 Unauthorized", "the request is not signed by Slack (the signature does not match)")
        body = _parsed_as_bolt_does(raw, environ.get("CONTENT_TYPE"))
        if not isinstance(body, dict):
            raise Refused("400 Bad Request", "the body is neither form data nor a JSON object")
        problem = _envelope_problem(body)
        if problem:
            raise Refused("400 Bad Request", f"the body is not shaped as Slack sends it: {problem}")
        return raw.decode("utf-8"), body

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        healthy = database_answers(self.engine)
        status = "200 OK" if healthy else "503 Service Unavailable"
        body = json.dumps({"status": "ok" if healthy else "database unavailable"}).encode()
        if not healthy:
            logger.warning("health check failed: the database does not answer")
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def _parsed_as_bolt_does(raw: bytes, content_type: str | None) -> object:
    """What Bolt's body parser would make of these bytes, or None where it would raise.

    The same rules as slack_bolt.request.internals.parse_body, so whatever passes here is a dict
    there too: JSON for a JSON content type or a body starting with "{"; otherwise form data, whose
    `payload` field (interactions) holds JSON. A form without one (a slash command) is its fields.
    """
    try:
        text = raw.decode("utf-8")
        if not text:
            return {}
        if (content_type or "").split(";")[0] == "application/json" or text.startswith("{"):
            return json.loads(text)
        fields = dict(parse_qsl(text, keep_blank_values=True))
        payload = fields.get("payload")
        return fields if payload is None else json.loads(payload)
    except (ValueError, RecursionError):
        # UnicodeDecodeError and JSONDecodeError are ValueErrors; JSON nested deeply enough
        # exhausts the parser's recursion.
        return None


# Where Slack names a team, user, channel or enterprise, Bolt reads a string or an object holding
# one under "id", and expects a string under the other keys; anything else makes it raise before
# any listener runs. It looks for them at the top and inside the nested objects. The ids go on to
# the database, whose columns hold them as Slack writes them.
_ID_HOLDERS = ("team", "user", "channel", "enterprise")
_IDS = ("team_id", "user_id", "channel_id", "enterprise_id", "app_installed_team_id")
_STRINGS = ("event_id", "thread_ts", "response_url", "trigger_id", "type", "subtype", "command", "callback_id")
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread", "view")


def _envelope_problem(body: dict[str, Any], depth: int = 0) -> str | None:
    """What in a body Bolt (or eventbot's middleware) cannot read, or None: Slack's own shapes pass.

    Bolt dispatches on `type` and takes `event`, `actions[0]`, `view` and the ids for granted.
    """
    for key in _ID_HOLDERS:
        holder = body.get(key)
        if isinstance(holder, dict):
            holder = holder.get("id")
        if holder is not None and not _is_slack_id(holder):
            return f"{key} is neither an id nor an object with one"
    for key in _IDS:
        if body.get(key) is not None and not _is_slack_id(body[key]):
            return f"{key} is not an id"
    for key in _STRINGS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"{key} is not a string"
    for key in _NESTED:
        inner = body.get(key)
        if inner is None:
            continue
        if not isinstance(inner, dict):
            return f"{key} is not an object"
        problem = _envelope_problem(inner, depth + 1) if depth < 2 else None
        if problem:
            return f"{key}: {problem}"
    if depth > 0:
        return None
    authorizations = body.get("authorizations")
    if authorizations is not None:
        if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
            return "authorizations is not a list of objects"
        problem = _envelope_problem(authorizations[0], depth + 1) if authorizations else None
        if problem:
            return f"authorizations: {problem}"
    response_urls = body.get("response_urls")
    if response_urls is not None and not (isinstance(response_urls, list) and all(
            isinstance(u, dict) and isinstance(u.get("response_url"), str) for u in response_urls)):
        return "response_urls is not a list of response URLs"
    if "command" in body and not all(_is_slack_id(body.get(key), or_empty=False)
                                     for key in ("user_id", "channel_id")):
        return "a slash command without its user or channel"
    kind = body.get("type")
    if kind == "event_callback" and not isinstance((body.get("event") or {}).get("type"), str):
        return "an event_callback without an event type"
    if kind == "block_actions":
        actions = body.get("actions")
        if not (isinstance(actions, list) and actions
                and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)):
            return "block_actions without actions"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view") or {}
        if not (isinstance(view.get("callback_id"), str) and isinstance(view.get("type"), str)):
            return f"a {kind} without a view"
    if kind in ("shortcut", "message_action") and not isinstance(body.get("callback_id"), str):
        return f"a {kind} without a callback_id"
    return None


def _is_slack_id(value: object, *, or_empty: bool = True) -> bool:
    """An id as Slack writes it; Slack leaves some empty (an enterprise's, outside Enterprise Grid)."""
    return isinstance(value, str) and ((or_empty and value == "") or SLACK_ID.fullmatch(value) is not None)


def _plain(start_response: StartResponse, status: str, message: str) -> Iterable[bytes]:
    body = (message + "\n").encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]

"""Request handling for everything the app calls: Web API methods, response URLs, upload URLs.

HTTP-framework free: ``ApiDispatcher.handle`` takes an ``HttpRequest`` and returns an
``HttpReply``; server.py adapts it to http.server.
"""

from __future__ import annotations

import copy
import json
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from .faults import FaultInjector
from .method_table import MethodSpec
from .methods import (
    HANDLERS,
    JSON_ARGS,
    ApiError,
    Args,
    Behaviour,
    Context,
    file_visible_to_bot,
    missing_argument_error,
    post_to_response_url,
)
from .ratelimit import RateLimiter
from .state import RESPONSE_URL_MAX_USES, RESPONSE_URL_TTL_SECONDS, Workspace

API_PREFIX = "/api/"
RESPONSE_PREFIX = "/response/"
UPLOAD_PREFIX = "/upload/v1/"
FILES_PREFIX = "/files/"  # a file's url_private: read with the bot token as a Bearer header
# Methods that take the app-level token (xapp-…) instead of the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@dataclass(frozen=True)
class HttpRequest:
    verb: str
    path: str
    query: str
    headers: Mapping[str, str]  # case-insensitive mapping (http.server's message object)
    body: bytes


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> HttpReply:
        return cls(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )


@dataclass(frozen=True)
class RecordedCall:
    method: str
    args: dict[str, Any]  # JSON-string arguments (blocks, view, ...) already decoded
    status: int  # HTTP status; 0 when the connection was dropped
    response: dict[str, Any] | None
    time: float  # the double's clock when the call arrived


class ApiDispatcher:
    def __init__(
        self,
        *,
        workspace: Workspace,
        methods: Mapping[str, MethodSpec],
        behaviour: Behaviour,
        limiter: RateLimiter,
        faults: FaultInjector,
        bot_token: str,
        base_url: Callable[[], str],
        deliver_events: Callable[[list[dict[str, Any]]], None],
    ) -> None:
        self._ws = workspace
        self._methods = methods
        self._behaviour = behaviour
        self._limiter = limiter
        self._faults = faults
        # The workspace's live bot tokens, each with when it expires (None: never). An app with
        # token rotation on holds two for a while: a refreshed token and the one it replaced.
        self._bot_tokens: dict[str, float | None] = {bot_token: None} if bot_token else {}
        self._tokens_lock = threading.Lock()
        self._revoked_tokens: set[str] = set()
        self._base_url = base_url
        self._deliver_events = deliver_events
        self._calls: list[RecordedCall] = []
        self._calls_lock = threading.Lock()
        self.internal_errors: list[str] = []
        # Set when the app is removed from the workspace: its bot token is dead from then on.
        self.bot_token_revoked = False
        # The app-level token (xapp-…) that apps.connections.open takes, once Socket Mode is on.
        self.app_token: str | None = None

    # ------------------------------------------------------------------ tokens

    def knows_token(self, token: str) -> bool:
        with self._tokens_lock:
            return token in self._bot_tokens or token in self._revoked_tokens

    def accept_token(self, token: str, *, expires_at: float | None = None) -> None:
        """An install (or a refresh) gave the app this bot token for the workspace."""
        with self._tokens_lock:
            self._bot_tokens[token] = expires_at
        self.bot_token_revoked = False

    def revoke_tokens(self) -> None:
        """The app was removed: its tokens answer `account_inactive` from now on, even after a new install."""
        with self._tokens_lock:
            self._revoked_tokens.update(self._bot_tokens)
            self._bot_tokens.clear()
        self.bot_token_revoked = True

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[RecordedCall]:
        with self._calls_lock:
            return list(self._calls)

    def _record(
        self, method: str, args: dict[str, Any], status: int, response: dict[str, Any] | None, at: float
    ) -> None:
        with self._calls_lock:
            self._calls.append(RecordedCall(method, copy.deepcopy(args), status, copy.deepcopy(response), at))

    # ------------------------------------------------------------------ routing

    def handle(self, request: HttpRequest) -> HttpReply:
        try:
            if request.path.startswith(API_PREFIX):
                return self._api_call(request, request.path[len(API_PREFIX) :])
            if request.path.startswith(RESPONSE_PREFIX) and request.verb == "POST":
                return self._response_url(request, request.path[len(RESPONSE_PREFIX) :])
            if request.path.startswith(UPLOAD_PREFIX) and request.verb == "POST":
                return self._upload(request, request.path[len(UPLOAD_PREFIX) :])
            if request.path.startswith(FILES_PREFIX) and request.verb == "GET":
                return self._download(request, request.path[len(FILES_PREFIX) :])
            return HttpReply.json(404, {"ok": False, "error": "not_found"})
        except Exception:  # noqa: BLE001 - a bug in the double must surface, not hang the app
            detail = traceback.format_exc()
            self.internal_errors.append(detail)
            return HttpReply.json(500, {"ok": False, "error": "double_internal_error", "detail": detail})

    # ------------------------------------------------------------------ Web API

    def _api_call(self, request: HttpRequest, method: str) -> HttpReply:
        self._faults.wait_if_stalled(method)
        arrived = self._ws.clock()
        spec = self._methods.get(method)
        if spec is None:
            body = {"ok": False, "error": "unknown_method", "req_method": method}
            return self._finish(method, {}, 404, body, arrived)

        warnings: list[str] = []
        header_token = _bearer_token(request.headers.get("Authorization"))
        try:
            args, body_token = _parse_arguments(request, warnings)
        except ApiError as problem:
            return self._finish(method, {}, problem.status, problem.body(), arrived)
        token = header_token or body_token

        failure = self._faults.next_failure(method)
        acted_then_failed = failure if failure is not None and failure.mode.endswith("_after") else None
        if failure is not None and acted_then_failed is None:
            if failure.mode == "drop":
                self._record(method, args, 0, None, arrived)
                return HttpReply(0, drop=True)
            status = 500 if failure.mode == "http_500" else 200
            return self._finish(method, args, status, {"ok": False, "error": failure.error}, arrived)

        if not token:
            return self._finish(method, args, 200, {"ok": False, "error": "not_authed"}, arrived)
        if method in APP_TOKEN_METHODS or token.startswith("xapp-"):
            # Socket Mode's connection takes the app-level token, and nothing else does.
            if token.startswith("xoxb-") or (method not in APP_TOKEN_METHODS and token == self.app_token):
                return self._finish(method, args, 200, {"ok": False, "error": "not_allowed_token_type"}, arrived)
            if token != self.app_token:
                return self._finish(method, args, 200, {"ok": False, "error": "invalid_auth"}, arrived)
        else:
            with self._tokens_lock:
                known, expires = token in self._bot_tokens, self._bot_tokens.get(token)
            if not known and token not in self._revoked_tokens:
                return self._finish(method, args, 200, {"ok": False, "error": "invalid_auth"}, arrived)
            if expires is not None and self._ws.wall_clock() >= expires:
                return self._finish(method, args, 200, {"ok": False, "error": "token_expired"}, arrived)
        if self.bot_token_revoked or token in self._revoked_tokens:
            # What a bot token answers once its app has been removed (Slack's "account_inactive":
            # the token is for a deleted user or workspace when using a bot token).
            return self._finish(method, args, 200, {"ok": False, "error": "account_inactive"}, arrived)

        retry_after = self._limiter.acquire(method, _channel_of(args))
        if retry_after is not None:
            return self._finish(
                method, args, 429, {"ok": False, "error": "ratelimited"}, arrived, {"Retry-After": str(retry_after)}
            )

        handler = HANDLERS.get(method)
        if handler is None:
            body = {"ok": False, "error": "not_implemented_in_double", "method": method}
            return self._finish(method, args, 501, body, arrived)

        missing = missing_argument_error(spec, args)
        if missing is not None:
            return self._finish(method, args, missing.status, _with_warnings(missing.body(), warnings), arrived)
        warnings += [f"unknown_argument:{name}" for name in args if not spec.knows_arg(name)]

        context = Context(
            method=method,
            spec=spec,
            args=Args(args),
            ws=self._ws,
            behaviour=self._behaviour,
            base_url=self._base_url(),
            warnings=warnings,
        )
        with self._ws.lock:
            try:
                body, status = handler(context), 200
            except ApiError as problem:
                body, status = problem.body(), problem.status
            body = copy.deepcopy(body)
        if context.events:
            self._deliver_events(context.events)
        if acted_then_failed is not None:
            if acted_then_failed.mode == "drop_after":
                self._record(method, args, 0, None, arrived)
                return HttpReply(0, drop=True)
            return self._finish(method, args, 500, {"ok": False, "error": acted_then_failed.error}, arrived)
        return self._finish(method, args, status, _with_warnings(body, context.warnings), arrived)

    def _finish(
        self,
        method: str,
        args: dict[str, Any],
        status: int,
        body: dict[str, Any],
        arrived: float,
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        self._record(method, args, status, body, arrived)
        return HttpReply.json(status, body, headers)

    # ------------------------------------------------------------------ response URLs

    def _response_url(self, request: HttpRequest, url_id: str) -> HttpReply:
        ws = self._ws
        try:
            payload = json.loads(request.body.decode() or "null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = None
        events: list[dict[str, Any]] = []
        with ws.lock:
            response_url = ws.response_urls.get(url_id)
            if response_url is None:
                return HttpReply.json(404, {"ok": False, "error": "no_service"})
            if ws.clock() - response_url.created_at > RESPONSE_URL_TTL_SECONDS:
                return HttpReply.json(404, {"ok": False, "error": "expired_url"})
            if response_url.uses >= RESPONSE_URL_MAX_USES:
                return HttpReply.json(404, {"ok": False, "error": "used_url"})
            response_url.uses += 1
            try:
                record = post_to_response_url(ws, self._behaviour, response_url, payload, events)
            except ApiError as problem:
                posted = payload if isinstance(payload, dict) else {"raw": request.body.decode(errors="replace")}
                ws.response_url_posts.append({**_response_fields(posted), "ok": False, "error": problem.error})
                body = problem.body()
                return HttpReply.json(400, body)
            ws.response_url_posts.append({**record, "ok": True})
        if events:
            self._deliver_events(events)
        return HttpReply.json(200, {"ok": True})

    # ------------------------------------------------------------------ file uploads

    def _upload(self, request: HttpRequest, file_id: str) -> HttpReply:
        content = request.body
        content_type = request.headers.get("Content-Type") or ""
        if content_type.startswith("multipart/form-data"):
            fields = _parse_multipart(content_type, request.body)
            content = next((v for v in fields.values() if isinstance(v, bytes)), b"")
        with self._ws.lock:
            pending = self._ws.pending_uploads.get(file_id)
            if pending is None:
                return HttpReply(404, b"file_not_found", {"Content-Type": "text/plain"})
            pending["content"] = bytes(content)
        return HttpReply(200, f"OK - {len(content)}".encode(), {"Content-Type": "text/plain; charset=utf-8"})


    def _download(self, request: HttpRequest, file_id: str) -> HttpReply:
        """url_private: the file's bytes for the bot's token; without it Slack answers its sign-in
        page (HTML, 200), which an app that forgot the header would read as the file."""
        with self._ws.lock:
            stored = self._ws.files.get(file_id)
            token = _bearer_token(request.headers.get("Authorization"))
            with self._tokens_lock:
                authorised = (token in self._bot_tokens and token not in self._revoked_tokens
                              and not self.bot_token_revoked)
            if stored is None or not authorised or not file_visible_to_bot(self._ws, stored):
                page = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"
                return HttpReply(200, page, {"Content-Type": "text/html; charset=utf-8"})
            return HttpReply(200, bytes(stored["content"]), {"Content-Type": stored["file"]["mimetype"]})


# ====================================================================== parsing helpers


def _bearer_token(value: str | None) -> str | None:
    if value and value.lower().startswith("bearer "):
        return value[7:].strip() or None
    return None


def _parse_arguments(request: HttpRequest, warnings: list[str]) -> tuple[dict[str, Any], str | None]:
    """Arguments from query string and body, plus a token given as an argument."""
    args: dict[str, Any] = dict(parse_qsl(request.query, keep_blank_values=True))
    content_type = request.headers.get("Content-Type") or ""
    media_type = content_type.split(";")[0].strip().lower()
    has_charset = "charset=" in content_type.lower()
    body_token: str | None = None

    if request.body:
        if media_type == "application/json":
            if not has_charset:
                warnings.append("missing_charset")
            try:
                parsed = json.loads(request.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ApiError("invalid_json") from None
            if not isinstance(parsed, dict):
                raise ApiError("json_not_object")
            # Slack ignores a token inside a JSON body: JSON calls must use the header.
            parsed.pop("token", None)
            args.update(parsed)
        elif media_type in ("", "application/x-www-form-urlencoded"):
            if has_charset:
                warnings.append("superfluous_charset")
            try:
                args.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise ApiError("invalid_form_data") from None
        elif media_type == "multipart/form-data":
            args.update(_parse_multipart(content_type, request.body))
        else:
            raise ApiError("invalid_post_type")
    token = args.pop("token", None)
    if isinstance(token, str):
        body_token = token
    return _decode_json_args(args), body_token


def _decode_json_args(args: dict[str, Any]) -> dict[str, Any]:
    """Decode arguments Slack expects as JSON strings; undecodable ones stay strings."""
    for name in JSON_ARGS & args.keys():
        value = args[name]
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                args[name] = json.loads(value)
            except json.JSONDecodeError:
                pass
    return args


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, Any] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        fields[str(name)] = payload if part.get_filename() else payload.decode("utf-8", errors="replace")
    return fields


def _channel_of(args: Mapping[str, Any]) -> str | None:
    for name in ("channel", "channel_id"):
        value = args.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _with_warnings(body: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if not warnings:
        return body
    body = dict(body)
    body["warning"] = ",".join(warnings)
    metadata = dict(body.get("response_metadata") or {})
    metadata["warnings"] = list(warnings)
    metadata["messages"] = list(metadata.get("messages") or []) + [f"[WARN] {w}" for w in warnings]
    body["response_metadata"] = metadata
    return body


def _response_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("response_type", "text", "blocks", "replace_original", "delete_original", "thread_ts")
    return {key: payload.get(key) for key in keys}


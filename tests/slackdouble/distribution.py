"""``SlackPlatform``: one distributed Slack app, installed through OAuth in several workspaces.

Each workspace is a ``SlackDouble`` of its own (its people, channels, calls and events); the
platform is the one Web API URL the app is given, and sends each call to the workspace whose bot
token it carries, as Slack does. It also plays Slack's side of OAuth v2:

* ``approve(authorize_url, team_id=, user_id=)`` is a person pressing "Allow" on the page the app
  sent them to: the client id and redirect URL are checked against the app's, and Slack's
  redirect back (``redirect_uri?code=…&state=…``) is returned;
* ``oauth.v2.access`` exchanges a code once (client id and secret by HTTP Basic auth or as
  arguments; ``invalid_client_id``, ``bad_client_secret``, ``invalid_code`` for an unknown, used
  or expired code, ``bad_redirect_uri`` when it differs from the authorize request's), and with
  token rotation on refreshes a token with its single-use refresh token
  (``grant_type=refresh_token``; ``invalid_refresh_token``).

Standard library only, like the rest of the double.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .api import API_PREFIX, HttpReply, HttpRequest, _bearer_token, _parse_arguments
from .double import SlackDouble
from .methods import ApiError
from .server import DoubleServer

CODE_TTL_SECONDS = 600  # Slack's codes are good for ten minutes
# With token rotation on, Slack's access tokens live 12 hours.
ROTATING_TOKEN_SECONDS = 43200


@dataclass
class _Grant:
    team_id: str
    user_id: str
    scopes: list[str]
    redirect_uri: str | None
    expires_at: float
    used: bool = False


class SlackPlatform:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        signing_secret: str,
        redirect_urls: list[str],
        app_id: str = "A0APP",
        token_rotation: bool = False,
        token_lifetime_seconds: float = ROTATING_TOKEN_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.signing_secret = signing_secret
        # The app's OAuth & Permissions page: the URLs Slack may send a person back to.
        self.redirect_urls = list(redirect_urls)
        self.app_id = app_id
        self.token_rotation = token_rotation
        self.token_lifetime_seconds = token_lifetime_seconds
        self.wall_clock = wall_clock
        self._workspaces: dict[str, SlackDouble] = {}
        self._grants: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, str] = {}  # live refresh token -> team id
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self.exchanges: list[dict[str, Any]] = []  # what oauth.v2.access was asked and answered
        self._server = DoubleServer(self._handle)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackPlatform:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        for workspace in self._workspaces.values():
            workspace.stop()

    @property
    def api_url(self) -> str:
        return f"{self._server.base_url}{API_PREFIX}"

    @property
    def authorize_url(self) -> str:
        return f"{self._server.base_url}/oauth/v2/authorize"

    @property
    def internal_errors(self) -> list[str]:
        return [error for workspace in self._workspaces.values() for error in workspace.internal_errors]

    # ------------------------------------------------------------------ workspaces

    def add_workspace(self, team_id: str, *, bot_user_id: str, bot_id: str, team_name: str) -> SlackDouble:
        """A workspace where the app is not installed yet: no token works there until someone installs it."""
        workspace = SlackDouble(team_id=team_id, bot_token="", signing_secret=self.signing_secret,
                                bot_user_id=bot_user_id, bot_id=bot_id, app_id=self.app_id, team_name=team_name,
                                team_domain=team_name.lower().replace(" ", "-"), wall_clock=self.wall_clock)
        self._workspaces[team_id] = workspace.start()
        return workspace

    def workspace(self, team_id: str) -> SlackDouble:
        return self._workspaces[team_id]

    def set_app_url(self, url: str) -> None:
        for workspace in self._workspaces.values():
            workspace.set_app_url(url)

    # ------------------------------------------------------------------ the "Allow" page

    def approve(self, authorize_url: str, *, team_id: str, user_id: str) -> str:
        """A person in `team_id` allows the install the app asked for; returns Slack's redirect back."""
        target = urlsplit(authorize_url)
        query = {name: values[-1] for name, values in parse_qs(target.query, keep_blank_values=True).items()}
        if f"{target.scheme}://{target.netloc}{target.path}" != self.authorize_url:
            raise ValueError(f"not Slack's authorize page: {authorize_url}")
        if query.get("client_id") != self.client_id:
            raise ValueError("Slack shows an error page: the client_id is not this app's")
        scopes = [scope for scope in (query.get("scope") or "").split(",") if scope]
        if not scopes:
            raise ValueError("Slack shows an error page: no scopes asked for (no_scopes)")
        redirect_uri = query.get("redirect_uri") or None
        if redirect_uri is not None and redirect_uri not in self.redirect_urls:
            raise ValueError("Slack shows an error page: redirect_uri did not match any configured URIs")
        if not self.redirect_urls:
            raise ValueError("Slack shows an error page: the app has no redirect URL")
        self._workspaces[team_id].user(user_id)  # a person of that workspace
        code = f"{next(self._numbers)}.{self._opaque('code', 48)}"
        with self._lock:
            self._grants[code] = _Grant(team_id=team_id, user_id=user_id, scopes=scopes, redirect_uri=redirect_uri,
                                        expires_at=self.wall_clock() + CODE_TTL_SECONDS)
        back = redirect_uri or self.redirect_urls[0]
        return f"{back}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    # ------------------------------------------------------------------ HTTP

    def _handle(self, request: HttpRequest) -> HttpReply:
        if not request.path.startswith(API_PREFIX):
            return HttpReply.json(404, {"ok": False, "error": "not_found"})
        method = request.path[len(API_PREFIX):]
        if method == "oauth.v2.access":
            return self._oauth_v2_access(request)
        warnings: list[str] = []
        try:
            args, body_token = _parse_arguments(request, warnings)
        except ApiError as problem:
            return HttpReply.json(problem.status, problem.body())
        token = _bearer_token(request.headers.get("Authorization")) or body_token
        if not token:
            return HttpReply.json(200, {"ok": False, "error": "not_authed"})
        for workspace in self._workspaces.values():
            if workspace.knows_token(token):
                return workspace.handle(request)
        return HttpReply.json(200, {"ok": False, "error": "invalid_auth"})

    def _oauth_v2_access(self, request: HttpRequest) -> HttpReply:
        try:
            args, _ = _parse_arguments(request, [])
        except ApiError as problem:
            return HttpReply.json(problem.status, problem.body())
        client_id, client_secret = _basic_auth(request.headers.get("Authorization"))
        client_id = client_id or args.get("client_id")
        client_secret = client_secret or args.get("client_secret")
        answer = self._exchange(client_id, client_secret, args)
        with self._lock:
            self.exchanges.append({"args": {k: v for k, v in args.items() if k != "client_secret"}, "answer": answer})
        return HttpReply.json(200, answer)

    def _exchange(self, client_id: str | None, client_secret: str | None, args: dict[str, Any]) -> dict[str, Any]:
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant_type = args.get("grant_type") or "authorization_code"
        if grant_type == "refresh_token":
            return self._refresh(args.get("refresh_token"))
        if grant_type != "authorization_code":
            return {"ok": False, "error": "invalid_grant_type"}
        code = args.get("code")
        with self._lock:
            grant = self._grants.get(code) if isinstance(code, str) else None
            if grant is None or grant.used or grant.expires_at <= self.wall_clock():
                return {"ok": False, "error": "invalid_code"}
            redirect_uri = args.get("redirect_uri") or None
            if redirect_uri != grant.redirect_uri and (grant.redirect_uri is not None or redirect_uri is not None):
                return {"ok": False, "error": "bad_redirect_uri"}
            grant.used = True
        return self._install(grant)

    def _install(self, grant: _Grant) -> dict[str, Any]:
        workspace = self._workspaces[grant.team_id]
        token = f"xoxb-{self._team_number(grant.team_id)}-{next(self._numbers)}-{self._opaque('bot', 24)}"
        answer: dict[str, Any] = {
            "ok": True, "app_id": self.app_id, "token_type": "bot", "scope": ",".join(grant.scopes),
            "bot_user_id": workspace.bot_user_id,
            "team": {"id": workspace.team_id, "name": workspace._ws.team_name},
            "enterprise": None, "is_enterprise_install": False,
            "authed_user": {"id": grant.user_id},
        }
        if self.token_rotation:
            token = "xoxe." + token
            answer.update(self._rotating(workspace.team_id))
        answer["access_token"] = token
        workspace.accept_token(token, expires_at=self._expiry())
        return answer

    def _refresh(self, refresh_token: object) -> dict[str, Any]:
        with self._lock:
            team_id = self._refresh_tokens.pop(refresh_token, None) if isinstance(refresh_token, str) else None
        if team_id is None:
            return {"ok": False, "error": "invalid_refresh_token"}
        workspace = self._workspaces[team_id]
        token = f"xoxe.xoxb-{self._team_number(team_id)}-{next(self._numbers)}-{self._opaque('bot', 24)}"
        # The token it replaces keeps working until its own expiry, as Slack's does.
        workspace.accept_token(token, expires_at=self._expiry())
        return {"ok": True, "app_id": self.app_id, "token_type": "bot", "access_token": token,
                "bot_user_id": workspace.bot_user_id, "team": {"id": team_id, "name": workspace._ws.team_name},
                "enterprise": None, "is_enterprise_install": False, **self._rotating(team_id)}

    def _rotating(self, team_id: str) -> dict[str, Any]:
        refresh = f"xoxe-1-{self._opaque('refresh', 40)}"
        with self._lock:
            self._refresh_tokens[refresh] = team_id
        return {"refresh_token": refresh, "expires_in": int(self.token_lifetime_seconds)}

    def _expiry(self) -> float | None:
        return self.wall_clock() + self.token_lifetime_seconds if self.token_rotation else None

    def _opaque(self, label: str, length: int) -> str:
        return hashlib.sha256(f"{label}:{next(self._numbers)}:{time.time_ns()}".encode()).hexdigest()[:length]

    @staticmethod
    def _team_number(team_id: str) -> int:
        return int(hashlib.sha256(team_id.encode()).hexdigest()[:10], 16) % 10**10


def _basic_auth(value: str | None) -> tuple[str | None, str | None]:
    if not value or not value.lower().startswith("basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(value[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user or None, password or None

"""``SlackDouble``: a stateful, strict stand-in for Slack's Web API and its callbacks."""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .api import ApiDispatcher, HttpReply, HttpRequest, RecordedCall
from .driver import DEFAULT_SUBSCRIPTIONS, AppResponse, AppTransport, Delivery, SlackToApp
from .faults import FailureMode, FaultInjector
from .method_table import MethodSpec, load_method_table
from .methods import Behaviour
from .ratelimit import RateLimiter, Scope
from .server import DoubleServer
from .socketmode import SocketModeServer
from .state import Conversation, User, UserGroup, Workspace

# Documented tiers, as calls per minute per method per workspace.
TIER_CALLS_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}


class SlackDouble(SlackToApp):
    """A local Slack for one workspace with one installed app.

    The app calls ``api_url`` (slack_sdk ``base_url``); the test sets up users and
    channels, drives the app as Slack would (``send_*``, ``user_posts``) and inspects
    what the app did (``calls``, ``messages``, ``views`` ...). All inspection
    helpers return copies and are safe to call while the app is running.
    """

    def __init__(
        self,
        team_id: str = "T0TEAM",
        bot_token: str = "xoxb-test",
        signing_secret: str = "sekrit",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0APP",
        *,
        team_name: str = "Test Workspace",
        team_domain: str = "test-workspace",
        bot_name: str = "eventbot",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.team_id = team_id
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.clock = clock
        self.wall_clock = wall_clock

        # Seconds Slack waits for the app to answer a request (3 s in real Slack).
        self.app_timeout = 3.0
        self.event_subscriptions: set[str] = set(DEFAULT_SUBSCRIPTIONS)
        # Slack sends an event again when the app did not answer it with a 2xx in time: at once,
        # after a minute and after five (X-Slack-Retry-Num 1, 2, 3). Tests may shorten the waits.
        self.event_retry_delays: tuple[float, ...] = (0.0, 60.0, 300.0)
        self.verification_token = "legacy-verification-token"

        self._ws = Workspace(
            team_id=team_id,
            team_name=team_name,
            team_domain=team_domain,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            bot_name=bot_name,
            clock=lambda: self.clock(),
            wall_clock=lambda: self.wall_clock(),
        )
        self._behaviour = Behaviour()
        self._limiter = RateLimiter(lambda: self.clock())
        self._faults = FaultInjector()
        self._methods: dict[str, MethodSpec] = load_method_table()
        self._transport = AppTransport(signing_secret, lambda: self.wall_clock())
        self._app_url: str | None = None
        self._deliveries: list[Delivery] = []
        self._deliveries_lock = threading.Lock()
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()
        self._event_queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._event_worker: threading.Thread | None = None
        self._dispatcher = ApiDispatcher(
            workspace=self._ws,
            methods=self._methods,
            behaviour=self._behaviour,
            limiter=self._limiter,
            faults=self._faults,
            bot_token=bot_token,
            base_url=lambda: self.base_url,
            deliver_events=self._deliver_events,
        )
        self._server = DoubleServer(self._dispatcher.handle, host, port)
        self.socket_mode: SocketModeServer | None = None

    # ================================================================== lifecycle

    def start(self) -> SlackDouble:
        self._server.start()
        return self

    def stop(self) -> None:
        if self.socket_mode is not None:
            self.socket_mode.stop()
        self._server.stop()

    def use_socket_mode(self, app_token: str) -> SocketModeServer:
        """Let the app connect over Socket Mode with this app-level token (`xapp-…`): apps.connections.open
        answers the stand-in's ws:// URL, and what Slack sends the app goes over it from then on."""
        if not app_token.startswith("xapp-"):
            raise ValueError("app-level tokens start with xapp-")
        if self.socket_mode is None:
            self.socket_mode = SocketModeServer(app_id=self.app_id)
        self._dispatcher.app_token = app_token
        self._behaviour.socket_mode_url = self.socket_mode.url
        return self.socket_mode

    def __enter__(self) -> SlackDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # ================================================================== behaviour switches

    @property
    def echo_bot_messages(self) -> bool:
        """Send ``message`` events to the app for its own posts, as a subscribed app gets them."""
        return self._behaviour.echo_bot_messages

    @echo_bot_messages.setter
    def echo_bot_messages(self, value: bool) -> None:
        self._behaviour.echo_bot_messages = bool(value)

    @property
    def chat_write_public(self) -> bool:
        """Whether the app has ``chat:write.public`` (post in public channels without joining)."""
        return self._behaviour.chat_write_public

    @chat_write_public.setter
    def chat_write_public(self, value: bool) -> None:
        self._behaviour.chat_write_public = bool(value)

    @property
    def usergroups_available(self) -> bool:
        """False plays a free workspace: no user groups, usergroups.* answer plan_upgrade_required."""
        return self._behaviour.usergroups_available

    @usergroups_available.setter
    def usergroups_available(self, value: bool) -> None:
        self._behaviour.usergroups_available = bool(value)

    def set_app_url(self, url: str | None) -> None:
        self._app_url = url

    # ================================================================== state setup

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        tz: str = "Europe/London",
        tz_offset: int | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        is_app_user: bool = False,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """A person (or bot). Roles nest as in Slack: a primary owner is an owner, an owner an admin.

        `team_id` makes them a Slack Connect guest from that workspace (add_external_team() it first)."""
        is_owner = is_owner or is_primary_owner
        is_admin = is_admin or is_owner
        if is_admin and is_bot:
            raise ValueError("bots cannot be workspace admins or owners")
        with self._ws.lock:
            self._ws.users[user_id] = User(
                id=user_id,
                name=name,
                team_id=team_id or self.team_id,
                real_name=real_name if real_name is not None else name,
                tz=tz,
                tz_offset=tz_offset,
                email=email,
                is_bot=is_bot,
                deleted=deleted,
                is_app_user=is_app_user,
                bot_id=f"B{user_id[1:]}" if is_bot else None,
                is_admin=is_admin,
                is_owner=is_owner,
                is_primary_owner=is_primary_owner,
            )
            return self._ws.users[user_id].to_api(self.wall_clock())

    def add_external_team(self, team_id: str, name: str) -> None:
        """Another workspace sharing channels with this one (Slack Connect)."""
        with self._ws.lock:
            self._ws.external_teams[team_id] = name

    def add_usergroup(self, group_id: str, handle: str, *, members: Iterable[str] = ()) -> None:
        """A user group (S…) with these members; calling it again replaces the members."""
        if not group_id.startswith("S"):
            raise ValueError("user group ids start with S")
        with self._ws.lock:
            unknown = [m for m in members if m not in self._ws.users]
            if unknown:
                raise LookupError(f"add_user() these first: {unknown}")
            self._ws.usergroups[group_id] = UserGroup(id=group_id, handle=handle, users=list(dict.fromkeys(members)))

    def deactivate_user(self, user_id: str) -> None:
        with self._ws.lock:
            self._ws.users[user_id].deleted = True

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        is_private: bool = False,
        is_archived: bool = False,
        bot_is_member: bool = True,
    ) -> dict[str, Any]:
        with self._ws.lock:
            unknown = [m for m in members if m not in self._ws.users]
            if unknown:
                raise LookupError(f"add_user() these first: {unknown}")
            member_list = list(dict.fromkeys(members))
            if bot_is_member and self.bot_user_id not in member_list:
                member_list.append(self.bot_user_id)
            conversation = Conversation(
                id=channel_id,
                name=name,
                kind="group" if is_private else "channel",
                created=int(self.wall_clock()),
                creator=member_list[0] if member_list else self.bot_user_id,
                members=member_list,
                is_archived=is_archived,
            )
            self._ws.conversations[channel_id] = conversation
            self._ws.messages.setdefault(channel_id, {})
            return conversation.to_api(include_num_members=True)

    def add_member(self, channel_id: str, user_id: str) -> None:
        with self._ws.lock:
            members = self._ws.conversations[channel_id].members
            if user_id not in members:
                members.append(user_id)

    def remove_member(self, channel_id: str, user_id: str) -> None:
        with self._ws.lock:
            members = self._ws.conversations[channel_id].members
            if user_id in members:
                members.remove(user_id)

    def archive_channel(self, channel_id: str) -> None:
        with self._ws.lock:
            self._ws.conversations[channel_id].is_archived = True

    def im_channel(self, user_id: str) -> str:
        """The id of the bot's DM with ``user_id`` (what conversations.open returns)."""
        with self._ws.lock:
            return self._ws.im_with(user_id).id

    # ================================================================== inspection

    @property
    def calls(self) -> list[RecordedCall]:
        return self._dispatcher.calls

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of bugs in the double itself (answered as HTTP 500)."""
        return list(self._dispatcher.internal_errors)

    def messages(self, channel_id: str, *, include_replies: bool = False) -> list[dict[str, Any]]:
        """Current messages (after edits and deletions), oldest first.

        Besides Slack's own fields each has ``channel``, and ``blocks``, ``thread_ts``
        and ``edited`` are always present (None when Slack would omit them).
        """
        with self._ws.lock:
            found = self._ws.channel_messages(channel_id, include_replies=include_replies)
            return [_inspectable(m, channel_id) for m in found]

    def message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        with self._ws.lock:
            found = self._ws.message(channel_id, ts)
            return _inspectable(found, channel_id) if found is not None else None

    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._ws.lock:
            return [_inspectable(m, channel_id) for m in self._ws.thread_replies(channel_id, thread_ts)]

    def ephemeral(self, channel_id: str | None = None, user_id: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages: chat.postEphemeral, non-in_channel response URL posts, slash command acks."""
        with self._ws.lock:
            return [
                copy.deepcopy(e)
                for e in self._ws.ephemeral
                if (channel_id is None or e["channel"] == channel_id) and (user_id is None or e["user"] == user_id)
            ]

    def dms(self, user_id: str) -> list[dict[str, Any]]:
        """What the bot posted in its DM with ``user_id``."""
        with self._ws.lock:
            conversation_id = self._ws.ims.get(user_id)
            if conversation_id is None:
                return []
            return [
                _inspectable(m, conversation_id)
                for m in self._ws.channel_messages(conversation_id, include_replies=True)
                if m.get("bot_id") == self.bot_id
            ]

    @property
    def response_url_posts(self) -> list[dict[str, Any]]:
        with self._ws.lock:
            return copy.deepcopy(self._ws.response_url_posts)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Every view ever opened, pushed or published, in its latest state."""
        with self._ws.lock:
            return copy.deepcopy(self._ws.views)

    def open_views(self, user_id: str) -> list[dict[str, Any]]:
        """The modal stack ``user_id`` sees now, root first (empty once closed)."""
        with self._ws.lock:
            return [copy.deepcopy(self._ws.views[v]) for v in self._ws.view_stacks.get(user_id, [])]

    @property
    def home_views(self) -> dict[str, dict[str, Any]]:
        with self._ws.lock:
            return copy.deepcopy(self._ws.home_views)

    @property
    def uploaded_files(self) -> list[dict[str, Any]]:
        with self._ws.lock:
            return copy.deepcopy(self._ws.uploaded_files)

    @property
    def scheduled_messages(self) -> list[dict[str, Any]]:
        with self._ws.lock:
            return copy.deepcopy(self._ws.scheduled_messages)

    @property
    def deliveries(self) -> list[Delivery]:
        """Everything sent to the app, with what it answered."""
        with self._deliveries_lock:
            return list(self._deliveries)

    def user(self, user_id: str) -> dict[str, Any]:
        with self._ws.lock:
            return self._ws.users[user_id].to_api(self.wall_clock())

    def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.01) -> Any:
        """Poll until ``predicate()`` is truthy (the app acts asynchronously); return its value."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)

    def wait_for_calls(self, method: str, count: int = 1, *, timeout: float = 5.0) -> list[RecordedCall]:
        return self.wait_for(lambda: (c if len(c := self.calls_to(method)) >= count else None), timeout=timeout)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until events being delivered in the background (bot echoes) are done."""
        with self._in_flight_changed:
            if not self._in_flight_changed.wait_for(lambda: self._in_flight == 0, timeout=timeout):
                raise TimeoutError("background deliveries still running")

    # ================================================================== failures and limits

    def rate_limit(
        self,
        method: str | None = "chat.postMessage",
        *,
        per: Scope = "workspace",
        calls: int,
        period: float,
    ) -> None:
        """Token bucket of ``calls`` per ``period`` seconds; excess calls get HTTP 429.

        per="workspace": one bucket for ``method`` (or for all methods if None);
        per="method": a bucket per method name; per="channel": per (method, channel).
        """
        self._limiter.add(method, per=per, calls=calls, period=period)

    def apply_documented_rate_limits(self) -> None:
        """Per-method workspace limits from the documented tiers (Tier 2 = 20/min, ...)."""
        for name, spec in self._methods.items():
            if isinstance(spec.rate_tier, int) and spec.rate_tier in TIER_CALLS_PER_MINUTE:
                self._limiter.add(name, per="workspace", calls=TIER_CALLS_PER_MINUTE[spec.rate_tier], period=60)

    def clear_rate_limits(self) -> None:
        self._limiter.clear()

    def fail_next(
        self, method: str | None, count: int = 1, *, mode: FailureMode = "http_500", error: str = "internal_error"
    ) -> None:
        """The next ``count`` calls to ``method`` (None: any method) fail this way.

        ``http_500_after`` and ``drop_after``: the call takes effect, then its answer is a 500 or a
        dropped connection (the caller cannot know whether it did).
        """
        self._faults.fail_next(method, count, mode, error)

    def fail_share(
        self,
        method: str | None,
        share: float,
        *,
        mode: FailureMode = "http_500",
        seed: int = 0,
        error: str = "internal_error",
    ) -> None:
        """A reproducible pseudo-random ``share`` (0..1) of calls to ``method`` fail."""
        self._faults.fail_share(method, share, mode, seed, error)

    def clear_failures(self) -> None:
        self._faults.clear()

    def stall(self, method: str | None) -> None:
        """Calls to ``method`` (None: any method) hang before Slack acts on them until
        ``release_stalls``: a Slack slow to answer, to catch a caller mid-call."""
        self._faults.stall(method)

    def release_stalls(self) -> None:
        self._faults.release_stalls()

    # ================================================================== the app's installation

    def uninstall_app(self) -> list[AppResponse]:
        """Someone removes the app from the workspace: its bot token stops working at once, and
        Slack tells the app with ``tokens_revoked`` (the bot's token) then ``app_uninstalled``.

        Returns the app's answers to the two events.
        """
        self._dispatcher.revoke_tokens()
        return [
            self.send_event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [self.bot_user_id]}}),
            self.send_event({"type": "app_uninstalled"}),
        ]

    def knows_token(self, token: str) -> bool:
        """Whether a token is (or was) this workspace's bot token: where a distributed app's call goes."""
        return self._dispatcher.knows_token(token)

    def accept_token(self, token: str, *, expires_at: float | None = None) -> None:
        """An OAuth install or refresh (tests/slackdouble/distribution.py) gave the app this token here."""
        self._dispatcher.accept_token(token, expires_at=expires_at)

    def handle(self, request: HttpRequest) -> HttpReply:
        """A Web API call that reached this workspace through the distributed app's one URL."""
        return self._dispatcher.handle(request)

    # ================================================================== interactivity plumbing

    def issue_trigger_id(self, user_id: str | None = None) -> str:
        """A trigger_id valid for 3 s (on ``clock``) and usable once."""
        with self._ws.lock:
            return self._ws.issue_trigger(user_id)

    def new_response_url(
        self, *, channel_id: str | None = None, user_id: str | None = None, message_ts: str | None = None
    ) -> str:
        with self._ws.lock:
            response_url = self._ws.new_response_url(channel_id=channel_id, user_id=user_id, message_ts=message_ts)
        return f"{self.base_url}/response/{response_url.id}"

    # ================================================================== SlackToApp hooks

    def _has_app_url(self) -> bool:
        return self._app_url is not None or self.socket_mode is not None

    def _require_app_url(self) -> str:
        if self._app_url is None:
            raise RuntimeError("call set_app_url() before sending anything to the app")
        return self._app_url

    def _base_url_for_app(self) -> str:
        return self.base_url

    def _record_delivery(self, kind: str, payload: dict[str, Any], response: AppResponse) -> None:
        with self._deliveries_lock:
            self._deliveries.append(Delivery(kind, copy.deepcopy(payload), response))

    def _deliver_events(self, events: list[dict[str, Any]]) -> None:
        """Events caused by the app's own calls go out after the call is answered, as in
        Slack, one at a time and in order, from a background worker."""
        if not events or not self._has_app_url():
            return
        with self._in_flight_changed:
            self._in_flight += len(events)
            if self._event_worker is None or not self._event_worker.is_alive():
                self._event_worker = threading.Thread(target=self._event_loop, name="slack-double-events", daemon=True)
                self._event_worker.start()
        for event in events:
            self._event_queue.put(event)

    def _event_loop(self) -> None:
        while True:
            event = self._event_queue.get()
            try:
                if self._has_app_url():
                    self.send_event(event)
            except Exception:  # noqa: BLE001 - keep delivering; the failure is in the app's answer log
                pass
            finally:
                with self._in_flight_changed:
                    self._in_flight -= 1
                    self._in_flight_changed.notify_all()


def _inspectable(message: dict[str, Any], channel_id: str) -> dict[str, Any]:
    return {"blocks": None, "thread_ts": None, "edited": None, **copy.deepcopy(message), "channel": channel_id}

"""Acting as Slack towards the app: signed slash commands, interactions and events.

Payload shapes follow Slack's (see payloads/ in the Slack reference): form-encoded
slash commands, ``payload=<json>`` interactions, JSON Events API envelopes.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from .blockkit import find_element, validate_view
from .methods import (
    ApiError,
    Behaviour,
    message_changed_event,
    message_deleted_event,
    message_event,
    post_to_response_url,
    public_message,
    public_view,
)
from .signing import signature_headers
from .socketmode import SocketModeServer
from .state import VIEW_STACK_LIMIT, Conversation, Workspace

DEFAULT_SUBSCRIPTIONS = frozenset({"message.channels", "message.groups", "message.im", "message.mpim", "app_mention"})
_SUBSCRIPTION_FOR_KIND = {
    "channel": "message.channels",
    "group": "message.groups",
    "im": "message.im",
    "mpim": "message.mpim",
}


@dataclass(frozen=True)
class AppResponse:
    """What the app answered. ``status`` is 0 when no HTTP answer came (see ``error``)."""

    status: int
    headers: dict[str, str]
    body: str
    json: Any | None
    elapsed: float = 0.0
    error: str | None = None  # transport problem: "timeout", "connection refused", ...
    slack_error: str | None = None  # Slack would have rejected the app's answer (e.g. invalid view)
    slack_messages: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.slack_error is None


@dataclass(frozen=True)
class Delivery:
    kind: str  # "event", "slash_command", "block_actions", "view_submission", ...
    payload: dict[str, Any]
    response: AppResponse


# ---------------------------------------------------------------------------- values users enter

# The property of an action / state value that holds the user's choice, by element type.
_SELECTION = {
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "rich_text_input": "rich_text_value",
    "file_input": "files",
}
_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons", "overflow"}
_MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}
_LIST_SELECTIONS = {"multi_users_select", "multi_conversations_select", "multi_channels_select", "file_input"}


def _element_options(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options


def _pick_option(element: Mapping[str, Any], choice: Any) -> dict[str, Any]:
    """The option a user picked, given its value (or the whole option object)."""
    if element["type"] in ("external_select", "multi_external_select"):
        if isinstance(choice, dict):
            return copy.deepcopy(choice)
        return {"text": {"type": "plain_text", "text": str(choice)}, "value": str(choice)}
    wanted = choice.get("value") if isinstance(choice, dict) else choice
    for option in _element_options(element):
        if option.get("value") == wanted:
            picked = {"text": option["text"], "value": option["value"]}
            if "description" in option:
                picked["description"] = option["description"]
            return copy.deepcopy(picked)
    raise LookupError(f"{element['type']} {element.get('action_id')!r} has no option with value {wanted!r}")


def selection_fields(element: Mapping[str, Any], choice: Any) -> dict[str, Any]:
    """The properties Slack puts in an action or a state value for ``choice``."""
    kind = element["type"]
    if kind in _SINGLE_OPTION:
        return {"selected_option": None if choice is None else _pick_option(element, choice)}
    if kind in _MULTI_OPTION:
        choices = [] if choice is None else choice if isinstance(choice, list) else [choice]
        return {"selected_options": [_pick_option(element, c) for c in choices]}
    if kind in _SELECTION:
        if kind in _LIST_SELECTIONS and choice is not None and not isinstance(choice, list):
            choice = [choice]
        if kind in _LIST_SELECTIONS and choice is None:
            choice = []
        return {_SELECTION[kind]: choice}
    raise LookupError(f"a user cannot enter a value into a {kind}")


def state_value(element: Mapping[str, Any], given: Any) -> dict[str, Any]:
    """One entry of ``view.state.values``; accepts either Slack's full form or a bare value."""
    if isinstance(given, dict) and "type" in given:
        if given["type"] != element["type"]:
            raise ValueError(f"value of type {given['type']!r} given for a {element['type']} element")
        return copy.deepcopy(given)
    return {"type": element["type"], **selection_fields(element, given)}


# ---------------------------------------------------------------------------- transport


class AppTransport:
    def __init__(self, signing_secret: str, wall_clock: Callable[[], float]) -> None:
        self.signing_secret = signing_secret
        self.wall_clock = wall_clock

    def post(
        self,
        url: str,
        body: bytes,
        *,
        content_type: str,
        timeout: float,
        timestamp: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        sign: bool = True,
    ) -> AppResponse:
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if sign:
            when = int(self.wall_clock()) if timestamp is None else int(timestamp)
            headers.update(signature_headers(self.signing_secret, when, body))
        headers.update(extra_headers or {})
        return send_raw_http(url, body, headers, timeout)


def send_raw_http(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AppResponse:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local app URL
            status, response_headers, raw = response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, dict(error.headers.items()), error.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        text = "timeout" if isinstance(reason, TimeoutError) or "timed out" in str(reason) else str(reason)
        return AppResponse(0, {}, "", None, time.monotonic() - started, error=text)
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        parsed = None
    return AppResponse(status, response_headers, text, parsed, time.monotonic() - started)


# ---------------------------------------------------------------------------- the mixin


class SlackToApp:
    """The Slack-to-app half of ``SlackDouble``.

    The host class provides the attributes annotated below and the hooks that
    raise NotImplementedError here.
    """

    _ws: Workspace
    _behaviour: Behaviour
    _transport: AppTransport
    app_timeout: float
    event_subscriptions: set[str]
    event_retry_delays: tuple[float, ...]
    verification_token: str
    # Set once the app connects over Socket Mode: what Slack sends then goes over it, not over HTTP.
    socket_mode: SocketModeServer | None

    # Hooks the host class implements.
    def _require_app_url(self) -> str:
        raise NotImplementedError

    def _has_app_url(self) -> bool:
        raise NotImplementedError

    def _base_url_for_app(self) -> str:
        raise NotImplementedError

    def _record_delivery(self, kind: str, payload: dict[str, Any], response: AppResponse) -> None:
        raise NotImplementedError

    def _deliver_events(self, events: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ low level

    def send_raw(self, body: bytes, headers: Mapping[str, str]) -> AppResponse:
        """POST arbitrary bytes with exactly these headers (nothing is signed for you)."""
        return send_raw_http(self._require_app_url(), body, headers, self.app_timeout)

    def _over_socket(self, kind: str, envelope_type: str, payload: dict[str, Any], *,
                     accepts_response_payload: bool, retry_attempt: int = 0, retry_reason: str = "") -> AppResponse:
        """Send one envelope over Socket Mode; its ack, as an answer (200 with the ack's payload, or
        no answer within the app timeout)."""
        assert self.socket_mode is not None
        started = time.monotonic()
        envelope_id = self.socket_mode.send(envelope_type, payload, accepts_response_payload=accepts_response_payload,
                                            retry_attempt=retry_attempt, retry_reason=retry_reason)
        ack = self.socket_mode.ack(envelope_id, timeout=self.app_timeout)
        elapsed = time.monotonic() - started
        if ack is None:
            response = AppResponse(0, {}, "", None, elapsed, error="timeout")
        else:
            answer = ack.get("payload")
            response = AppResponse(200, {}, json.dumps(answer) if answer is not None else "", answer, elapsed)
        self._record_delivery(kind, payload, response)
        return response

    def _post_form(
        self, kind: str, fields: Mapping[str, str], record: dict[str, Any], timestamp: int | None
    ) -> AppResponse:
        if self.socket_mode is not None:
            # Over Socket Mode a slash command's payload is its form fields as JSON, an interaction's
            # is the payload itself; Slack waits for an answer to commands, form submissions and
            # option lists only.
            return self._over_socket(kind, "slash_commands" if kind == "slash_command" else "interactive", record,
                                     accepts_response_payload=kind in ("slash_command", "view_submission",
                                                                       "block_suggestion"))
        body = urlencode(fields).encode()
        response = self._transport.post(
            self._require_app_url(),
            body,
            content_type="application/x-www-form-urlencoded",
            timeout=self.app_timeout,
            timestamp=timestamp,
        )
        self._record_delivery(kind, record, response)
        return response

    def _post_interaction(self, payload: dict[str, Any], timestamp: int | None) -> AppResponse:
        return self._post_form(payload["type"], {"payload": json.dumps(payload)}, payload, timestamp)

    # ------------------------------------------------------------------ payload pieces

    def _user_ref(self, user_id: str) -> dict[str, Any]:
        user = self._ws.users[user_id]
        # A Slack Connect guest's payloads carry their own workspace's id, as Slack's do.
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}

    def _team_ref(self) -> dict[str, Any]:
        return {"id": self._ws.team_id, "domain": self._ws.team_domain}

    @staticmethod
    def _channel_name(conversation: Conversation) -> str:
        if conversation.kind == "im":
            return "directmessage"
        if conversation.kind == "mpim":
            return "mpdm"
        return conversation.name

    def _acting_user(self, user_id: str) -> None:
        user = self._ws.user(user_id)
        if user is None:
            raise LookupError(f"unknown user {user_id!r}; add_user() first")
        if user.deleted or user.is_bot:
            what = "deactivated" if user.deleted else "a bot"
            raise ValueError(f"user {user_id!r} is {what} and cannot act in Slack")

    def _user_conversation(self, user_id: str, channel_id: str) -> Conversation:
        conversation = self._ws.conversation(channel_id)
        if conversation is None:
            raise LookupError(f"unknown channel {channel_id!r}; add_channel() first")
        if user_id not in conversation.members:
            raise ValueError(f"user {user_id!r} is not a member of {channel_id!r}")
        if conversation.is_archived:
            raise ValueError(f"{channel_id!r} is archived; nobody can post or click in it")
        return conversation

    def _envelope(self, event: dict[str, Any], event_id: str | None) -> dict[str, Any]:
        ws = self._ws
        return {
            "token": self.verification_token,
            "team_id": ws.team_id,
            "context_team_id": ws.team_id,
            "context_enterprise_id": None,
            "api_app_id": ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or ws.new_event_id(),
            "event_time": int(ws.wall_clock()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{ws.opaque('context', 40)}",
        }

    # ------------------------------------------------------------------ slash commands

    def send_slash_command(
        self, command: str, text: str, *, user_id: str, channel_id: str, timestamp: int | None = None
    ) -> AppResponse:
        """Invoke a slash command; an immediate message in the app's answer is shown like Slack shows it."""
        if not command.startswith("/"):
            raise ValueError("slash commands start with '/'")
        ws = self._ws
        with ws.lock:
            self._acting_user(user_id)
            conversation = self._user_conversation(user_id, channel_id)
            response_url = ws.new_response_url(channel_id=conversation.id, user_id=user_id)
            fields = {
                "token": self.verification_token,
                "team_id": ws.team_id,
                "team_domain": ws.team_domain,
                "channel_id": conversation.id,
                "channel_name": self._channel_name(conversation),
                "user_id": user_id,
                "user_name": ws.users[user_id].name,
                "command": command,
                "text": text,
                "api_app_id": ws.app_id,
                "is_enterprise_install": "false",
                "response_url": f"{self._base_url_for_app()}/response/{response_url.id}",
                "trigger_id": ws.issue_trigger(user_id),
            }
        response = self._post_form("slash_command", fields, dict(fields), timestamp)
        if response.status != 200 or not response.body.strip():
            return response
        message = response.json if isinstance(response.json, dict) else {"text": response.body}
        events: list[dict[str, Any]] = []
        with ws.lock:
            try:
                post_to_response_url(ws, self._behaviour, response_url, message, events, source="ack")
            except ApiError as problem:
                return replace(response, slack_error=problem.error, slack_messages=tuple(problem.messages))
        self._deliver_events(events)
        return response

    # ------------------------------------------------------------------ block actions

    def send_block_action(
        self,
        *,
        user_id: str,
        action_id: str,
        value: Any = None,
        block_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        selected_option: Any = None,
        timestamp: int | None = None,
        state_values: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AppResponse:
        """Click a button / pick an option in a stored message or view.

        The element must exist there (a user cannot click what is not shown); its
        rendered value is sent. ``value`` is the choice for selects, pickers and
        inputs; for a button it may only repeat the button's own value.
        """
        ws = self._ws
        with ws.lock:
            self._acting_user(user_id)
            action_ts = ws.new_ts()
            payload: dict[str, Any] = {
                "type": "block_actions",
                "user": self._user_ref(user_id),
                "api_app_id": ws.app_id,
                "token": self.verification_token,
                "trigger_id": ws.issue_trigger(user_id),
                "team": self._team_ref(),
                "enterprise": None,
                "is_enterprise_install": False,
            }
            if view_id is not None:
                view = ws.views.get(view_id)
                if view is None:
                    raise LookupError(f"unknown view {view_id!r}")
                blocks = view["blocks"]
                view_copy = public_view(view)
                if state_values is not None:
                    view_copy["state"] = {"values": self._state_values(view, state_values, require_all=False)}
                payload.update({"container": {"type": "view", "view_id": view_id}, "view": view_copy})
            elif channel_id is not None and message_ts is not None:
                conversation = self._user_conversation(user_id, channel_id)
                message = ws.message(conversation.id, message_ts)
                ephemeral = None
                if message is None:
                    ephemeral = next(
                        (e for e in ws.ephemeral if e["ts"] == message_ts and e["user"] == user_id), None
                    )
                    if ephemeral is None:
                        raise LookupError(f"no message {message_ts!r} in {channel_id!r} that {user_id!r} can see")
                blocks = (message or ephemeral or {}).get("blocks") or []
                response_url = ws.new_response_url(channel_id=conversation.id, user_id=user_id, message_ts=message_ts)
                payload.update(
                    {
                        "container": {
                            "type": "message",
                            "message_ts": message_ts,
                            "channel_id": conversation.id,
                            "is_ephemeral": ephemeral is not None,
                        },
                        "channel": {"id": conversation.id, "name": self._channel_name(conversation)},
                        "state": {"values": {}},
                        "response_url": f"{self._base_url_for_app()}/response/{response_url.id}",
                    }
                )
                if message is not None:
                    payload["message"] = public_message(message)
                    if message.get("thread_ts"):
                        payload["container"]["thread_ts"] = message["thread_ts"]
            else:
                raise ValueError("give view_id, or channel_id and message_ts")

            found = find_element(blocks, action_id, block_id)
            if found is None:
                where = f"view {view_id}" if view_id else f"message {message_ts}"
                raise LookupError(f"no element with action_id {action_id!r} in {where}")
            block, element = found
            action: dict[str, Any] = {
                "type": element["type"],
                "action_id": element["action_id"],
                "block_id": block["block_id"],
                "action_ts": action_ts,
            }
            if element["type"] == "button":
                action["text"] = copy.deepcopy(element["text"])
                if value is not None and value != element.get("value"):
                    raise ValueError(f"button {action_id!r} carries value {element.get('value')!r}, not {value!r}")
                for key in ("value", "style", "url"):
                    if key in element:
                        action[key] = element[key]
            else:
                action.update(selection_fields(element, selected_option if selected_option is not None else value))
                if "placeholder" in element:
                    action["placeholder"] = copy.deepcopy(element["placeholder"])
            payload["actions"] = [action]
        return self._post_interaction(payload, timestamp)

    def _state_values(
        self, view: dict[str, Any], values: Mapping[str, Mapping[str, Any]], *, require_all: bool
    ) -> dict[str, dict[str, Any]]:
        """Slack's ``view.state.values`` for what the user entered into the view's inputs."""
        inputs = {
            block["block_id"]: block
            for block in view["blocks"]
            if block.get("type") == "input" or (block.get("type") == "actions" and not require_all)
        }
        for block_id in values:
            if block_id not in inputs:
                raise LookupError(f"view {view['id']} has no input block {block_id!r}")
        state: dict[str, dict[str, Any]] = {}
        for block_id, block in inputs.items():
            elements = [block["element"]] if block["type"] == "input" else block.get("elements") or []
            given = values.get(block_id, {})
            for action_id in given:
                if action_id not in {e.get("action_id") for e in elements}:
                    raise LookupError(f"input block {block_id!r} has no element {action_id!r}")
            for element in elements:
                action_id = element["action_id"]
                if action_id in given:
                    state.setdefault(block_id, {})[action_id] = state_value(element, given[action_id])
                elif require_all and block["type"] == "input":
                    if not block.get("optional", False):
                        raise ValueError(f"required input {block_id}/{action_id} is empty; Slack would not submit")
                    state.setdefault(block_id, {})[action_id] = state_value(element, None)
        return state

    # ------------------------------------------------------------------ view submission

    def submit_view(
        self, view_id: str, *, user_id: str, values: Mapping[str, Mapping[str, Any]], timestamp: int | None = None
    ) -> AppResponse:
        """Press the modal's submit button and apply the app's ``response_action``.

        ``values``: ``{block_id: {action_id: value}}`` where value is either Slack's
        own state entry (``{"type": "plain_text_input", "value": "hi"}``) or just the
        entered value ("hi", an option value, a user id, "2025-01-31", ...).
        """
        ws = self._ws
        with ws.lock:
            self._acting_user(user_id)
            view = ws.views.get(view_id)
            if view is None:
                raise LookupError(f"unknown view {view_id!r}")
            if view.get("user_id") is None and ws.user_of_view(view_id) is None:
                # Opened with a trigger_id issued for nobody in particular: it is this user's modal.
                view["user_id"] = user_id
                ws.view_stacks[user_id] = [view_id]
            stack = ws.view_stacks.get(user_id) or []
            if not stack or stack[-1] != view_id:
                raise ValueError(f"view {view_id!r} is not the modal {user_id!r} currently sees")
            if not view.get("submit"):
                raise ValueError(f"view {view_id!r} has no submit button")
            view["state"] = {"values": self._state_values(view, values, require_all=True)}
            payload = {
                "type": "view_submission",
                "team": self._team_ref(),
                "user": self._user_ref(user_id),
                "api_app_id": ws.app_id,
                "token": self.verification_token,
                "trigger_id": ws.issue_trigger(user_id),
                "view": public_view(view),
                "response_urls": [],
                "is_enterprise_install": False,
                "enterprise": None,
            }
        response = self._post_interaction(payload, timestamp)
        if response.status != 200:
            return response  # Slack shows an error in the modal and keeps it open
        with ws.lock:
            return self._apply_response_action(view_id, user_id, response)

    def _apply_response_action(self, view_id: str, user_id: str, response: AppResponse) -> AppResponse:
        ws = self._ws
        stack = ws.view_stacks.setdefault(user_id, [])
        body = response.json if isinstance(response.json, dict) else None
        if not response.body.strip() or body == {} or (body is not None and "response_action" not in body):
            if stack and stack[-1] == view_id:
                stack.pop()
            return response
        if body is None:
            return replace(response, slack_error="invalid_response_body")
        action = body.get("response_action")
        if action == "clear":
            stack.clear()
            return response
        if action == "errors":
            errors = body.get("errors")
            inputs = {b.get("block_id") for b in ws.views[view_id]["blocks"] if b.get("type") == "input"}
            if not isinstance(errors, dict) or not errors or not set(errors) <= inputs:
                return replace(response, slack_error="invalid_errors")
            return response
        if action in ("update", "push"):
            new_view = body.get("view")
            problems = validate_view(new_view)
            if problems:
                return replace(response, slack_error="invalid_view", slack_messages=tuple(problems))
            assert isinstance(new_view, dict)
            current = ws.views[view_id]
            if action == "update":
                ws.store_view(
                    new_view,
                    user_id=user_id,
                    view_id=view_id,
                    root_view_id=current["root_view_id"],
                    previous_view_id=current["previous_view_id"],
                )
                return response
            if len(stack) >= VIEW_STACK_LIMIT:
                return replace(response, slack_error="push_limit_reached")
            pushed = ws.store_view(new_view, user_id=user_id, root_view_id=stack[0], previous_view_id=view_id)
            stack.append(pushed["id"])
            return response
        return replace(response, slack_error="invalid_response_action")

    # ------------------------------------------------------------------ shortcuts

    def send_message_shortcut(
        self, callback_id: str, *, user_id: str, channel_id: str, message_ts: str, timestamp: int | None = None
    ) -> AppResponse:
        ws = self._ws
        with ws.lock:
            self._acting_user(user_id)
            conversation = self._user_conversation(user_id, channel_id)
            message = ws.message(conversation.id, message_ts)
            if message is None:
                raise LookupError(f"no message {message_ts!r} in {channel_id!r}")
            response_url = ws.new_response_url(channel_id=conversation.id, user_id=user_id, message_ts=message_ts)
            payload = {
                "type": "message_action",
                "token": self.verification_token,
                "action_ts": ws.new_ts(),
                "team": self._team_ref(),
                "user": {"id": user_id, "name": ws.users[user_id].name, "team_id": ws.team_id},
                "channel": {"id": conversation.id, "name": self._channel_name(conversation)},
                "is_enterprise_install": False,
                "enterprise": None,
                "callback_id": callback_id,
                "trigger_id": ws.issue_trigger(user_id),
                "message_ts": message_ts,
                "message": public_message(message),
                "response_url": f"{self._base_url_for_app()}/response/{response_url.id}",
            }
        return self._post_interaction(payload, timestamp)

    # ------------------------------------------------------------------ Events API

    def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
    ) -> AppResponse:
        """Deliver one Events API callback. Re-send with the same ``event_id`` and a
        ``retry_num`` to imitate Slack's retries."""
        with self._ws.lock:
            envelope = self._envelope(copy.deepcopy(event), event_id)
        if self.socket_mode is not None:
            return self._over_socket("event", "events_api", envelope, accepts_response_payload=False,
                                     retry_attempt=retry_num or 0, retry_reason=retry_reason if retry_num else "")
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        body = json.dumps(envelope).encode()
        response = self._transport.post(
            self._require_app_url(),
            body,
            content_type="application/json",
            timeout=self.app_timeout,
            timestamp=timestamp,
            extra_headers=extra,
        )
        self._record_delivery("event", envelope, response)
        return response

    def send_url_verification(self, challenge: str = "challenge-token") -> AppResponse:
        body = json.dumps({"token": self.verification_token, "challenge": challenge, "type": "url_verification"})
        return self._transport.post(
            self._require_app_url(), body.encode(), content_type="application/json", timeout=self.app_timeout
        )

    # ------------------------------------------------------------------ people typing in Slack

    def user_posts(
        self,
        user_id: str,
        channel_id: str,
        text: str,
        *,
        thread_ts: str | None = None,
        also_send_to_channel: bool = False,
    ) -> dict[str, Any]:
        """Store a message typed by a user and send the events Slack would send for it.

        ``also_send_to_channel`` ticks the box under a thread reply: the reply shows in the channel
        as well as in the thread, and arrives as a ``thread_broadcast`` carrying its thread's ``root``.
        """
        if also_send_to_channel and not thread_ts:
            raise ValueError("only a reply in a thread can also be sent to the channel")
        ws = self._ws
        with ws.lock:
            self._acting_user(user_id)
            conversation = self._user_conversation(user_id, channel_id)
            message: dict[str, Any] = {
                "client_msg_id": str(uuid.UUID(ws.opaque("client_msg_id", 32))),
                "type": "message",
                "text": text,
                "user": user_id,
                "ts": ws.new_ts(),
                "blocks": [_rich_text_block(ws.short_block_id(), text)],
                "team": ws.team_id,
            }
            if thread_ts:
                message["thread_ts"] = thread_ts
            if also_send_to_channel:
                message["subtype"] = "thread_broadcast"
            stored = ws.store_message(conversation.id, message)
            events = self._events_for_new_message(conversation, stored)
            result = {**public_message(stored), "channel": conversation.id}
        self._send_user_events(events)
        return result

    def user_uploads(self, user_id: str, channel_id: str, *, filename: str, content: bytes,
                     text: str = "") -> dict[str, Any]:
        """A person shares a file in a conversation (a DM with the app: the app's user id as
        ``channel_id``): a ``file_share`` message carrying the file's object, as Slack sends it.

        The bytes are at the object's ``url_private``, for the bot token only; ``files.info`` finds it.
        """
        ws = self._ws
        with ws.lock:
            self._acting_user(user_id)
            conversation = self._user_conversation(user_id, channel_id)
            file_id = ws.new_id("F")
            now = int(ws.wall_clock())
            file_object = {
                "id": file_id, "created": now, "timestamp": now, "name": filename, "title": filename,
                "mimetype": "text/plain", "filetype": filename.rpartition(".")[2] or "text", "user": user_id,
                "size": len(content), "mode": "hosted", "is_external": False,
                "url_private": f"{self._base_url_for_app()}/files/{file_id}",
                "url_private_download": f"{self._base_url_for_app()}/files/{file_id}",
                "permalink": f"https://{ws.team_domain}.slack.com/files/{user_id}/{file_id}",
            }
            ws.files[file_id] = {"file": file_object, "content": bytes(content), "channels": [conversation.id]}
            message: dict[str, Any] = {
                "type": "message", "subtype": "file_share", "text": text, "user": user_id, "ts": ws.new_ts(),
                "upload": True, "display_as_bot": False, "files": [copy.deepcopy(file_object)], "team": ws.team_id,
            }
            stored = ws.store_message(conversation.id, message)
            events = self._events_for_new_message(conversation, stored)
            result = {**public_message(stored), "channel": conversation.id}
        self._send_user_events(events)
        return result

    def user_edits(self, user_id: str, channel_id: str, ts: str, new_text: str) -> dict[str, Any]:
        ws = self._ws
        with ws.lock:
            conversation, message = self._users_message(user_id, channel_id, ts)
            before = copy.deepcopy(message)
            message["text"] = new_text
            block_id = before["blocks"][0]["block_id"] if before.get("blocks") else ws.short_block_id()
            message["blocks"] = [_rich_text_block(block_id, new_text)]
            message["edited"] = {"user": user_id, "ts": ws.new_ts()}
            events = []
            if self._subscribed_to(conversation):
                events.append(message_changed_event(ws, conversation, before, message))
            result = {**public_message(message), "channel": conversation.id}
        self._send_user_events(events)
        return result

    def user_deletes(self, user_id: str, channel_id: str, ts: str) -> None:
        ws = self._ws
        with ws.lock:
            conversation, message = self._users_message(user_id, channel_id, ts)
            ws.remove_message(conversation.id, ts)
            events = [message_deleted_event(ws, conversation, message)] if self._subscribed_to(conversation) else []
        self._send_user_events(events)

    def _users_message(self, user_id: str, channel_id: str, ts: str) -> tuple[Conversation, dict[str, Any]]:
        self._acting_user(user_id)
        conversation = self._user_conversation(user_id, channel_id)
        message = self._ws.message(conversation.id, ts)
        if message is None:
            raise LookupError(f"no message {ts!r} in {channel_id!r}")
        if message.get("user") != user_id or message.get("bot_id"):
            raise ValueError(f"message {ts!r} was not written by {user_id!r}")
        return conversation, message

    def _subscribed_to(self, conversation: Conversation) -> bool:
        """Slack sends message events only for subscribed conversation types the bot is in."""
        return (
            _SUBSCRIPTION_FOR_KIND[conversation.kind] in self.event_subscriptions
            and self._ws.bot_user_id in conversation.members
        )

    def _events_for_new_message(self, conversation: Conversation, message: dict[str, Any]) -> list[dict[str, Any]]:
        events = []
        if self._subscribed_to(conversation):
            event = message_event(conversation, message)
            events.append(event)
            if message.get("subtype") == "thread_broadcast":
                root = self._ws.message(conversation.id, message["thread_ts"])
                if root is not None:
                    event["root"] = public_message(root)
                # Slack reports a broadcast as changed just after posting it, text and all the same,
                # though nobody edited it: apps must not read that as an edit.
                unchanged = {k: v for k, v in event.items() if k not in ("channel", "event_ts", "channel_type")}
                events.append(message_changed_event(self._ws, conversation, unchanged, unchanged))
        mention = f"<@{self._ws.bot_user_id}>"
        if (
            "app_mention" in self.event_subscriptions
            and mention in message.get("text", "")
            and self._ws.bot_user_id in conversation.members
        ):
            app_mention = {
                key: copy.deepcopy(message[key])
                for key in ("client_msg_id", "user", "text", "ts", "team", "blocks", "thread_ts")
                if key in message
            }
            app_mention.update({"type": "app_mention", "channel": conversation.id, "event_ts": message["ts"]})
            events.append(app_mention)
        return events

    def _send_user_events(self, events: list[dict[str, Any]]) -> None:
        if events and self._has_app_url():
            for event in events:
                self._send_event_until_answered(event)

    def _send_event_until_answered(self, event: dict[str, Any]) -> None:
        """Deliver an event as Slack does: again, with the same id, while the app fails to answer 2xx."""
        with self._ws.lock:
            event_id = self._ws.new_event_id()
        response = self.send_event(event, event_id=event_id)
        if 200 <= response.status < 300 or not self.event_retry_delays:
            return

        reason = "http_timeout" if response.status == 0 else "http_error"

        def retry(attempt: int) -> None:
            again = self.send_event(event, event_id=event_id, retry_num=attempt, retry_reason=reason)
            if not 200 <= again.status < 300 and attempt < len(self.event_retry_delays):
                schedule(attempt + 1)

        def schedule(attempt: int) -> None:
            timer = threading.Timer(self.event_retry_delays[attempt - 1], retry, args=(attempt,))
            timer.daemon = True
            timer.start()

        schedule(1)


def _rich_text_block(block_id: str, text: str) -> dict[str, Any]:
    """How Slack's clients encode a typed message (mentions kept as plain text)."""
    return {
        "type": "rich_text",
        "block_id": block_id,
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
    }


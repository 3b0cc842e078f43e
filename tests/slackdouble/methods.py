"""Web API method implementations, stateful and strict like Slack's.

Each handler receives a ``Context`` with the decoded arguments and the workspace
(whose lock the dispatcher already holds) and returns the success body, or raises
``ApiError`` with the error code Slack documents for the situation.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .blockkit import VIEW_MAX_BYTES, validate_blocks, validate_view
from .method_table import MethodSpec
from .state import Conversation, ResponseUrl, Workspace, is_ts, ts_key

MESSAGE_TEXT_LIMIT = 40_000
# Slack's chat.update docs: "The `text` field cannot exceed 4,000 characters."
UPDATE_TEXT_LIMIT = 4_000
MAX_ATTACHMENTS = 100
SCHEDULE_HORIZON_SECONDS = 120 * 24 * 3600
CHANNEL_TYPES = {"channel": "channel", "group": "group", "im": "im", "mpim": "mpim"}

# Arguments Slack sends as JSON-encoded strings inside form bodies.
JSON_ARGS = frozenset({"blocks", "attachments", "view", "metadata", "files"})


class ApiError(Exception):
    """An ``ok: false`` answer."""

    def __init__(self, error: str, *, messages: list[str] | None = None, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


@dataclass
class Behaviour:
    """Workspace/app settings that change how Slack answers."""

    echo_bot_messages: bool = False
    # With the chat:write.public scope a bot may post in public channels it has not joined.
    chat_write_public: bool = False
    # Free workspaces have no user groups: usergroups.* answer plan_upgrade_required.
    usergroups_available: bool = True
    # Where apps.connections.open sends the app (SlackDouble.use_socket_mode); None: Socket Mode is off.
    socket_mode_url: str | None = None


class Args:
    """Typed access to a call's arguments (form values arrive as strings)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def get(self, name: str) -> Any:
        return self.raw.get(name)

    def str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)

    def bool(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes")

    def int(self, name: str, *, error: str = "invalid_arguments") -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            return int(str(value).strip())
        except ValueError:
            raise ApiError(error, messages=[f"[ERROR] must be an integer [json-pointer:/{name}]"]) from None


@dataclass
class Context:
    method: str
    spec: MethodSpec
    args: Args
    ws: Workspace
    behaviour: Behaviour
    base_url: str
    warnings: list[str] = field(default_factory=list)
    # Events Slack sends the app because of this call, delivered after the answer.
    events: list[dict[str, Any]] = field(default_factory=list)

    def error(self, preferred: str, fallback: str = "invalid_arguments") -> str:
        """``preferred`` if this method documents it, else ``fallback``."""
        return preferred if preferred in self.spec.errors else fallback


Handler = Callable[[Context], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def implements(method: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[method] = handler
        return handler

    return register


# What a missing required argument is reported as, when the method documents it.
_MISSING_ARG_ERRORS: dict[str, str] = {
    "channel": "channel_not_found",
    "user": "user_not_found",
    "email": "users_not_found",
    "message_ts": "message_not_found",
    "post_at": "invalid_time",
    "name": "invalid_name",
    "timestamp": "no_item_specified",
    "usergroup": "no_such_subteam",
    "filename": "missing_argument",
    "length": "missing_argument",
}
_MISSING_ARG_OVERRIDES: dict[tuple[str, str], str] = {
    ("chat.postEphemeral", "user"): "user_not_in_channel",
    ("chat.update", "ts"): "message_not_found",
    ("chat.delete", "ts"): "message_not_found",
    ("conversations.replies", "ts"): "thread_not_found",
}


def missing_argument_error(spec: MethodSpec, args: dict[str, Any]) -> ApiError | None:
    for name in spec.required:
        if args.get(name) not in (None, ""):
            continue
        preferred = _MISSING_ARG_OVERRIDES.get((spec.name, name)) or _MISSING_ARG_ERRORS.get(name)
        if preferred and preferred in spec.errors:
            return ApiError(preferred)
        return ApiError("invalid_arguments", messages=[f"[ERROR] missing required field: {name}"])
    return None


# ====================================================================== shared helpers


def public_message(message: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(message)


def public_view(view: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(view)
    result.pop("user_id", None)  # the double's own bookkeeping, not part of Slack's view object
    return result


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, number = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if kind != "offset" or not number.isdigit():
            raise ValueError(cursor)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None


def _page(items: list[Any], ctx: Context, *, default_limit: int, max_limit: int) -> tuple[list[Any], str]:
    limit = ctx.args.int("limit", error=ctx.error("invalid_limit"))
    if limit is None or limit == 0:
        limit = default_limit
    if limit < 0 or limit > max_limit:
        raise ApiError(ctx.error("invalid_limit"))
    start = _decode_cursor(ctx.args.str("cursor"))
    if start > len(items):
        raise ApiError("invalid_cursor")
    page = items[start : start + limit]
    following = start + limit
    return page, _encode_cursor(following) if following < len(items) else ""


def _visible_conversation(ctx: Context, ref: str | None, *, allow_names: bool = False) -> Conversation:
    conversation = ctx.ws.conversation(ref, allow_names=allow_names)
    if conversation is None or not ctx.ws.visible_to_bot(conversation):
        raise ApiError("channel_not_found")
    return conversation


def _conversation_to_post_in(ctx: Context, ref: str | None) -> Conversation:
    """Channel id, ``#name`` or a user id (which means the bot's DM with that user)."""
    ws = ctx.ws
    if ref and ref in ws.users and not ref.startswith(("C", "G", "D")):
        user = ws.users[ref]
        if user.is_bot or user.deleted:
            raise ApiError("channel_not_found")
        return ws.im_with(ref)
    conversation = _visible_conversation(ctx, ref, allow_names=True)
    if conversation.is_archived:
        raise ApiError(ctx.error("is_archived", "channel_not_found"))
    may_post_unjoined = conversation.kind == "channel" and ctx.behaviour.chat_write_public
    if ws.bot_user_id not in conversation.members and not may_post_unjoined:
        raise ApiError(ctx.error("not_in_channel", "channel_not_found"))
    return conversation


@dataclass
class MessageContent:
    text: str | None
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None
    markdown_text: str | None


def check_message_content(
    raw: dict[str, Any],
    *,
    text_limit: int = MESSAGE_TEXT_LIMIT,
    documented: frozenset[str] | None = None,
) -> MessageContent:
    """Validate text/blocks/attachments the way every message-posting surface does."""

    def error(preferred: str) -> str:
        return preferred if documented is None or preferred in documented else "invalid_arguments"

    text = raw.get("text")
    text = None if text in (None, "") else str(text)
    markdown_text = raw.get("markdown_text") or None
    blocks = raw.get("blocks")
    attachments = raw.get("attachments")

    if markdown_text is not None and (text is not None or blocks):
        raise ApiError(error("markdown_text_conflict"))
    if blocks is not None:
        if isinstance(blocks, str):
            raise ApiError(error("invalid_blocks_format"))
        problems = validate_blocks(blocks)
        if problems:
            raise ApiError(error("invalid_blocks"), messages=problems)
    if attachments is not None:
        if isinstance(attachments, str) or not isinstance(attachments, list):
            raise ApiError(error("invalid_attachments"))
        if len(attachments) > MAX_ATTACHMENTS:
            raise ApiError(error("too_many_attachments"))
    if text is None and not blocks and not attachments and markdown_text is None:
        raise ApiError(error("no_text"))
    if text is not None and len(text) > text_limit:
        raise ApiError(error("msg_too_long"))
    return MessageContent(text, copy.deepcopy(blocks) if blocks else None, copy.deepcopy(attachments), markdown_text)


def bot_message(ws: Workspace, ts: str, content: MessageContent, raw: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "message",
        "user": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "text": content.text if content.text is not None else (content.markdown_text or ""),
        "ts": ts,
        "team": ws.team_id,
        "bot_profile": {
            "id": ws.bot_id,
            "app_id": ws.app_id,
            "name": ws.bot_name,
            "deleted": False,
            "team_id": ws.team_id,
        },
    }
    if content.blocks:
        message["blocks"] = content.blocks
    if content.attachments:
        message["attachments"] = [
            {"id": index + 1, "fallback": a.get("fallback", ""), **a} if isinstance(a, dict) else a
            for index, a in enumerate(content.attachments)
        ]
    for optional in ("username", "icon_emoji", "icon_url"):
        if raw.get(optional):
            message[optional] = raw[optional]
    metadata = raw.get("metadata")
    if metadata is not None:
        message["metadata"] = metadata
    return message


def _check_metadata(ctx: Context) -> None:
    metadata = ctx.args.get("metadata")
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise ApiError(ctx.error("invalid_metadata_format"))
    if not isinstance(metadata.get("event_type"), str) or not isinstance(metadata.get("event_payload"), dict):
        raise ApiError(ctx.error("invalid_metadata_schema"))


def queue_message_event(
    events: list[dict[str, Any]], behaviour: Behaviour, conversation: Conversation, message: dict[str, Any]
) -> None:
    """A subscribed app hears its own posts too; the double only sends them when asked to."""
    if behaviour.echo_bot_messages:
        events.append(message_event(conversation, message))


def message_event(conversation: Conversation, message: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(message)
    event["channel"] = conversation.id
    event["event_ts"] = message["ts"]
    event["channel_type"] = CHANNEL_TYPES[conversation.kind]
    return event


def message_changed_event(
    ws: Workspace, conversation: Conversation, before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    event_ts = ws.new_ts()
    return {
        "type": "message",
        "subtype": "message_changed",
        "channel": conversation.id,
        "hidden": True,
        "message": copy.deepcopy(after),
        "previous_message": copy.deepcopy(before),
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": CHANNEL_TYPES[conversation.kind],
    }


def message_deleted_event(ws: Workspace, conversation: Conversation, before: dict[str, Any]) -> dict[str, Any]:
    event_ts = ws.new_ts()
    return {
        "type": "message",
        "subtype": "message_deleted",
        "channel": conversation.id,
        "hidden": True,
        "deleted_ts": before["ts"],
        "previous_message": copy.deepcopy(before),
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": CHANNEL_TYPES[conversation.kind],
    }


def apply_edit(ws: Workspace, message: dict[str, Any], content: MessageContent, *, editor: str) -> None:
    """chat.update semantics: new blocks replace old; text alone drops the old blocks."""
    if content.blocks is not None:
        message["blocks"] = ws.assign_ids(content.blocks)
        if content.text is not None:
            message["text"] = content.text
    elif content.text is not None:
        message["text"] = content.text
        message.pop("blocks", None)
    if content.attachments is not None:
        if content.attachments:
            message["attachments"] = content.attachments
        else:
            message.pop("attachments", None)
    message["edited"] = {"user": editor, "ts": ws.new_ts()}


# ====================================================================== auth / team


@implements("auth.test")
def auth_test(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    return {
        "ok": True,
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@implements("team.info")
def team_info(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    team = ctx.args.str("team")
    if team is not None and team in ws.external_teams:
        # A workspace sharing a channel (Slack Connect): Slack tells its name and little else.
        return {"ok": True, "team": {"id": team, "name": ws.external_teams[team], "domain": "",
                                     "icon": {"image_default": True}}}
    if team is not None and team != ws.team_id:
        raise ApiError("team_not_found")
    return {
        "ok": True,
        "team": {
            "id": ws.team_id,
            "name": ws.team_name,
            "url": f"https://{ws.team_domain}.slack.com/",
            "domain": ws.team_domain,
            "email_domain": "",
            "icon": {"image_default": True},
            "is_verified": False,
        },
    }


# ====================================================================== chat


@implements("chat.postMessage")
def chat_post_message(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    conversation = _conversation_to_post_in(ctx, ctx.args.str("channel"))
    content = check_message_content(ctx.args.raw, documented=ctx.spec.errors | {"msg_too_long"})
    _check_metadata(ctx)
    message = bot_message(ws, ws.new_ts(), content, ctx.args.raw)
    thread_ts = ctx.args.str("thread_ts")
    if thread_ts:
        message["thread_ts"] = thread_ts
        if ctx.args.bool("reply_broadcast"):
            message["subtype"] = "thread_broadcast"
    stored = ws.store_message(conversation.id, message)
    queue_message_event(ctx.events, ctx.behaviour, conversation, stored)
    return {"ok": True, "channel": conversation.id, "ts": stored["ts"], "message": public_message(stored)}


@implements("chat.postEphemeral")
def chat_post_ephemeral(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    conversation = _conversation_to_post_in(ctx, ctx.args.str("channel"))
    user_id = ctx.args.str("user") or ""
    user = ws.user(user_id)
    if user is None or user.deleted or user_id not in conversation.members:
        raise ApiError("user_not_in_channel")
    content = check_message_content(ctx.args.raw, documented=ctx.spec.errors)
    ts = ws.new_ts()
    ws.ephemeral.append(
        {
            "channel": conversation.id,
            "user": user_id,
            "ts": ts,
            "text": content.text or "",
            "blocks": ws.assign_ids(content.blocks) if content.blocks else None,
            "attachments": content.attachments,
            "thread_ts": ctx.args.str("thread_ts"),
            "bot_id": ws.bot_id,
            "source": "chat.postEphemeral",
        }
    )
    return {"ok": True, "message_ts": ts}


def _own_message(ctx: Context, *, not_found: str, forbidden: str) -> tuple[Conversation, dict[str, Any]]:
    conversation = _visible_conversation(ctx, ctx.args.str("channel"))
    ts = ctx.args.str("ts") or ""
    message = ctx.ws.message(conversation.id, ts)
    if message is None:
        raise ApiError(not_found)
    if message.get("bot_id") != ctx.ws.bot_id:
        raise ApiError(forbidden)
    return conversation, message


@implements("chat.update")
def chat_update(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    conversation, message = _own_message(ctx, not_found="message_not_found", forbidden="cant_update_message")
    if conversation.is_archived:
        raise ApiError("is_inactive")
    content = check_message_content(ctx.args.raw, text_limit=UPDATE_TEXT_LIMIT, documented=ctx.spec.errors)
    _check_metadata(ctx)
    before = copy.deepcopy(message)
    apply_edit(ws, message, content, editor=ws.bot_user_id)
    if ctx.behaviour.echo_bot_messages:
        ctx.events.append(message_changed_event(ws, conversation, before, message))
    return {
        "ok": True,
        "channel": conversation.id,
        "ts": message["ts"],
        "text": message.get("text", ""),
        "message": public_message(message),
    }


@implements("chat.delete")
def chat_delete(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    conversation, message = _own_message(ctx, not_found="message_not_found", forbidden="cant_delete_message")
    ws.remove_message(conversation.id, message["ts"])
    if ctx.behaviour.echo_bot_messages:
        ctx.events.append(message_deleted_event(ws, conversation, message))
    return {"ok": True, "channel": conversation.id, "ts": message["ts"]}


@implements("chat.getPermalink")
def chat_get_permalink(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    conversation = _visible_conversation(ctx, ctx.args.str("channel"))
    ts = ctx.args.str("message_ts") or ""
    message = ws.message(conversation.id, ts)
    if message is None:
        raise ApiError("message_not_found")
    permalink = f"https://{ws.team_domain}.slack.com/archives/{conversation.id}/p{ts.replace('.', '')}"
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != ts:
        permalink += f"?thread_ts={thread_ts}&cid={conversation.id}"
    return {"ok": True, "channel": conversation.id, "permalink": permalink}


@implements("chat.scheduleMessage")
def chat_schedule_message(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    conversation = _conversation_to_post_in(ctx, ctx.args.str("channel"))
    post_at = ctx.args.int("post_at", error="invalid_time")
    now = ws.wall_clock()
    if post_at is None:
        raise ApiError("invalid_time")
    if post_at <= now:
        raise ApiError("time_in_past")
    if post_at > now + SCHEDULE_HORIZON_SECONDS:
        raise ApiError("time_too_far")
    content = check_message_content(ctx.args.raw, documented=ctx.spec.errors)
    _check_metadata(ctx)
    scheduled_id = ws.new_id("Q")
    message = bot_message(ws, "", content, ctx.args.raw)
    message.pop("ts")
    message.update({"type": "delayed_message", "subtype": "bot_message"})
    ws.scheduled_messages.append(
        {
            "id": scheduled_id,
            "channel_id": conversation.id,
            "post_at": post_at,
            "date_created": int(now),
            "thread_ts": ctx.args.str("thread_ts"),
            "message": copy.deepcopy(message),
        }
    )
    return {
        "ok": True,
        "channel": conversation.id,
        "scheduled_message_id": scheduled_id,
        "post_at": post_at,
        "message": message,
    }


# ====================================================================== conversations


@implements("conversations.open")
def conversations_open(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    return_full = ctx.args.bool("return_im")
    channel_ref = ctx.args.str("channel")
    if channel_ref is not None:
        conversation = _visible_conversation(ctx, channel_ref)
        if conversation.kind not in ("im", "mpim"):
            raise ApiError("method_not_supported_for_channel_type")
        return {"ok": True, "channel": conversation.to_api() if return_full else {"id": conversation.id}}

    users_arg = ctx.args.str("users")
    if users_arg is None:
        raise ApiError("users_list_not_supplied")
    user_ids = [u.strip() for u in users_arg.split(",") if u.strip()]
    if not user_ids:
        raise ApiError("users_list_not_supplied")
    for user_id in user_ids:
        user = ws.user(user_id)
        if user is None:
            raise ApiError("user_not_found")
        if user.deleted:
            raise ApiError("user_disabled")
    if len(user_ids) > 8:
        raise ApiError("too_many_users")

    if len(user_ids) == 1:
        user = ws.users[user_ids[0]]
        if user.is_bot:
            # Not in the scraped method docs, but it is what Slack answers for a bot user.
            raise ApiError("cannot_dm_bot")
        existed = user.id in ws.ims
        if ctx.args.bool("prevent_creation") and not existed:
            raise ApiError("channel_not_found")
        conversation = ws.im_with(user.id)
    else:
        if any(ws.users[u].is_bot for u in user_ids):
            raise ApiError("invalid_user_combination")
        existed = False
        conversation = ws.mpim_with(user_ids)
    body: dict[str, Any] = {"ok": True}
    if existed:
        body.update({"no_op": True, "already_open": True})
    body["channel"] = conversation.to_api() if return_full else {"id": conversation.id}
    return body


@implements("conversations.info")
def conversations_info(ctx: Context) -> dict[str, Any]:
    conversation = _visible_conversation(ctx, ctx.args.str("channel"))
    channel = conversation.to_api(include_num_members=ctx.args.bool("include_num_members"))
    if conversation.kind != "im":
        channel["is_member"] = ctx.ws.bot_user_id in conversation.members
    if ctx.args.bool("include_locale"):
        channel["locale"] = "en-US"
    return {"ok": True, "channel": channel}


@implements("conversations.members")
def conversations_members(ctx: Context) -> dict[str, Any]:
    conversation = _visible_conversation(ctx, ctx.args.str("channel"))
    members, next_cursor = _page(list(conversation.members), ctx, default_limit=100, max_limit=1000)
    return {"ok": True, "members": members, "response_metadata": {"next_cursor": next_cursor}}


def _readable_conversation(ctx: Context) -> Conversation:
    conversation = _visible_conversation(ctx, ctx.args.str("channel"))
    if ctx.ws.bot_user_id not in conversation.members:
        raise ApiError(ctx.error("not_in_channel", "channel_not_found"))
    return conversation


def _time_window(ctx: Context) -> Callable[[dict[str, Any]], bool]:
    inclusive = ctx.args.bool("inclusive")
    bounds = []
    for name, error in (("oldest", "invalid_ts_oldest"), ("latest", "invalid_ts_latest")):
        value = ctx.args.str(name)
        if value is not None:
            try:
                bounds.append(ts_key(value))
            except ValueError:
                raise ApiError(error) from None
        else:
            bounds.append(None)
    oldest, latest = bounds

    def inside(message: dict[str, Any]) -> bool:
        key = ts_key(message["ts"])
        if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
            return False
        if latest is not None and (key > latest or (key == latest and not inclusive)):
            return False
        return True

    return inside


@implements("conversations.history")
def conversations_history(ctx: Context) -> dict[str, Any]:
    conversation = _readable_conversation(ctx)
    inside = _time_window(ctx)
    newest_first = [
        public_message(m)
        for m in reversed(ctx.ws.channel_messages(conversation.id, include_replies=False))
        if inside(m)
    ]
    page, next_cursor = _page(newest_first, ctx, default_limit=100, max_limit=999)
    return {
        "ok": True,
        "messages": page,
        "has_more": bool(next_cursor),
        "pin_count": 0,
        "response_metadata": {"next_cursor": next_cursor},
    }


@implements("conversations.replies")
def conversations_replies(ctx: Context) -> dict[str, Any]:
    conversation = _readable_conversation(ctx)
    ts = ctx.args.str("ts") or ""
    parent = ctx.ws.message(conversation.id, ts)
    if parent is None:
        raise ApiError("thread_not_found")
    thread = [parent] + (ctx.ws.thread_replies(conversation.id, ts) if parent.get("thread_ts") == ts else [])
    inside = _time_window(ctx)
    oldest_first = [public_message(m) for m in thread if m is parent or inside(m)]
    page, next_cursor = _page(oldest_first, ctx, default_limit=1000, max_limit=1000)
    return {
        "ok": True,
        "messages": page,
        "has_more": bool(next_cursor),
        "response_metadata": {"next_cursor": next_cursor},
    }


@implements("conversations.join")
def conversations_join(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    conversation = ws.conversation(ctx.args.str("channel"))
    if conversation is None:
        raise ApiError("channel_not_found")
    # Slack checks the kind before membership: a private channel the bot cannot see still answers
    # this, not channel_not_found (as conversations.info does).
    if conversation.kind != "channel":
        raise ApiError("method_not_supported_for_channel_type")
    if conversation.is_archived:
        raise ApiError("is_archived")
    if ws.bot_user_id in conversation.members:
        ctx.warnings.append("already_in_channel")
    else:
        conversation.members.append(ws.bot_user_id)
    channel = conversation.to_api()
    channel["is_member"] = True
    return {"ok": True, "channel": channel}


# ====================================================================== users


@implements("users.info")
def users_info(ctx: Context) -> dict[str, Any]:
    user = ctx.ws.user(ctx.args.str("user") or "")
    if user is None:
        raise ApiError("user_not_found")
    return {"ok": True, "user": user.to_api(ctx.ws.wall_clock(), include_locale=ctx.args.bool("include_locale"))}


@implements("users.lookupByEmail")
def users_lookup_by_email(ctx: Context) -> dict[str, Any]:
    wanted = (ctx.args.str("email") or "").strip().lower()
    for user in ctx.ws.users.values():
        if user.email and user.email.lower() == wanted and not user.deleted:
            return {"ok": True, "user": user.to_api(ctx.ws.wall_clock())}
    raise ApiError("users_not_found")


@implements("users.list")
def users_list(ctx: Context) -> dict[str, Any]:
    now = ctx.ws.wall_clock()
    everyone = list(ctx.ws.users.values())
    # Only the page asked for is rendered: a workspace of thousands is paged through many times.
    page, next_cursor = _page(everyone, ctx, default_limit=len(everyone) or 1, max_limit=max(1000, len(everyone)))
    members = [u.to_api(now, include_locale=ctx.args.bool("include_locale")) for u in page]
    return {"ok": True, "members": members, "cache_ts": int(now), "response_metadata": {"next_cursor": next_cursor}}


@implements("apps.connections.open")
def apps_connections_open(ctx: Context) -> dict[str, Any]:
    if ctx.behaviour.socket_mode_url is None:
        raise ApiError("not_allowed_token_type")
    return {"ok": True, "url": ctx.behaviour.socket_mode_url}


@implements("usergroups.users.list")
def usergroups_users_list(ctx: Context) -> dict[str, Any]:
    if not ctx.behaviour.usergroups_available:
        raise ApiError("plan_upgrade_required")
    group = ctx.ws.usergroups.get(ctx.args.str("usergroup") or "")
    if group is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


# ====================================================================== views


def _view_argument(ctx: Context) -> dict[str, Any]:
    view = ctx.args.get("view")
    if not isinstance(view, dict):
        raise ApiError("invalid_arguments", messages=["[ERROR] failed to parse view JSON [json-pointer:/view]"])
    if len(json.dumps(view).encode()) > VIEW_MAX_BYTES:
        raise ApiError("view_too_large")
    problems = validate_view(view)
    if problems:
        raise ApiError("invalid_arguments", messages=problems)
    external_id = view.get("external_id")
    if external_id:
        holder = ctx.ws.view_by_external_id(external_id)
        if holder is not None and holder["id"] != ctx.args.str("view_id"):
            if ctx.method != "views.update":
                raise ApiError("duplicate_external_id")
    return view


def _require_type(view: dict[str, Any], wanted: str) -> None:
    if view.get("type") != wanted:
        raise ApiError("invalid_arguments", messages=[f"[ERROR] must be {wanted} [json-pointer:/view/type]"])


def _spend_trigger(ctx: Context) -> str | None:
    trigger_id = ctx.args.str("trigger_id") or ctx.args.str("interactivity_pointer")
    if trigger_id is None:
        raise ApiError("invalid_arguments", messages=["[ERROR] missing required field: trigger_id"])
    error, trigger = ctx.ws.exchange_trigger(trigger_id)
    if error:
        raise ApiError(error)
    assert trigger is not None
    return trigger.user_id


@implements("views.open")
def views_open(ctx: Context) -> dict[str, Any]:
    view = _view_argument(ctx)
    _require_type(view, "modal")
    user_id = _spend_trigger(ctx)
    stored = ctx.ws.store_view(view, user_id=user_id)
    if user_id is not None:
        ctx.ws.view_stacks[user_id] = [stored["id"]]
    return {"ok": True, "view": public_view(stored)}


@implements("views.push")
def views_push(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    view = _view_argument(ctx)
    _require_type(view, "modal")
    user_id = _spend_trigger(ctx)
    stack = ws.open_modal_stack(user_id) if user_id else []
    if not stack:
        raise ApiError("not_found")
    if len(stack) >= 3:
        raise ApiError("push_limit_reached")
    stored = ws.store_view(view, user_id=user_id, root_view_id=stack[0], previous_view_id=stack[-1])
    stack.append(stored["id"])
    return {"ok": True, "view": public_view(stored)}


@implements("views.update")
def views_update(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    view_id, external_id = ctx.args.str("view_id"), ctx.args.str("external_id")
    if view_id is None and external_id is None:
        raise ApiError("invalid_arguments", messages=["[ERROR] either view_id or external_id is required"])
    current = ws.views.get(view_id) if view_id else ws.view_by_external_id(external_id or "")
    if current is None:
        raise ApiError("not_found")
    view = _view_argument(ctx)
    _require_type(view, current["type"])
    given_hash = ctx.args.str("hash")
    if given_hash is not None and given_hash != current["hash"]:
        raise ApiError("hash_conflict")
    if current.get("external_id") and "external_id" not in view:
        view = {**view, "external_id": current["external_id"]}  # an update keeps the view's identity
    stored = ws.store_view(
        view,
        user_id=current.get("user_id"),
        view_id=current["id"],
        root_view_id=current["root_view_id"],
        previous_view_id=current["previous_view_id"],
    )
    if current["type"] == "home" and current.get("user_id"):
        ws.home_views[current["user_id"]] = stored
    return {"ok": True, "view": public_view(stored)}


@implements("views.publish")
def views_publish(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    user_id = ctx.args.str("user_id") or ""
    user = ws.user(user_id)
    if user is None or user.is_bot:
        raise ApiError("invalid_arguments", messages=["[ERROR] invalid user_id [json-pointer:/user_id]"])
    view = _view_argument(ctx)
    _require_type(view, "home")
    current = ws.home_views.get(user_id)
    given_hash = ctx.args.str("hash")
    if given_hash is not None and (current is None or given_hash != current["hash"]):
        raise ApiError("hash_conflict")
    stored = ws.store_view(view, user_id=user_id, view_id=current["id"] if current else None)
    ws.home_views[user_id] = stored
    return {"ok": True, "view": public_view(stored)}


# ====================================================================== files


@implements("files.info")
def files_info(ctx: Context) -> dict[str, Any]:
    """A file's object, if it is shared somewhere the bot is (a person's DM to the app included)."""
    ws = ctx.ws
    stored = ws.files.get(ctx.args.str("file") or "")
    if stored is None:
        raise ApiError("file_not_found")
    if not file_visible_to_bot(ws, stored):
        raise ApiError("not_visible")
    return {"ok": True, "file": copy.deepcopy(stored["file"]), "comments": [], "response_metadata": {"next_cursor": ""}}


def file_visible_to_bot(ws: Workspace, stored: dict[str, Any]) -> bool:
    for channel_id in stored["channels"]:
        conversation = ws.conversation(channel_id)
        if conversation is not None and ws.bot_user_id in conversation.members:
            return True
    return False


@implements("files.getUploadURLExternal")
def files_get_upload_url_external(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    length = ctx.args.int("length")
    if length is None or length <= 0:
        raise ApiError("invalid_arguments", messages=["[ERROR] length must be a positive integer"])
    file_id = ws.new_id("F")
    ws.pending_uploads[file_id] = {
        "id": file_id,
        "filename": ctx.args.str("filename"),
        "length": length,
        "alt_txt": ctx.args.str("alt_txt"),
        "snippet_type": ctx.args.str("snippet_type"),
        "content": None,
    }
    return {"ok": True, "upload_url": f"{ctx.base_url}/upload/v1/{file_id}", "file_id": file_id}


@implements("files.completeUploadExternal")
def files_complete_upload_external(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    files = ctx.args.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
        raise ApiError("invalid_arguments", messages=["[ERROR] files must be a JSON array of {id, title}"])
    for entry in files:
        pending = ws.pending_uploads.get(entry["id"])
        if pending is None or pending["content"] is None:
            raise ApiError("file_not_found")

    channel_ids: list[str] = []
    if ctx.args.str("channel_id"):
        channel_ids.append(ctx.args.str("channel_id") or "")
    if ctx.args.str("channels"):
        channel_ids += [c.strip() for c in (ctx.args.str("channels") or "").split(",") if c.strip()]
    conversations = []
    for channel_id in channel_ids:
        conversation = ctx.ws.conversation(channel_id)
        if conversation is None or not ws.visible_to_bot(conversation):
            raise ApiError("channel_not_found")
        if ws.bot_user_id not in conversation.members:
            raise ApiError("not_in_channel")
        conversations.append(conversation)

    blocks = ctx.args.get("blocks")
    if blocks is not None:
        problems = validate_blocks(blocks) if not isinstance(blocks, str) else ["[ERROR] invalid JSON"]
        if problems:
            raise ApiError("invalid_blocks", messages=problems)

    initial_comment = ctx.args.str("initial_comment")
    thread_ts = ctx.args.str("thread_ts")
    now = int(ws.wall_clock())
    file_objects = []
    for entry in files:
        pending = ws.pending_uploads.pop(entry["id"])
        title = entry.get("title") or pending["filename"]
        file_object = {
            "id": pending["id"],
            "created": now,
            "timestamp": now,
            "name": pending["filename"],
            "title": title,
            "mimetype": "application/octet-stream",
            "filetype": (pending["filename"] or "").rpartition(".")[2] or "binary",
            "user": ws.bot_user_id,
            "size": len(pending["content"]),
            "url_private": f"{ctx.base_url}/files/{pending['id']}",
            "permalink": f"https://{ws.team_domain}.slack.com/files/{ws.bot_user_id}/{pending['id']}",
        }
        file_objects.append(file_object)
        ws.files[pending["id"]] = {"file": file_object, "content": pending["content"], "channels": list(channel_ids)}
        ws.uploaded_files.append(
            {
                "id": pending["id"],
                "filename": pending["filename"],
                "title": title,
                "content": pending["content"],
                "alt_txt": pending["alt_txt"],
                "channel_id": channel_ids[0] if channel_ids else None,
                "channels": list(channel_ids),
                "initial_comment": initial_comment,
                "thread_ts": thread_ts,
            }
        )
    for conversation in conversations:
        message = bot_message(ws, ws.new_ts(), MessageContent(initial_comment or "", blocks, None, None), {})
        message.update({"files": copy.deepcopy(file_objects), "upload": True, "display_as_bot": False})
        if thread_ts:
            message["thread_ts"] = thread_ts
        stored = ws.store_message(conversation.id, message)
        queue_message_event(ctx.events, ctx.behaviour, conversation, stored)
    return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in file_objects]}


# ====================================================================== reactions

_EMOJI_NAME = re.compile(r"[a-z0-9_+\-']+(::skin-tone-[2-6])?")


@implements("reactions.add")
def reactions_add(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    conversation = _visible_conversation(ctx, ctx.args.str("channel"))
    if conversation.is_archived:
        raise ApiError("is_archived")
    timestamp = ctx.args.str("timestamp") or ""
    if not is_ts(timestamp):
        raise ApiError("bad_timestamp")
    message = ws.message(conversation.id, timestamp)
    if message is None:
        raise ApiError("message_not_found")
    name = ctx.args.str("name") or ""
    if not _EMOJI_NAME.fullmatch(name):
        raise ApiError("invalid_name")
    reactions = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if ws.bot_user_id in reaction["users"]:
                raise ApiError("already_reacted")
            reaction["users"].append(ws.bot_user_id)
            reaction["count"] += 1
            break
    else:
        reactions.append({"name": name, "users": [ws.bot_user_id], "count": 1})
    return {"ok": True}


# ====================================================================== response URLs


def post_to_response_url(
    ws: Workspace,
    behaviour: Behaviour,
    response_url: ResponseUrl,
    payload: Any,
    events: list[dict[str, Any]],
    *,
    source: str = "response_url",
) -> dict[str, Any]:
    """Apply a message body sent to a response URL (or in a slash command's ack).

    Returns the record of what was posted; raises ApiError if Slack would refuse it.
    Without ``response_type: in_channel`` the message is ephemeral, as in Slack.
    """
    if not isinstance(payload, dict):
        raise ApiError("invalid_payload", status=400)
    record = {
        "response_type": payload.get("response_type"),
        "text": payload.get("text"),
        "blocks": payload.get("blocks"),
        "replace_original": payload.get("replace_original"),
        "delete_original": payload.get("delete_original"),
        "thread_ts": payload.get("thread_ts"),
        "channel_id": response_url.channel_id,
        "user_id": response_url.user_id,
        "url": response_url.id,
    }
    if _truthy(payload.get("delete_original")):
        if response_url.message_ts and response_url.channel_id:
            removed = ws.remove_message(response_url.channel_id, response_url.message_ts)
            if removed is None:
                _delete_ephemeral(ws, response_url)
        return record

    content = check_message_content(payload)
    conversation = ws.conversation(response_url.channel_id) if response_url.channel_id else None

    if _truthy(payload.get("replace_original")) and response_url.message_ts and conversation is not None:
        original = ws.message(conversation.id, response_url.message_ts)
        if original is not None:
            before = copy.deepcopy(original)
            apply_edit(ws, original, content, editor=ws.bot_user_id)
            if behaviour.echo_bot_messages:
                events.append(message_changed_event(ws, conversation, before, original))
            return record
        for ephemeral in ws.ephemeral:
            if ephemeral["ts"] == response_url.message_ts:
                # Slack gives the new blocks ids, as for any stored message, so they can be clicked.
                blocks = ws.assign_ids(content.blocks) if content.blocks else None
                ephemeral.update({"text": content.text or "", "blocks": blocks, "replaced": True})
                return record

    if payload.get("response_type") == "in_channel" and conversation is not None:
        message = bot_message(ws, ws.new_ts(), content, payload)
        if payload.get("thread_ts"):
            message["thread_ts"] = payload["thread_ts"]
        stored = ws.store_message(conversation.id, message)
        queue_message_event(events, behaviour, conversation, stored)
        record["ts"] = stored["ts"]
        return record

    ts = ws.new_ts()
    ws.ephemeral.append(
        {
            "channel": response_url.channel_id,
            "user": response_url.user_id,
            "ts": ts,
            "text": content.text or "",
            "blocks": ws.assign_ids(content.blocks) if content.blocks else None,
            "attachments": content.attachments,
            "thread_ts": payload.get("thread_ts"),
            "bot_id": ws.bot_id,
            "source": source,
        }
    )
    record["ts"] = ts
    return record


def _delete_ephemeral(ws: Workspace, response_url: ResponseUrl) -> None:
    ws.ephemeral[:] = [e for e in ws.ephemeral if e["ts"] != response_url.message_ts]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")

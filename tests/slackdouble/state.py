"""Workspace state: what Slack's servers would know about one workspace.

Nothing here speaks HTTP. Every mutation happens while holding ``Workspace.lock``
(the API dispatcher and the inspection helpers take it), so the records can be
plain dicts shaped like Slack's own JSON.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .blockkit import fill_generated_ids

ConversationKind = Literal["channel", "group", "im", "mpim"]

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_TTL_SECONDS = 30 * 60
RESPONSE_URL_MAX_USES = 5
VIEW_STACK_LIMIT = 3

# zoneinfo knows abbreviations only; Slack shows long names. Unknown ones fall back
# to the abbreviation, which is still recognisable in a test failure.
_TZ_LABELS = {
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "IST": "Irish Standard Time",
    "WET": "Western European Time",
    "WEST": "Western European Summer Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "EET": "Eastern European Time",
    "EEST": "Eastern European Summer Time",
    "UTC": "Coordinated Universal Time",
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "AKST": "Alaska Standard Time",
    "AKDT": "Alaska Daylight Time",
    "HST": "Hawaii-Aleutian Standard Time",
    "JST": "Japan Standard Time",
    "KST": "Korea Standard Time",
    "AEST": "Australian Eastern Standard Time",
    "AEDT": "Australian Eastern Daylight Time",
    "NZST": "New Zealand Standard Time",
    "NZDT": "New Zealand Daylight Time",
}


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for a Slack ts string; raises ValueError for anything else."""
    seconds, _, fraction = str(ts).partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(f"not a Slack ts: {ts!r}")
    return int(seconds), int(fraction.ljust(6, "0")[:6] or 0)


def is_ts(value: Any) -> bool:
    try:
        ts_key(value)
    except ValueError:
        return False
    return True


@dataclass
class User:
    id: str
    name: str
    team_id: str
    real_name: str
    tz: str
    tz_offset: int | None  # None: derived from tz at the time of asking, like Slack
    email: str | None
    is_bot: bool
    deleted: bool
    is_app_user: bool
    bot_id: str | None = None
    # Slack's roles nest: the primary owner is an owner, and owners are admins too.
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False

    def to_api(self, now: float, *, include_locale: bool = False) -> dict[str, Any]:
        try:
            zone = ZoneInfo(self.tz)
            moment = datetime.fromtimestamp(now, tz=zone)
            derived = int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]  # aware datetime
            offset = self.tz_offset if self.tz_offset is not None else derived
            abbreviation = moment.tzname() or self.tz
        except (ZoneInfoNotFoundError, ValueError):
            offset, abbreviation = self.tz_offset or 0, self.tz
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": self.team_id,
        }
        if self.email is not None:
            profile["email"] = self.email
        if self.bot_id is not None:
            profile["bot_id"] = self.bot_id
        user: dict[str, Any] = {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": _TZ_LABELS.get(abbreviation, abbreviation),
            "tz_offset": offset,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": self.is_app_user,
            "updated": int(now),
        }
        if include_locale:
            user["locale"] = "en-US"
        return user


@dataclass
class Conversation:
    id: str
    name: str
    kind: ConversationKind
    created: int
    creator: str
    members: list[str] = field(default_factory=list)
    is_archived: bool = False
    im_user: str | None = None

    @property
    def is_private(self) -> bool:
        return self.kind != "channel"

    def to_api(self, *, include_num_members: bool = False) -> dict[str, Any]:
        if self.kind == "im":
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": self.kind == "channel",
            "is_group": self.kind == "group",
            "is_im": False,
            "is_mpim": self.kind == "mpim",
            "is_private": self.is_private,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "creator": self.creator,
            "name_normalized": self.name,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        if include_num_members:
            data["num_members"] = len(self.members)
        return data


@dataclass
class UserGroup:
    """A user group (a "subteam", S…): what usergroups.users.list answers from."""

    id: str
    handle: str
    users: list[str] = field(default_factory=list)


@dataclass
class Trigger:
    issued_at: float
    user_id: str | None
    used: bool = False


@dataclass
class ResponseUrl:
    id: str
    created_at: float
    channel_id: str | None
    user_id: str | None
    message_ts: str | None = None  # the message a block action came from
    uses: int = 0


class Workspace:
    def __init__(
        self,
        *,
        team_id: str,
        team_name: str,
        team_domain: str,
        bot_user_id: str,
        bot_id: str,
        app_id: str,
        bot_name: str,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.lock = threading.RLock()
        self.team_id = team_id
        self.team_name = team_name
        # Workspaces whose people share channels with this one (Slack Connect): id -> name.
        self.external_teams: dict[str, str] = {}
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.clock = clock
        self.wall_clock = wall_clock

        self.users: dict[str, User] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.conversations: dict[str, Conversation] = {}
        self.ims: dict[str, str] = {}  # user id -> IM conversation id
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}  # conversation -> ts -> message
        self.ephemeral: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_stacks: dict[str, list[str]] = {}  # user id -> open modal ids, root first
        self.home_views: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.response_url_posts: list[dict[str, Any]] = []
        self.pending_uploads: dict[str, dict[str, Any]] = {}
        self.uploaded_files: list[dict[str, Any]] = []
        # Every file in the workspace by id, the app's and people's: {"file": Slack's file object,
        # "content": bytes, "channels": conversation ids it is shared in}.
        self.files: dict[str, dict[str, Any]] = {}
        self.scheduled_messages: list[dict[str, Any]] = []

        self._sequence = itertools.count(1)
        self._last_ts_micros = 0

        self.users[bot_user_id] = User(
            id=bot_user_id,
            name=bot_name,
            team_id=team_id,
            real_name=bot_name,
            tz="America/Los_Angeles",  # Slack gives bot users this default
            tz_offset=None,
            email=None,
            is_bot=True,
            deleted=False,
            is_app_user=False,
            bot_id=bot_id,
        )

    # ------------------------------------------------------------------ ids

    def next_number(self) -> int:
        return next(self._sequence)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{self.next_number():08d}"

    def opaque(self, label: str, length: int = 16) -> str:
        """A random-looking but reproducible token."""
        return hashlib.sha256(f"{label}:{self.next_number()}".encode()).hexdigest()[:length]

    def new_event_id(self) -> str:
        """As Slack's, unique across every workspace: two workspaces' events never share an id."""
        return "Ev" + hashlib.sha256(f"event:{self.team_id}:{self.next_number()}".encode()).hexdigest()[:10].upper()

    def new_ts(self) -> str:
        """Unique, strictly increasing message timestamp in Slack's "sec.micro" form."""
        micros = int(self.wall_clock() * 1_000_000)
        if micros <= self._last_ts_micros:
            micros = self._last_ts_micros + 1
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def short_block_id(self) -> str:
        return self.opaque("block", 5)

    def assign_ids(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return fill_generated_ids(blocks, self.short_block_id)

    # ------------------------------------------------------------------ people and conversations

    def user(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def conversation(self, ref: str | None, *, allow_names: bool = False) -> Conversation | None:
        """Find a conversation by id (or, where Slack allows it, by ``#name``)."""
        if not ref:
            return None
        if ref in self.conversations:
            return self.conversations[ref]
        if allow_names:
            name = ref[1:] if ref.startswith("#") else ref
            for conversation in self.conversations.values():
                if conversation.kind in ("channel", "group") and conversation.name == name:
                    return conversation
        return None

    def visible_to_bot(self, conversation: Conversation | None) -> bool:
        """Private conversations the bot is not in do not exist, as far as the bot can tell."""
        if conversation is None:
            return False
        return conversation.kind == "channel" or self.bot_user_id in conversation.members

    def im_with(self, user_id: str) -> Conversation:
        """The bot's DM with ``user_id``, created on first use with a stable id."""
        existing = self.ims.get(user_id)
        if existing:
            return self.conversations[existing]
        conversation_id = "D" + user_id[1:]
        while conversation_id in self.conversations:
            conversation_id += "X"
        conversation = Conversation(
            id=conversation_id,
            name=user_id,
            kind="im",
            created=int(self.wall_clock()),
            creator=self.bot_user_id,
            members=[user_id, self.bot_user_id],
            im_user=user_id,
        )
        self.conversations[conversation_id] = conversation
        self.ims[user_id] = conversation_id
        self.messages.setdefault(conversation_id, {})
        return conversation

    def mpim_with(self, user_ids: list[str]) -> Conversation:
        members = sorted(set(user_ids) | {self.bot_user_id})
        for conversation in self.conversations.values():
            if conversation.kind == "mpim" and sorted(conversation.members) == members:
                return conversation
        digest = hashlib.sha256(",".join(members).encode()).hexdigest()[:8].upper()
        names = [self.users[u].name for u in members if u in self.users]
        conversation = Conversation(
            id=f"G{digest}",
            name="mpdm-" + "--".join(names) + "-1",
            kind="mpim",
            created=int(self.wall_clock()),
            creator=self.bot_user_id,
            members=members,
        )
        self.conversations[conversation.id] = conversation
        self.messages.setdefault(conversation.id, {})
        return conversation

    # ------------------------------------------------------------------ messages

    def message(self, conversation_id: str, ts: str) -> dict[str, Any] | None:
        return self.messages.get(conversation_id, {}).get(str(ts))

    def store_message(self, conversation_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Store a new message (``ts`` already set), keeping thread bookkeeping right."""
        if isinstance(message.get("blocks"), list):
            self.assign_ids(message["blocks"])
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            parent = self.message(conversation_id, thread_ts)
            if parent is not None and parent.get("thread_ts") not in (None, parent["ts"]):
                # Replying to a reply lands in the reply's thread, as in Slack.
                parent = self.message(conversation_id, parent["thread_ts"])
                message["thread_ts"] = parent["ts"] if parent else thread_ts
            if parent is not None:
                message["parent_user_id"] = parent.get("user")
                self._count_reply(parent, message)
        self.messages.setdefault(conversation_id, {})[message["ts"]] = message
        return message

    def _count_reply(self, parent: dict[str, Any], reply: dict[str, Any]) -> None:
        parent["thread_ts"] = parent["ts"]
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        author = reply.get("user") or reply.get("bot_id")
        users = parent.setdefault("reply_users", [])
        if author and author not in users:
            users.append(author)
        parent["reply_users_count"] = len(users)
        parent["latest_reply"] = reply["ts"]
        parent.setdefault("is_locked", False)
        parent.setdefault("subscribed", False)

    def remove_message(self, conversation_id: str, ts: str) -> dict[str, Any] | None:
        removed = self.messages.get(conversation_id, {}).pop(ts, None)
        if removed is None:
            return None
        thread_ts = removed.get("thread_ts")
        if thread_ts and thread_ts != ts:
            parent = self.message(conversation_id, thread_ts)
            if parent is not None:
                self._recount_thread(conversation_id, parent)
        return removed

    def _recount_thread(self, conversation_id: str, parent: dict[str, Any]) -> None:
        replies = self.thread_replies(conversation_id, parent["ts"])
        if not replies:
            for key in ("reply_count", "reply_users", "reply_users_count", "latest_reply"):
                parent.pop(key, None)
            return
        parent["reply_count"] = len(replies)
        authors: list[str] = []
        for reply in replies:
            author = reply.get("user") or reply.get("bot_id")
            if author and author not in authors:
                authors.append(author)
        parent["reply_users"] = authors
        parent["reply_users_count"] = len(authors)
        parent["latest_reply"] = replies[-1]["ts"]

    def thread_replies(self, conversation_id: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages.get(conversation_id, {}).values()
            if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
        ]

    def channel_messages(self, conversation_id: str, *, include_replies: bool) -> list[dict[str, Any]]:
        """Oldest first. Without replies, only what shows in the channel itself."""
        result = []
        for message in self.messages.get(conversation_id, {}).values():
            is_reply = message.get("thread_ts") not in (None, message["ts"])
            if include_replies or not is_reply or message.get("subtype") == "thread_broadcast":
                result.append(message)
        return result

    # ------------------------------------------------------------------ triggers and response URLs

    def issue_trigger(self, user_id: str | None) -> str:
        number = self.next_number()
        team_number = int(hashlib.sha256(self.team_id.encode()).hexdigest()[:12], 16) % 10**10
        trigger_id = f"{number}.{team_number}.{self.opaque('trigger', 32)}"
        self.triggers[trigger_id] = Trigger(issued_at=self.clock(), user_id=user_id)
        return trigger_id

    def exchange_trigger(self, trigger_id: str) -> tuple[str | None, Trigger | None]:
        """(error, trigger): Slack's error for an unusable trigger, else the trigger, now spent."""
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            return "invalid_trigger_id", None
        if trigger.used:
            return "exchanged_trigger_id", None
        if self.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            return "expired_trigger_id", None
        trigger.used = True
        return None, trigger

    def new_response_url(
        self, *, channel_id: str | None, user_id: str | None, message_ts: str | None = None
    ) -> ResponseUrl:
        response_url = ResponseUrl(
            id=f"{self.team_id}/{self.next_number()}/{self.opaque('response', 24)}",
            created_at=self.clock(),
            channel_id=channel_id,
            user_id=user_id,
            message_ts=message_ts,
        )
        self.response_urls[response_url.id] = response_url
        return response_url

    # ------------------------------------------------------------------ views

    def new_view_hash(self) -> str:
        return f"{int(self.wall_clock())}.{self.opaque('hash', 8)}"

    def store_view(
        self,
        definition: dict[str, Any],
        *,
        user_id: str | None,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        """Create or replace a view, returning the stored view in Slack's response shape."""
        view_id = view_id or self.new_id("V")
        blocks = self.assign_ids(copy.deepcopy(definition.get("blocks") or []))
        view: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": definition.get("type"),
            "blocks": blocks,
            "private_metadata": definition.get("private_metadata", ""),
            "callback_id": definition.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self.new_view_hash(),
            "title": definition.get("title"),
            "clear_on_close": definition.get("clear_on_close", False),
            "notify_on_close": definition.get("notify_on_close", False),
            "close": definition.get("close"),
            "submit": definition.get("submit"),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "external_id": definition.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
            "user_id": user_id,
        }
        self.views[view_id] = view
        return view

    def view_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        for view in self.views.values():
            if external_id and view.get("external_id") == external_id:
                return view
        return None

    def open_modal_stack(self, user_id: str) -> list[str]:
        return self.view_stacks.setdefault(user_id, [])

    def user_of_view(self, view_id: str) -> str | None:
        for user_id, stack in self.view_stacks.items():
            if view_id in stack:
                return user_id
        view = self.views.get(view_id)
        return view.get("user_id") if view else None

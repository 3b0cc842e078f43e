"""The Slack double's own strictness, exercised through the real slack_sdk WebClient."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry import handler as retry_handler_module
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier

from tests.slackdouble import SlackDouble, sign_request

TOKEN = "xoxb-test"
SECRET = "sekrit"


class FakeClock:
    """Monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def double(clock: FakeClock) -> Iterator[SlackDouble]:
    with SlackDouble(
        team_id="T0TEAM",
        bot_token=TOKEN,
        signing_secret=SECRET,
        bot_user_id="UBOT",
        bot_id="BBOT",
        app_id="A0APP",
        clock=clock,
    ) as slack:
        slack.add_user("U1", "alice", real_name="Alice A", email="alice@example.com")
        slack.add_user("U2", "bob", tz="America/New_York")
        slack.add_user("U3", "carol")
        slack.add_user("UDEL", "gone", deleted=True, email="gone@example.com")
        slack.add_user("UOTHERBOT", "otherbot", is_bot=True)
        slack.add_channel("C1", "general", members=["U1", "U2"])
        slack.add_channel("C2", "random", members=["U1"], bot_is_member=False)
        slack.add_channel("G1", "secret", members=["U1"], is_private=True)
        slack.add_channel("G2", "hidden", members=["U1"], is_private=True, bot_is_member=False)
        slack.add_channel("CARCH", "old", members=["U1"], is_archived=True)
        yield slack
        assert slack.internal_errors == []


@pytest.fixture
def client(double: SlackDouble) -> WebClient:
    return WebClient(token=TOKEN, base_url=double.api_url)


def api_error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value.response.data


def error_of(call: Callable[[], Any]) -> str:
    return api_error(call)["error"]


def raw_post(
    url: str, data: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), json.loads(error.read() or b"null")


def raw_api(double: SlackDouble, method: str, args: dict[str, str], token: str | None = TOKEN):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return raw_post(double.api_url + method, urlencode(args).encode(), headers)


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str, value: str = "v", text: str = "Go") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": text}}


def modal(title: str = "Register", *, blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "register",
        "title": {"type": "plain_text", "text": title},
        "blocks": blocks if blocks is not None else [section("hello")],
    }
    view.update(extra)
    return view


def text_input(block_id: str, action_id: str, *, optional: bool = False) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": block_id},
        "element": {"type": "plain_text_input", "action_id": action_id},
    }


# =============================================================================== auth and routing


def test_auth_test_identifies_the_bot(client: WebClient) -> None:
    data = client.auth_test().data
    assert data["ok"] is True
    assert (data["team_id"], data["user_id"], data["bot_id"]) == ("T0TEAM", "UBOT", "BBOT")


def test_missing_and_wrong_tokens_are_refused_with_http_200(double: SlackDouble) -> None:
    assert raw_api(double, "auth.test", {}, token=None)[::2] == (200, {"ok": False, "error": "not_authed"})
    assert raw_api(double, "auth.test", {}, token="xoxb-wrong")[::2] == (200, {"ok": False, "error": "invalid_auth"})
    # The legacy form argument works too.
    assert raw_api(double, "auth.test", {"token": TOKEN}, token=None)[2]["ok"] is True


def test_unknown_and_unimplemented_methods(double: SlackDouble, client: WebClient) -> None:
    status, _, body = raw_api(double, "chat.postMessag", {})
    assert (status, body["error"]) == (404, "unknown_method")
    assert double.calls_to("chat.postMessag")[0].status == 404
    response = api_error(lambda: client.pins_add(channel="C1", timestamp="1.2"))
    assert response == {"ok": False, "error": "not_implemented_in_double", "method": "pins.add"}
    assert double.calls_to("pins.add")[0].status == 501


def test_unknown_arguments_are_warned_about_not_rejected(client: WebClient) -> None:
    data = client.chat_postMessage(channel="C1", text="hi", colour="red").data
    assert data["ok"] is True
    assert "unknown_argument:colour" in data["response_metadata"]["warnings"]


def test_calls_are_recorded_with_json_arguments_decoded(double: SlackDouble, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="hi", blocks=[section("x")])
    call = double.calls_to("chat.postMessage")[0]
    assert call.args["blocks"] == [section("x")]
    assert call.status == 200 and call.response["ok"] is True


# =============================================================================== chat


def test_post_message_stores_bot_message(double: SlackDouble, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="one").data
    second = client.chat_postMessage(channel="#general", text="two").data
    assert first["channel"] == "C1" and first["message"]["bot_id"] == "BBOT"
    assert float(second["ts"]) > float(first["ts"])
    stored = double.messages("C1")
    assert [m["text"] for m in stored] == ["one", "two"]
    assert stored[0]["user"] == "UBOT" and stored[0]["channel"] == "C1"


def test_post_message_errors(client: WebClient) -> None:
    assert error_of(lambda: client.api_call("chat.postMessage", params={"text": "x"})) == "channel_not_found"
    assert error_of(lambda: client.api_call("chat.postMessage", params={"channel": "C1", "blocks": "[]"})) == "no_text"
    assert error_of(lambda: client.api_call("chat.postMessage", params={"channel": "C1"})) == "no_text"
    assert error_of(lambda: client.api_call("chat.postMessage", params={"channel": "C1", "text": ""})) == "no_text"
    assert error_of(lambda: client.chat_postMessage(channel="CNOPE", text="x")) == "channel_not_found"
    assert error_of(lambda: client.chat_postMessage(channel="C2", text="x")) == "not_in_channel"
    assert error_of(lambda: client.chat_postMessage(channel="G2", text="x")) == "channel_not_found"
    assert error_of(lambda: client.chat_postMessage(channel="CARCH", text="x")) == "is_archived"
    assert error_of(lambda: client.chat_postMessage(channel="C1", text="x" * 40_001)) == "msg_too_long"
    assert client.chat_postMessage(channel="C1", text="x" * 40_000)["ok"]


def test_chat_write_public_allows_unjoined_public_channels(double: SlackDouble, client: WebClient) -> None:
    double.chat_write_public = True
    assert client.chat_postMessage(channel="C2", text="hi")["ok"]
    assert error_of(lambda: client.chat_postMessage(channel="G2", text="x")) == "channel_not_found"


def test_post_to_user_id_goes_to_the_dm(double: SlackDouble, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U1", text="psst").data
    opened = client.conversations_open(users="U1").data
    assert posted["channel"] == opened["channel"]["id"] == double.im_channel("U1")
    assert [m["text"] for m in double.dms("U1")] == ["psst"]


def test_threads_keep_reply_counts(double: SlackDouble, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="parent")["ts"]
    reply = client.chat_postMessage(channel="C1", text="r1", thread_ts=parent)["ts"]
    client.chat_postMessage(channel="C1", text="r2", thread_ts=reply)  # reply to a reply joins the thread
    top = double.messages("C1")
    assert [m["text"] for m in top] == ["parent"]
    assert top[0]["reply_count"] == 2 and top[0]["reply_users"] == ["UBOT"] and top[0]["thread_ts"] == parent
    assert [m["text"] for m in double.replies("C1", parent)] == ["r1", "r2"]
    assert all(m["thread_ts"] == parent for m in double.replies("C1", parent))
    assert len(double.messages("C1", include_replies=True)) == 3
    thread = client.conversations_replies(channel="C1", ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["parent", "r1", "r2"]


def test_broadcast_replies_show_in_the_channel(double: SlackDouble, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="parent")["ts"]
    client.chat_postMessage(channel="C1", text="also here", thread_ts=parent, reply_broadcast=True)
    assert [m["text"] for m in double.messages("C1")] == ["parent", "also here"]
    assert double.messages("C1")[1]["subtype"] == "thread_broadcast"


def test_reply_to_unknown_parent_is_accepted_and_recorded(double: SlackDouble, client: WebClient) -> None:
    assert client.chat_postMessage(channel="C1", text="orphan", thread_ts="1000000000.000100")["ok"]
    assert [m["text"] for m in double.replies("C1", "1000000000.000100")] == ["orphan"]


def test_update_and_delete(double: SlackDouble, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="v1", blocks=[section("v1")])["ts"]
    updated = client.chat_update(channel="C1", ts=ts, text="v2").data
    assert updated["text"] == "v2"
    stored = double.messages("C1")[0]
    assert stored["text"] == "v2" and stored["blocks"] is None and stored["edited"]["user"] == "UBOT"
    client.chat_update(channel="C1", ts=ts, text="v3", blocks=[section("v3")])
    assert double.messages("C1")[0]["blocks"][0]["text"]["text"] == "v3"
    assert client.chat_delete(channel="C1", ts=ts)["ok"]
    assert double.messages("C1") == []
    assert error_of(lambda: client.chat_delete(channel="C1", ts=ts)) == "message_not_found"


def test_cannot_edit_other_peoples_messages(double: SlackDouble, client: WebClient) -> None:
    ts = double.user_posts("U1", "C1", "mine")["ts"]
    assert error_of(lambda: client.chat_update(channel="C1", ts=ts, text="x")) == "cant_update_message"
    assert error_of(lambda: client.chat_delete(channel="C1", ts=ts)) == "cant_delete_message"
    assert error_of(lambda: client.chat_update(channel="C1", ts="1.000001", text="x")) == "message_not_found"
    mine = client.chat_postMessage(channel="C1", text="x")["ts"]
    assert error_of(lambda: client.chat_update(channel="C1", ts=mine, text="y" * 4001)) == "msg_too_long"


def test_post_ephemeral(double: SlackDouble, client: WebClient) -> None:
    data = client.chat_postEphemeral(channel="C1", user="U1", text="only you").data
    assert data["ok"] and data["message_ts"]
    [note] = double.ephemeral(user_id="U1")
    assert (note["channel"], note["text"], note["source"]) == ("C1", "only you", "chat.postEphemeral")
    assert error_of(lambda: client.chat_postEphemeral(channel="C1", user="U3", text="x")) == "user_not_in_channel"
    assert error_of(lambda: client.chat_postEphemeral(channel="C2", user="U1", text="x")) == "not_in_channel"


def test_get_permalink_and_schedule(double: SlackDouble, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="x")["ts"]
    link = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert link.endswith(f"/archives/C1/p{ts.replace('.', '')}")
    assert error_of(lambda: client.chat_getPermalink(channel="C1", message_ts="1.000001")) == "message_not_found"
    post_at = int(time.time()) + 3600
    scheduled = client.chat_scheduleMessage(channel="C1", text="later", post_at=post_at).data
    assert scheduled["scheduled_message_id"].startswith("Q")
    assert double.scheduled_messages[0]["post_at"] == post_at
    assert error_of(lambda: client.chat_scheduleMessage(channel="C1", text="x", post_at=10)) == "time_in_past"


def test_reactions(double: SlackDouble, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="x")["ts"]
    assert client.reactions_add(channel="C1", timestamp=ts, name="tada")["ok"]
    assert double.messages("C1")[0]["reactions"] == [{"name": "tada", "users": ["UBOT"], "count": 1}]
    assert error_of(lambda: client.reactions_add(channel="C1", timestamp=ts, name="tada")) == "already_reacted"
    assert error_of(lambda: client.reactions_add(channel="C1", timestamp=ts, name=":tada:")) == "invalid_name"


# =============================================================================== conversations


def test_conversations_open(client: WebClient) -> None:
    first = client.conversations_open(users="U1").data
    again = client.conversations_open(users="U1").data
    assert first["channel"]["id"].startswith("D") and again["channel"]["id"] == first["channel"]["id"]
    assert again.get("already_open") is True
    assert client.conversations_open(users="U1", return_im=True)["channel"]["user"] == "U1"
    assert error_of(lambda: client.conversations_open(users="UOTHERBOT")) == "cannot_dm_bot"
    assert error_of(lambda: client.conversations_open(users="UDEL")) == "user_disabled"
    assert error_of(lambda: client.conversations_open(users="UNOBODY")) == "user_not_found"
    assert error_of(lambda: client.api_call("conversations.open", params={})) == "users_list_not_supplied"


def test_conversations_info(client: WebClient) -> None:
    channel = client.conversations_info(channel="C1", include_num_members=True)["channel"]
    assert (channel["name"], channel["is_member"], channel["num_members"]) == ("general", True, 3)
    assert client.conversations_info(channel="C2")["channel"]["is_member"] is False
    assert error_of(lambda: client.conversations_info(channel="G2")) == "channel_not_found"
    assert error_of(lambda: client.conversations_info(channel="CNOPE")) == "channel_not_found"


def test_conversations_members_paginates(double: SlackDouble, client: WebClient) -> None:
    for n in range(4, 9):
        double.add_user(f"U{n}", f"user{n}")
        double.add_member("C1", f"U{n}")
    # SlackResponse iteration reuses one object, so keep each page's data.
    pages = [dict(page.data) for page in client.conversations_members(channel="C1", limit=3)]
    assert [len(p["members"]) for p in pages] == [3, 3, 2]
    assert pages[-1]["response_metadata"]["next_cursor"] == ""
    everyone = [m for p in pages for m in p["members"]]
    assert sorted(everyone) == sorted(["U1", "U2", "UBOT", "U4", "U5", "U6", "U7", "U8"])
    assert error_of(lambda: client.conversations_members(channel="C1", cursor="bm9wZQ==")) == "invalid_cursor"


def test_conversations_history(double: SlackDouble, client: WebClient) -> None:
    for n in range(5):
        client.chat_postMessage(channel="C1", text=f"m{n}")
    first = client.conversations_history(channel="C1", limit=2).data
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"] is True
    rest = client.conversations_history(channel="C1", limit=10, cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1", "m0"]
    assert error_of(lambda: client.conversations_history(channel="C2")) == "not_in_channel"
    assert error_of(lambda: client.conversations_replies(channel="C1", ts="1.000001")) == "thread_not_found"


def test_conversations_join(client: WebClient) -> None:
    assert client.conversations_join(channel="C2")["channel"]["is_member"] is True
    assert client.chat_postMessage(channel="C2", text="now I may")["ok"]
    assert "already_in_channel" in client.conversations_join(channel="C2")["response_metadata"]["warnings"]
    assert error_of(lambda: client.conversations_join(channel="G1")) == "method_not_supported_for_channel_type"
    assert error_of(lambda: client.conversations_join(channel="CARCH")) == "is_archived"


def test_private_channels_cannot_be_joined_seen_or_unseen(client: WebClient) -> None:
    # conversations.info hides a private channel the bot is not in; conversations.join still says what kind it is.
    assert error_of(lambda: client.conversations_info(channel="G2")) == "channel_not_found"
    assert error_of(lambda: client.conversations_join(channel="G2")) == "method_not_supported_for_channel_type"
    assert error_of(lambda: client.conversations_join(channel="CNOPE")) == "channel_not_found"
    assert error_of(lambda: client.conversations_history(channel="G2")) == "channel_not_found"


def test_archived_channels_show_as_archived_and_stay_unjoined(double: SlackDouble, client: WebClient) -> None:
    double.add_channel("CARCH2", "older", members=["U1"], is_archived=True, bot_is_member=False)
    info = client.conversations_info(channel="CARCH2")["channel"]
    assert (info["is_archived"], info["is_member"]) == (True, False)
    assert error_of(lambda: client.conversations_join(channel="CARCH2")) == "is_archived"
    assert client.conversations_info(channel="CARCH2")["channel"]["is_member"] is False


# =============================================================================== users and team


def test_users_info_reports_time_zones(double: SlackDouble, client: WebClient) -> None:
    double.wall_clock = lambda: 1_720_000_000.0  # 3 July 2024: summer time on both sides
    bob = client.users_info(user="U2")["user"]
    assert (bob["tz"], bob["tz_offset"], bob["tz_label"]) == ("America/New_York", -4 * 3600, "Eastern Daylight Time")
    alice = client.users_info(user="U1")["user"]
    assert alice["profile"]["email"] == "alice@example.com" and alice["tz_offset"] == 3600
    assert alice["profile"]["real_name"] == "Alice A" and alice["is_bot"] is False
    assert client.users_info(user="UDEL")["user"]["deleted"] is True
    assert error_of(lambda: client.users_info(user="UNOBODY")) == "user_not_found"
    assert error_of(lambda: client.api_call("users.info", params={})) == "user_not_found"


def test_admins_and_owners(double: SlackDouble, client: WebClient) -> None:
    double.add_user("UADMIN", "admin", is_admin=True)
    double.add_user("UOWNER", "owner", is_owner=True)
    double.add_user("UPRIMARY", "primary", is_primary_owner=True)

    def roles(user_id: str) -> tuple[bool, bool, bool]:
        user = client.users_info(user=user_id)["user"]
        return user["is_admin"], user["is_owner"], user["is_primary_owner"]

    assert roles("U1") == (False, False, False)
    assert roles("UADMIN") == (True, False, False)
    assert roles("UOWNER") == (True, True, False)
    assert roles("UPRIMARY") == (True, True, True)
    with pytest.raises(ValueError):
        double.add_user("UBOTADMIN", "botadmin", is_bot=True, is_admin=True)


def test_usergroup_members(double: SlackDouble, client: WebClient) -> None:
    double.add_usergroup("S0ORG", "organisers", members=["U1", "U2"])
    assert client.usergroups_users_list(usergroup="S0ORG")["users"] == ["U1", "U2"]
    double.add_usergroup("S0ORG", "organisers", members=["U3"])
    assert client.usergroups_users_list(usergroup="S0ORG")["users"] == ["U3"]
    assert error_of(lambda: client.usergroups_users_list(usergroup="S0NOPE")) == "no_such_subteam"
    assert error_of(lambda: client.api_call("usergroups.users.list", params={})) == "no_such_subteam"
    with pytest.raises(LookupError):
        double.add_usergroup("S0BAD", "bad", members=["UNOBODY"])
    double.usergroups_available = False
    assert error_of(lambda: client.usergroups_users_list(usergroup="S0ORG")) == "plan_upgrade_required"


def test_users_lookup_and_list(double: SlackDouble, client: WebClient) -> None:
    assert client.users_lookupByEmail(email="ALICE@example.com")["user"]["id"] == "U1"
    assert error_of(lambda: client.users_lookupByEmail(email="nobody@example.com")) == "users_not_found"
    assert error_of(lambda: client.users_lookupByEmail(email="gone@example.com")) == "users_not_found"
    pages = [dict(page.data) for page in client.users_list(limit=2)]
    ids = [m["id"] for p in pages for m in p["members"]]
    assert ids == ["UBOT", "U1", "U2", "U3", "UDEL", "UOTHERBOT"]


def test_team_info(client: WebClient) -> None:
    assert client.team_info()["team"]["id"] == "T0TEAM"
    assert error_of(lambda: client.team_info(team="TOTHER")) == "team_not_found"


# =============================================================================== Block Kit


def test_message_block_count_limit(client: WebClient) -> None:
    assert client.chat_postMessage(channel="C1", text="ok", blocks=[section(str(n)) for n in range(50)])["ok"]
    data = api_error(lambda: client.chat_postMessage(channel="C1", text="x", blocks=[section("b")] * 51))
    assert data["error"] == "invalid_blocks"
    assert data["response_metadata"]["messages"] == ["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]


@pytest.mark.parametrize(
    ("block", "pointer"),
    [
        (section("x" * 3001), "/blocks/0/text/text"),
        ({"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}, "/blocks/0/fields"),
        ({"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}, "/blocks/0/fields/0/text"),
        ({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}, "/blocks/0/text/type"),
        ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}, "/blocks/0/text/text"),
        ({"type": "actions", "elements": [button("a", text="t" * 76)]}, "/blocks/0/elements/0/text/text"),
        ({"type": "actions", "elements": [button("a", value="v" * 2001)]}, "/blocks/0/elements/0/value"),
        ({"type": "actions", "elements": [{**button("a"), "url": "u" * 3001}]}, "/blocks/0/elements/0/url"),
        ({"type": "actions", "elements": [button("a" * 256)]}, "/blocks/0/elements/0/action_id"),
        ({"type": "actions", "elements": [button("a"), button("a")]}, "/blocks/0/elements/1/action_id"),
        ({"type": "actions", "elements": [button(f"a{n}") for n in range(26)]}, "/blocks/0/elements"),
        ({"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}, "/blocks/0/elements"),
        (section("x", block_id="b" * 256), "/blocks/0/block_id"),
        ({"type": "input", "label": {"type": "plain_text", "text": "L"}}, "/blocks/0"),
        (
            {"type": "input", "label": {"type": "mrkdwn", "text": "L"}, "element": {"type": "plain_text_input"}},
            "/blocks/0/label/type",
        ),
        ({"type": "section"}, "/blocks/0"),
        ({"type": "carousel"}, "/blocks/0/type"),
        (
            {"type": "actions", "elements": [{"type": "static_select", "action_id": "s"}]},
            "/blocks/0/elements/0",
        ),
    ],
)
def test_invalid_blocks_are_rejected_with_a_pointer(client: WebClient, block: dict[str, Any], pointer: str) -> None:
    data = api_error(lambda: client.chat_postMessage(channel="C1", text="x", blocks=[block]))
    assert data["error"] == "invalid_blocks"
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in data["response_metadata"]["messages"]), data


def test_duplicate_block_ids_are_rejected(client: WebClient) -> None:
    blocks = [section("a", block_id="same"), section("b", block_id="same")]
    data = api_error(lambda: client.chat_postMessage(channel="C1", text="x", blocks=blocks))
    assert data["response_metadata"]["messages"][0].endswith("[json-pointer:/blocks/1/block_id]")


def test_common_elements_are_accepted(client: WebClient) -> None:
    options = [{"text": {"type": "plain_text", "text": f"o{n}"}, "value": f"{n}"} for n in range(3)]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Head"}},
        {"type": "divider"},
        section("pick", accessory={"type": "users_select", "action_id": "u"}),
        {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "a"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "ctx"}]},
        {
            "type": "actions",
            "elements": [
                button("b1"),
                {"type": "static_select", "action_id": "s", "options": options},
                {"type": "multi_users_select", "action_id": "mu"},
                {"type": "conversations_select", "action_id": "c"},
                {"type": "datepicker", "action_id": "d", "initial_date": "2025-01-31"},
                {"type": "timepicker", "action_id": "t", "initial_time": "09:30"},
                {"type": "checkboxes", "action_id": "cb", "options": options},
                {"type": "radio_buttons", "action_id": "r", "options": options},
                {"type": "overflow", "action_id": "o", "options": options},
            ],
        },
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": []}]},
    ]
    assert client.chat_postMessage(channel="C1", text="x", blocks=blocks)["ok"]


def test_unparseable_blocks_json(double: SlackDouble) -> None:
    status, _, body = raw_api(double, "chat.postMessage", {"channel": "C1", "text": "x", "blocks": "[{nope"})
    assert (status, body["error"]) == (200, "invalid_blocks_format")


# =============================================================================== views


def test_views_open_with_trigger(double: SlackDouble, client: WebClient) -> None:
    trigger = double.issue_trigger_id("U1")
    view = client.views_open(trigger_id=trigger, view=modal(private_metadata="m"))["view"]
    assert view["id"].startswith("V") and view["hash"] and view["private_metadata"] == "m"
    assert view["root_view_id"] == view["id"]
    assert double.views[view["id"]]["user_id"] == "U1"
    assert [v["id"] for v in double.open_views("U1")] == [view["id"]]


def test_trigger_ids_expire_and_are_single_use(double: SlackDouble, client: WebClient, clock: FakeClock) -> None:
    trigger = double.issue_trigger_id("U1")
    assert client.views_open(trigger_id=trigger, view=modal())["ok"]
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=modal())) == "exchanged_trigger_id"
    late = double.issue_trigger_id("U1")
    clock.advance(3.01)
    assert error_of(lambda: client.views_open(trigger_id=late, view=modal())) == "expired_trigger_id"
    assert error_of(lambda: client.views_open(trigger_id="1.2.abc", view=modal())) == "invalid_trigger_id"
    in_time = double.issue_trigger_id("U1")
    clock.advance(2.9)
    assert client.views_open(trigger_id=in_time, view=modal())["ok"]


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (modal("t" * 25), "/view/title/text"),
        (modal(submit={"type": "plain_text", "text": "s" * 25}), "/view/submit/text"),
        (modal(close={"type": "mrkdwn", "text": "c"}), "/view/close/type"),
        (modal(private_metadata="p" * 3001), "/view/private_metadata"),
        (modal(callback_id="c" * 256), "/view/callback_id"),
        (modal(blocks=[section("b")] * 101), "/view/blocks"),
        (modal(blocks=[text_input("b", "a")]), "/view"),
    ],
)
def test_invalid_views_are_rejected(double: SlackDouble, client: WebClient, view: dict[str, Any], pointer: str) -> None:
    data = api_error(lambda: client.views_open(trigger_id=double.issue_trigger_id("U1"), view=view))
    assert data["error"] == "invalid_arguments"
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in data["response_metadata"]["messages"]), data


def test_modal_limits_accept_boundary_values(double: SlackDouble, client: WebClient) -> None:
    view = modal("t" * 24, blocks=[section(str(n)) for n in range(100)], private_metadata="p" * 3000)
    assert client.views_open(trigger_id=double.issue_trigger_id("U1"), view=view)["ok"]
    huge = modal(blocks=[section("x" * 2999) for _ in range(100)])
    assert error_of(lambda: client.views_open(trigger_id=double.issue_trigger_id("U1"), view=huge)) == (
        "view_too_large"
    )


def test_views_update_push_and_hash(double: SlackDouble, client: WebClient) -> None:
    opened = client.views_open(trigger_id=double.issue_trigger_id("U1"), view=modal(external_id="ext-1"))["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Step 2"))["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    assert error_of(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())) == (
        "hash_conflict"
    )
    assert client.views_update(external_id="ext-1", view=modal("By external id"))["ok"]
    assert error_of(lambda: client.views_update(view_id="VNOPE", view=modal())) == "not_found"
    assert error_of(lambda: client.api_call("views.update", json={"view": modal()})) == "invalid_arguments"

    for _ in range(2):
        pushed = client.views_push(trigger_id=double.issue_trigger_id("U1"), view=modal("Pushed"))["view"]
        assert pushed["root_view_id"] == opened["id"]
    assert len(double.open_views("U1")) == 3
    assert error_of(lambda: client.views_push(trigger_id=double.issue_trigger_id("U1"), view=modal())) == (
        "push_limit_reached"
    )
    assert error_of(lambda: client.views_push(trigger_id=double.issue_trigger_id("U2"), view=modal())) == "not_found"


def test_views_publish_home(double: SlackDouble, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("welcome")]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view=home, hash=first["hash"])["view"]
    assert again["id"] == first["id"]
    assert error_of(lambda: client.views_publish(user_id="U1", view=home, hash=first["hash"])) == "hash_conflict"
    assert double.home_views["U1"]["blocks"][0]["text"]["text"] == "welcome"
    assert error_of(lambda: client.views_publish(user_id="U1", view=modal())) == "invalid_arguments"


# =============================================================================== files


def test_files_upload_v2_round_trip(double: SlackDouble, client: WebClient) -> None:
    result = client.files_upload_v2(
        channel="C1", filename="agenda.txt", content="line 1\n", title="Agenda", initial_comment="here"
    )
    assert result["file"]["title"] == "Agenda"
    [uploaded] = double.uploaded_files
    assert uploaded["content"] == b"line 1\n" and uploaded["filename"] == "agenda.txt"
    assert uploaded["channel_id"] == "C1" and uploaded["initial_comment"] == "here"
    [message] = double.messages("C1")
    assert message["files"][0]["id"] == uploaded["id"] and message["text"] == "here"
    missing = json.dumps([{"id": "F404", "title": "x"}])
    assert error_of(lambda: client.api_call("files.completeUploadExternal", params={"files": missing})) == (
        "file_not_found"
    )
    assert error_of(lambda: client.files_upload_v2(channel="C2", filename="a.txt", content="x")) == "not_in_channel"


# =============================================================================== rate limits and failures


def test_rate_limit_answers_429_with_integer_retry_after(double: SlackDouble, clock: FakeClock) -> None:
    double.rate_limit("chat.postMessage", per="channel", calls=2, period=10)
    post = lambda channel: raw_api(double, "chat.postMessage", {"channel": channel, "text": "x"})  # noqa: E731
    assert post("C1")[0] == post("C1")[0] == 200
    status, headers, body = post("C1")
    assert (status, body) == (429, {"ok": False, "error": "ratelimited"})
    assert headers["Retry-After"] == "5"
    assert post("G1")[0] == 200  # another channel has its own bucket
    clock.advance(5)
    assert post("C1")[0] == 200


def test_workspace_wide_limit_covers_all_methods(double: SlackDouble, clock: FakeClock) -> None:
    double.rate_limit(None, per="workspace", calls=1, period=60)
    assert raw_api(double, "auth.test", {})[0] == 200
    status, headers, _ = raw_api(double, "users.info", {"user": "U1"})
    assert status == 429 and headers["Retry-After"] == "60"
    double.clear_rate_limits()
    assert raw_api(double, "users.info", {"user": "U1"})[0] == 200


def test_per_method_limit_gives_each_method_its_own_bucket(double: SlackDouble) -> None:
    double.rate_limit(None, per="method", calls=1, period=60)
    assert raw_api(double, "auth.test", {})[0] == 200
    assert raw_api(double, "users.info", {"user": "U1"})[0] == 200
    assert raw_api(double, "auth.test", {})[0] == 429


def test_rate_limit_retry_handler_recovers(
    double: SlackDouble, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=fake_sleep))
    double.rate_limit("chat.postMessage", calls=1, period=3)
    client = WebClient(token=TOKEN, base_url=double.api_url, retry_handlers=[RateLimitErrorRetryHandler(2)])
    assert client.chat_postMessage(channel="C1", text="a")["ok"]
    assert client.chat_postMessage(channel="C1", text="b")["ok"]
    assert [c.status for c in double.calls_to("chat.postMessage")] == [200, 429, 200]
    assert 3 <= slept[0] < 4


def test_injected_server_errors(double: SlackDouble, client: WebClient, monkeypatch: pytest.MonkeyPatch) -> None:
    double.fail_next("chat.postMessage", mode="http_500")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="x")
    assert caught.value.response.status_code == 500
    double.fail_next("chat.postMessage", mode="error", error="fatal_error")
    assert error_of(lambda: client.chat_postMessage(channel="C1", text="x")) == "fatal_error"

    monkeypatch.setattr(retry_handler_module, "time", SimpleNamespace(sleep=lambda s: None))
    retrying = WebClient(
        token=TOKEN,
        base_url=double.api_url,
        retry_handlers=[ServerErrorRetryHandler(2, FixedValueRetryIntervalCalculator(0.0))],
    )
    double.fail_next("chat.postMessage", count=2, mode="http_500")
    assert retrying.chat_postMessage(channel="C1", text="survived")["ok"]
    assert [m["text"] for m in double.messages("C1")] == ["survived"]


def test_dropped_connections(double: SlackDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    double.fail_next("auth.test", mode="drop")
    with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError, ConnectionError)):
        raw_api(double, "auth.test", {})
    assert double.calls_to("auth.test")[0].status == 0

    monkeypatch.setattr(retry_handler_module, "time", SimpleNamespace(sleep=lambda s: None))
    retrying = WebClient(
        token=TOKEN,
        base_url=double.api_url,
        retry_handlers=[ConnectionErrorRetryHandler(2, FixedValueRetryIntervalCalculator(0.0))],
    )
    double.fail_next("auth.test", mode="drop")
    assert retrying.auth_test()["ok"]


def test_failures_after_the_call_took_effect(double: SlackDouble) -> None:
    """The in-doubt cases: the message is posted, but the caller hears a 500 or nothing."""
    client = WebClient(token=TOKEN, base_url=double.api_url, retry_handlers=[])
    double.fail_next("chat.postMessage", mode="http_500_after")
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="first")
    assert caught.value.response.status_code == 500
    double.fail_next("chat.postMessage", mode="drop_after")
    with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError, ConnectionError)):
        client.chat_postMessage(channel="C1", text="second")
    assert [m["text"] for m in double.messages("C1")] == ["first", "second"]


def test_fail_share_is_deterministic(double: SlackDouble) -> None:
    def pattern() -> list[int]:
        double.clear_failures()
        double.fail_share("auth.test", 0.5, mode="http_500", seed=7)
        return [raw_api(double, "auth.test", {})[0] for _ in range(20)]

    first = pattern()
    assert first == pattern()
    assert 0 < first.count(500) < 20 and set(first) == {200, 500}


# =============================================================================== response URLs


def test_response_url_posts(double: SlackDouble, clock: FakeClock) -> None:
    url = double.new_response_url(channel_id="C1", user_id="U1")
    post = lambda body: raw_post(url, json.dumps(body).encode(), {"Content-Type": "application/json"})  # noqa: E731
    assert post({"text": "just you"})[0] == 200
    assert post({"text": "everyone", "response_type": "in_channel"})[0] == 200
    assert [e["text"] for e in double.ephemeral("C1", "U1")] == ["just you"]
    assert [m["text"] for m in double.messages("C1")] == ["everyone"]
    status, _, body = post({"text": "x", "blocks": [section("y" * 3001)]})
    assert (status, body["error"]) == (400, "invalid_blocks")
    assert [p["response_type"] for p in double.response_url_posts] == [None, "in_channel", None]
    post({"text": "4"})
    post({"text": "5"})
    assert post({"text": "6"})[:3:2] == (404, {"ok": False, "error": "used_url"})
    stale = double.new_response_url(channel_id="C1", user_id="U1")
    clock.advance(30 * 60 + 1)
    status, _, body = raw_post(stale, b'{"text": "late"}', {"Content-Type": "application/json"})
    assert (status, body["error"]) == (404, "expired_url")


# =============================================================================== signing


def test_sign_request_matches_slacks_documented_example() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    signature = sign_request("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body)
    assert signature == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    by_hand = hmac.new(b"sekrit", b"v0:1700000000:{}", hashlib.sha256).hexdigest()
    assert sign_request("sekrit", 1700000000, b"{}") == f"v0={by_hand}"


# =============================================================================== Slack -> app


class Receiver:
    """A tiny app endpoint that checks Slack signatures like a real app must."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: Callable[[dict[str, Any]], tuple[int, str]] = lambda request: (200, "")
        verifier = SignatureVerifier(SECRET)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()}
                valid = verifier.is_valid_request(body, headers)
                request = {"headers": headers, "body": body, "valid": valid, "form": None, "json": None}
                if headers.get("Content-Type", "").startswith("application/json"):
                    request["json"] = json.loads(body)
                else:
                    request["form"] = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                    if "payload" in request["form"]:
                        request["json"] = json.loads(request["form"]["payload"])
                receiver.requests.append(request)
                status, text = (401, "invalid signature") if not valid else receiver.answer(request)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if text.startswith("{") else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(double: SlackDouble) -> Iterator[Receiver]:
    app = Receiver()
    double.set_app_url(app.url)
    yield app
    app.close()


def test_slash_command_payload_is_signed_and_usable(double: SlackDouble, client: WebClient, receiver: Receiver) -> None:
    response = double.send_slash_command("/event", "start 10:00", user_id="U1", channel_id="C1")
    assert response.status == 200
    [request] = receiver.requests
    form = request["form"]
    assert request["valid"] and form["command"] == "/event" and form["text"] == "start 10:00"
    assert (form["team_id"], form["channel_name"], form["user_name"], form["api_app_id"]) == (
        "T0TEAM",
        "general",
        "alice",
        "A0APP",
    )
    assert client.views_open(trigger_id=form["trigger_id"], view=modal())["ok"]
    status, _, _ = raw_post(form["response_url"], b'{"text": "done"}', {"Content-Type": "application/json"})
    assert status == 200 and double.ephemeral("C1", "U1")[0]["text"] == "done"


def test_slash_command_ack_body_is_shown_to_the_user(double: SlackDouble, receiver: Receiver) -> None:
    receiver.answer = lambda request: (200, json.dumps({"text": "working on it"}))
    assert double.send_slash_command("/event", "", user_id="U1", channel_id="C1").ok
    assert [(e["text"], e["source"]) for e in double.ephemeral(user_id="U1")] == [("working on it", "ack")]
    receiver.answer = lambda request: (200, json.dumps({"blocks": [section("x" * 3001)]}))
    assert double.send_slash_command("/event", "", user_id="U1", channel_id="C1").slack_error == "invalid_blocks"
    with pytest.raises(ValueError):
        double.send_slash_command("/event", "", user_id="U3", channel_id="C2")


def test_bad_and_stale_signatures_are_refused_by_the_app(double: SlackDouble, receiver: Receiver) -> None:
    body = b'{"type": "event_callback"}'
    now = int(time.time())
    forged = double.send_raw(body, {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=00"})
    assert forged.status == 401
    stale = double.send_event({"type": "app_home_opened", "user": "U1"}, timestamp=now - 6 * 60)
    assert stale.status == 401
    good = {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": sign_request(SECRET, now, body)}
    assert double.send_raw(body, {"Content-Type": "application/json", **good}).status == 200


def test_block_action_on_a_message(double: SlackDouble, client: WebClient, receiver: Receiver) -> None:
    blocks = [{"type": "actions", "block_id": "rsvp", "elements": [button("yes", value="event-1", text="Yes")]}]
    ts = client.chat_postMessage(channel="C1", text="Coming?", blocks=blocks)["ts"]
    assert double.send_block_action(user_id="U2", action_id="yes", channel_id="C1", message_ts=ts).status == 200
    payload = receiver.requests[-1]["json"]
    assert payload["type"] == "block_actions" and receiver.requests[-1]["valid"]
    assert payload["container"] == {"type": "message", "message_ts": ts, "channel_id": "C1", "is_ephemeral": False}
    assert payload["actions"][0]["value"] == "event-1" and payload["actions"][0]["block_id"] == "rsvp"
    assert payload["message"]["text"] == "Coming?" and payload["user"]["id"] == "U2"
    with pytest.raises(LookupError):  # nobody can click what the message does not show
        double.send_block_action(user_id="U2", action_id="maybe", channel_id="C1", message_ts=ts)
    with pytest.raises(ValueError):
        double.send_block_action(user_id="U2", action_id="yes", value="forged", channel_id="C1", message_ts=ts)
    reply = {"replace_original": True, "text": "Thanks!"}
    raw_post(payload["response_url"], json.dumps(reply).encode(), {"Content-Type": "application/json"})
    assert double.message("C1", ts)["text"] == "Thanks!" and double.message("C1", ts)["blocks"] is None


def test_block_action_on_an_ephemeral_message(double: SlackDouble, client: WebClient, receiver: Receiver) -> None:
    blocks = [{"type": "actions", "elements": [button("undo")]}]
    ts = client.chat_postEphemeral(channel="C1", user="U1", text="Saved", blocks=blocks)["message_ts"]
    with pytest.raises(LookupError):  # only its recipient sees an ephemeral message
        double.send_block_action(user_id="U2", action_id="undo", channel_id="C1", message_ts=ts)
    double.send_block_action(user_id="U1", action_id="undo", channel_id="C1", message_ts=ts)
    payload = receiver.requests[-1]["json"]
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    # Replaced through the response URL, it stays clickable: its new blocks get ids like any message.
    replacement = {"replace_original": True, "text": "Saved again", "blocks": [{"type": "actions", "elements": [button("redo")]}]}
    raw_post(payload["response_url"], json.dumps(replacement).encode(), {"Content-Type": "application/json"})
    assert double.send_block_action(user_id="U1", action_id="redo", channel_id="C1", message_ts=ts).status == 200
    payload = receiver.requests[-1]["json"]
    assert payload["actions"][0]["action_id"] == "redo" and payload["actions"][0]["block_id"]
    raw_post(payload["response_url"], b'{"delete_original": true}', {"Content-Type": "application/json"})
    assert double.ephemeral(user_id="U1") == []


def test_block_action_select_in_view(double: SlackDouble, client: WebClient, receiver: Receiver) -> None:
    options = [{"text": {"type": "plain_text", "text": name}, "value": name} for name in ("am", "pm")]
    select = {"type": "static_select", "action_id": "slot", "options": options}
    view = client.views_open(
        trigger_id=double.issue_trigger_id("U1"),
        view=modal(blocks=[{"type": "actions", "block_id": "b", "elements": [select]}]),
    )["view"]
    double.send_block_action(user_id="U1", action_id="slot", view_id=view["id"], value="pm")
    payload = receiver.requests[-1]["json"]
    assert payload["container"] == {"type": "view", "view_id": view["id"]}
    assert payload["actions"][0]["selected_option"]["value"] == "pm"
    assert payload["view"]["callback_id"] == "register" and "response_url" not in payload
    with pytest.raises(LookupError):
        double.send_block_action(user_id="U1", action_id="slot", view_id=view["id"], value="noon")


def test_view_submission_and_response_actions(double: SlackDouble, client: WebClient, receiver: Receiver) -> None:
    definition = modal(
        blocks=[text_input("name", "value"), text_input("note", "value", optional=True)],
        submit={"type": "plain_text", "text": "Save"},
        private_metadata="event-7",
    )
    view_id = client.views_open(trigger_id=double.issue_trigger_id("U1"), view=definition)["view"]["id"]

    receiver.answer = lambda request: (200, json.dumps({"response_action": "errors", "errors": {"name": "Too short"}}))
    response = double.submit_view(view_id, user_id="U1", values={"name": {"value": "A"}})
    assert response.json == {"response_action": "errors", "errors": {"name": "Too short"}} and response.ok
    submitted = receiver.requests[-1]["json"]
    assert submitted["type"] == "view_submission" and submitted["view"]["private_metadata"] == "event-7"
    assert submitted["view"]["state"]["values"] == {
        "name": {"value": {"type": "plain_text_input", "value": "A"}},
        "note": {"value": {"type": "plain_text_input", "value": None}},
    }
    assert len(double.open_views("U1")) == 1

    updated_view = modal("Step 2", blocks=[text_input("name", "value")], submit={"type": "plain_text", "text": "Go"})
    receiver.answer = lambda request: (200, json.dumps({"response_action": "update", "view": updated_view}))
    double.submit_view(view_id, user_id="U1", values={"name": {"value": "Alice"}})
    assert double.views[view_id]["title"]["text"] == "Step 2"

    receiver.answer = lambda request: (200, json.dumps({"response_action": "push", "view": modal("Pushed")}))
    double.submit_view(view_id, user_id="U1", values={"name": {"value": "Alice"}})
    assert [v["title"]["text"] for v in double.open_views("U1")] == ["Step 2", "Pushed"]

    with pytest.raises(ValueError):  # the pushed modal has no submit button
        double.submit_view(double.open_views("U1")[-1]["id"], user_id="U1", values={})
    receiver.answer = lambda request: (200, "")
    with pytest.raises(ValueError):  # a required input left empty cannot be submitted
        double.submit_view(view_id, user_id="U1", values={})

    receiver.answer = lambda request: (200, json.dumps({"response_action": "clear"}))
    third = modal("Third", submit={"type": "plain_text", "text": "OK"})
    client.views_push(trigger_id=double.issue_trigger_id("U1"), view=third)
    double.submit_view(double.open_views("U1")[-1]["id"], user_id="U1", values={})
    assert double.open_views("U1") == []


def test_modal_opened_with_an_anonymous_trigger_belongs_to_its_submitter(
    double: SlackDouble, client: WebClient, receiver: Receiver
) -> None:
    definition = modal(blocks=[text_input("name", "value")], submit={"type": "plain_text", "text": "Save"})
    view_id = client.views_open(trigger_id=double.issue_trigger_id(), view=definition)["view"]["id"]
    assert double.submit_view(view_id, user_id="U2", values={"name": {"value": "x"}}).status == 200
    assert receiver.requests[-1]["json"]["user"]["id"] == "U2"
    assert double.open_views("U2") == []


def test_invalid_response_action_view_is_reported(double: SlackDouble, client: WebClient, receiver: Receiver) -> None:
    definition = modal(blocks=[text_input("name", "value")], submit={"type": "plain_text", "text": "Save"})
    view_id = client.views_open(trigger_id=double.issue_trigger_id("U1"), view=definition)["view"]["id"]
    receiver.answer = lambda request: (200, json.dumps({"response_action": "update", "view": modal("t" * 30)}))
    response = double.submit_view(view_id, user_id="U1", values={"name": {"value": "x"}})
    assert response.slack_error == "invalid_view" and not response.ok
    receiver.answer = lambda request: (200, "")
    double.submit_view(view_id, user_id="U1", values={"name": {"value": "x"}})
    assert double.open_views("U1") == []


def test_message_shortcut(double: SlackDouble, receiver: Receiver) -> None:
    ts = double.user_posts("U1", "C1", "question?")["ts"]
    double.send_message_shortcut("save_question", user_id="U2", channel_id="C1", message_ts=ts)
    payload = receiver.requests[-1]["json"]
    assert payload["type"] == "message_action" and payload["callback_id"] == "save_question"
    assert payload["message"]["text"] == "question?" and payload["trigger_id"] and payload["response_url"]


def test_send_event_envelope_and_retries(double: SlackDouble, receiver: Receiver) -> None:
    double.send_event({"type": "app_home_opened", "user": "U1", "tab": "home"}, event_id="Ev123", retry_num=2)
    request = receiver.requests[-1]
    envelope = request["json"]
    assert request["valid"] and envelope["type"] == "event_callback" and envelope["event_id"] == "Ev123"
    assert envelope["authorizations"] == [
        {"enterprise_id": None, "team_id": "T0TEAM", "user_id": "UBOT", "is_bot": True, "is_enterprise_install": False}
    ]
    assert (envelope["team_id"], envelope["api_app_id"]) == ("T0TEAM", "A0APP")
    assert request["headers"]["X-Slack-Retry-Num"] == "2"
    assert request["headers"]["X-Slack-Retry-Reason"] == "http_timeout"
    double.send_event({"type": "app_home_opened", "user": "U1"})
    assert receiver.requests[-1]["json"]["event_id"].startswith("Ev")


def test_uninstalling_the_app_revokes_its_token_and_tells_the_app(
    double: SlackDouble, client: WebClient, receiver: Receiver
) -> None:
    assert client.auth_test()["ok"]
    answers = double.uninstall_app()
    assert [answer.status for answer in answers] == [200, 200]
    events = [request["json"] for request in receiver.requests]
    assert [envelope["event"] for envelope in events] == [
        {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}},
        {"type": "app_uninstalled"},
    ]
    assert all(envelope["team_id"] == "T0TEAM" and envelope["type"] == "event_callback" for envelope in events)
    assert events[0]["event_id"] != events[1]["event_id"]
    with pytest.raises(SlackApiError) as refused:
        client.auth_test()
    assert refused.value.response["error"] == "account_inactive"


def test_user_posts_edits_and_deletes_send_message_events(double: SlackDouble, receiver: Receiver) -> None:
    parent = double.user_posts("U1", "C1", "hello <@UBOT>")
    events = [r["json"]["event"] for r in receiver.requests]
    assert [e["type"] for e in events] == ["message", "app_mention"]
    assert events[0]["client_msg_id"] and events[0]["channel_type"] == "channel" and events[0]["user"] == "U1"
    reply = double.user_posts("U2", "C1", "hi", thread_ts=parent["ts"])
    event = receiver.requests[-1]["json"]["event"]
    assert (event["thread_ts"], event["parent_user_id"]) == (parent["ts"], "U1")
    double.user_edits("U2", "C1", reply["ts"], "hi!")
    changed = receiver.requests[-1]["json"]["event"]
    assert changed["subtype"] == "message_changed" and changed["message"]["text"] == "hi!"
    assert changed["previous_message"]["text"] == "hi"
    double.user_deletes("U2", "C1", reply["ts"])
    deleted = receiver.requests[-1]["json"]["event"]
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == reply["ts"]
    assert double.messages("C1")[0].get("reply_count") is None
    count = len(receiver.requests)
    double.user_posts("U1", "C2", "bot is not here")  # no event: the bot is not a member
    assert len(receiver.requests) == count
    with pytest.raises(ValueError):  # people can only edit their own messages
        double.user_edits("U2", "C1", parent["ts"], "x")


def test_a_reply_also_sent_to_the_channel(double: SlackDouble, client: WebClient, receiver: Receiver) -> None:
    parent = client.chat_postMessage(channel="C1", text="What did you hear?")["ts"]
    reply = double.user_posts("U1", "C1", "Equity, mostly", thread_ts=parent, also_send_to_channel=True)
    # One message, shown in both places.
    assert [m["text"] for m in double.messages("C1")] == ["What did you hear?", "Equity, mostly"]
    assert [m["ts"] for m in double.replies("C1", parent)] == [reply["ts"]]
    history = client.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in history] == ["Equity, mostly", "What did you hear?"]
    assert [m["text"] for m in client.conversations_replies(channel="C1", ts=parent)["messages"]] == [
        "What did you hear?", "Equity, mostly"]
    assert double.message("C1", parent)["reply_count"] == 1

    posted, changed = (r["json"]["event"] for r in receiver.requests)
    assert (posted["type"], posted["subtype"], posted["ts"], posted["thread_ts"]) == (
        "message", "thread_broadcast", reply["ts"], parent)
    assert (posted["user"], posted["text"], posted["channel"]) == ("U1", "Equity, mostly", "C1")
    assert posted["root"]["ts"] == parent and posted["root"]["text"] == "What did you hear?"
    # Slack's follow-up: reported as changed, though nobody edited it.
    assert changed["subtype"] == "message_changed" and "edited" not in changed["message"]
    assert changed["message"]["subtype"] == "thread_broadcast" and changed["message"]["ts"] == reply["ts"]
    assert changed["message"]["text"] == changed["previous_message"]["text"] == "Equity, mostly"

    double.user_edits("U1", "C1", reply["ts"], "Equity, and scale")
    edited = receiver.requests[-1]["json"]["event"]
    assert edited["subtype"] == "message_changed" and edited["message"]["text"] == "Equity, and scale"
    assert (edited["message"]["subtype"], edited["message"]["thread_ts"]) == ("thread_broadcast", parent)
    double.user_deletes("U1", "C1", reply["ts"])
    deleted = receiver.requests[-1]["json"]["event"]
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == reply["ts"]
    assert deleted["previous_message"]["subtype"] == "thread_broadcast"
    assert [m["text"] for m in double.messages("C1")] == ["What did you hear?"] and double.replies("C1", parent) == []

    with pytest.raises(ValueError, match="only a reply in a thread"):
        double.user_posts("U1", "C1", "Not a reply", also_send_to_channel=True)


def test_bot_messages_echo_only_when_enabled(double: SlackDouble, client: WebClient, receiver: Receiver) -> None:
    client.chat_postMessage(channel="C1", text="quiet")
    double.drain()
    assert receiver.requests == []
    double.echo_bot_messages = True
    ts = client.chat_postMessage(channel="C1", text="loud")["ts"]
    client.chat_update(channel="C1", ts=ts, text="louder")
    client.chat_delete(channel="C1", ts=ts)
    double.drain()
    events = [r["json"]["event"] for r in receiver.requests]
    assert [e.get("subtype") for e in events] == [None, "message_changed", "message_deleted"]
    assert (events[0]["bot_id"], events[0]["user"], events[0]["text"]) == ("BBOT", "UBOT", "loud")


# =============================================================================== end to end with Bolt


def test_a_bolt_app_runs_against_the_double(double: SlackDouble) -> None:
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    bolt = App(
        token=TOKEN,
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=double.api_url),
        process_before_response=True,
    )

    @bolt.command("/event")
    def open_form(ack, body, client, respond):  # type: ignore[no-untyped-def]
        ack()
        view = modal(blocks=[text_input("title", "value")], submit={"type": "plain_text", "text": "Create"})
        client.views_open(trigger_id=body["trigger_id"], view=view)
        respond("Fill in the form")

    @bolt.view("register")
    def create(ack, view, body, client):  # type: ignore[no-untyped-def]
        ack()
        title = view["state"]["values"]["title"]["value"]["value"]
        client.chat_postMessage(channel=body["user"]["id"], text=f"Created {title}")

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = make_server("127.0.0.1", 0, SlackRequestHandler(bolt), handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        double.set_app_url(f"http://127.0.0.1:{server.server_port}/slack/events")
        assert double.send_slash_command("/event", "", user_id="U1", channel_id="C1").status == 200
        assert [e["text"] for e in double.ephemeral("C1", "U1")] == ["Fill in the form"]
        [view] = double.open_views("U1")
        assert double.submit_view(view["id"], user_id="U1", values={"title": {"value": "Kickoff"}}).status == 200
        assert [m["text"] for m in double.dms("U1")] == ["Created Kickoff"]
        assert double.open_views("U1") == []
    finally:
        server.shutdown()
        server.server_close()


def test_an_event_the_app_fails_to_take_is_delivered_again_with_the_same_id() -> None:
    """Slack retries an event answered with a non-2xx (or not at all), with X-Slack-Retry-Num."""
    answers = iter([503, 503, 200])
    seen: list[tuple[str, str | None]] = []

    class App(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((body["event_id"], self.headers.get("X-Slack-Retry-Num")))
            self.send_response(next(answers))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    app = ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    double = SlackDouble(team_id="T1", bot_token=TOKEN, signing_secret="s", bot_user_id="UBOT").start()
    try:
        double.add_user("U1", "ada")
        double.add_channel("C1", "general", members=["U1"])
        double.set_app_url(f"http://127.0.0.1:{app.server_address[1]}/slack/events")
        double.event_retry_delays = (0.05, 0.05, 0.05)
        double.user_posts("U1", "C1", "hello")
        double.wait_for(lambda: len(seen) == 3, timeout=5)
        time.sleep(0.2)
        assert len(seen) == 3  # answered 200 the third time: no more
        assert len({event_id for event_id, _ in seen}) == 1
        assert [retry for _, retry in seen] == [None, "1", "2"]
    finally:
        double.stop()
        app.shutdown()


def test_event_ids_are_unique_across_workspaces_as_slacks_are() -> None:
    """Slack's event_id is unique across every workspace; eventbot's redelivery check relies on it.
    The double once numbered each workspace's events alike, and a load test across three workspaces
    saw one workspace's reflection taken for another's redelivery."""
    from tests.slackdouble.state import Workspace

    def workspace(team: str) -> Workspace:
        return Workspace(team_id=team, team_name=team, team_domain=team.lower(), bot_user_id="U0BOT", bot_id="B0BOT",
                         app_id="A0APP", bot_name="eventbot", clock=time.monotonic, wall_clock=time.time)

    first, second = workspace("T0FIRST"), workspace("T0SECOND")
    ids = [w.new_event_id() for _ in range(50) for w in (first, second)]
    assert len(set(ids)) == len(ids) and all(i.startswith("Ev") for i in ids)

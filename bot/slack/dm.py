"""Talking to one person privately: a DM, or a file (CSV exports) sent to their DMs, and reading a
file they sent to the app."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from slack_sdk import WebClient

from bot.slack.messages import Message


def dm_channel(client: WebClient, *, user_id: str) -> str:
    """The id of the app's DM with a person (conversations.open returns the same one every time)."""
    return client.conversations_open(users=user_id)["channel"]["id"]


def send_dm(client: WebClient, *, user_id: str, message: Message) -> str:
    """Post a message in the person's DM with the app; returns its ts."""
    return client.chat_postMessage(channel=dm_channel(client, user_id=user_id), **message.as_post())["ts"]


def send_to_dm(client: WebClient, *, user_id: str, filename: str, content: str | bytes, title: str,
               comment: str) -> None:
    client.files_upload_v2(channel=dm_channel(client, user_id=user_id), filename=filename, content=content,
                           title=title, initial_comment=comment)


# Files people send the app are read whole into memory: a programme file is a few kilobytes.
MAX_FILE_BYTES = 512 * 1024


@dataclass(frozen=True)
class SharedFile:
    name: str
    content: bytes


class FileUnreadable(Exception):
    """A file shared with the app that cannot be read; the message says why, for the person."""


def read_shared_file(client: WebClient, *, file_id: str, timeout: float = 10.0) -> SharedFile:
    """A file someone shared with the app, by its id: files.info, then its url_private with the bot token."""
    file = client.files_info(file=file_id)["file"]
    name = file.get("name") or file_id
    if (file.get("size") or 0) > MAX_FILE_BYTES:
        raise FileUnreadable(f"{name} is larger than {MAX_FILE_BYTES // 1024} KB; a programme file is much smaller")
    url = file.get("url_private_download") or file.get("url_private")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise FileUnreadable(f"{name} is not a file Slack lets eventbot download (it may be hosted elsewhere)")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {client.token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - Slack's own file URL
        content_type = response.headers.get("Content-Type") or ""
        content = response.read(MAX_FILE_BYTES + 1)
    # Without the token's access Slack answers its sign-in page, with a 200.
    if content_type.startswith("text/html") and not name.endswith((".html", ".htm")):
        raise FileUnreadable(f"Slack did not let eventbot read {name}")
    if len(content) > MAX_FILE_BYTES:
        raise FileUnreadable(f"{name} is larger than {MAX_FILE_BYTES // 1024} KB; a programme file is much smaller")
    return SharedFile(name=name, content=content)

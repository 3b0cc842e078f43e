"""Sending a file (CSV exports) privately to one person."""

from __future__ import annotations

from slack_sdk import WebClient


def send_to_dm(client: WebClient, *, user_id: str, filename: str, content: str, title: str, comment: str) -> None:
    channel_id = client.conversations_open(users=user_id)["channel"]["id"]
    client.files_upload_v2(channel=channel_id, filename=filename, content=content, title=title, initial_comment=comment)

"""Talking to one person privately: a DM, or a file (CSV exports) sent to their DMs."""

from __future__ import annotations

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

"""Attendees answering the reflection prompts: in the prompt's thread, or privately in a modal."""

from __future__ import annotations

import json

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.reflections import blocks as reflection_blocks
from bot.reflections import slack as reflections_slack
from bot.reflections.blocks import SHARE_REFLECTION_ACTION
from bot.reflections.rules import ReflectionError
from bot.slack import messages, views


def _from_a_person(message: dict, context: BoltContext) -> bool:
    """Bots, including this one, never count as reflecting."""
    return bool(message.get("user")) and not message.get("bot_id") and message.get("user") != context.bot_user_id


def reply_in_thread(event: dict, context: BoltContext) -> None:
    """A reply in a prompt's thread, including one also sent to the channel (`thread_broadcast`):
    that is one message shown in two places, so one reflection."""
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts") or not _from_a_person(event, context):
        return
    reflections_slack.record_thread_reply(
            context["database"], workspace_id=context["workspace_id"], channel_id=event["channel"], thread_ts=thread_ts,
            message_ts=event["ts"], slack_user_id=event["user"], text=event.get("text") or "",
        )


def edit_reply(event: dict, context: BoltContext) -> None:
    """Slack reports a reply sent to the channel as changed once just after it is posted, unedited;
    the rules see the same text and change nothing."""
    message = event.get("message") or {}
    if not _from_a_person(message, context):
        return
    reflections_slack.edit_thread_reply(
            context["database"], workspace_id=context["workspace_id"], channel_id=event["channel"],
            message_ts=message["ts"], text=message.get("text") or "",
        )


def delete_reply(event: dict, context: BoltContext) -> None:
    reflections_slack.delete_thread_reply(
            context["database"], workspace_id=context["workspace_id"], channel_id=event["channel"], message_ts=event["deleted_ts"],
        )


def on_message(event: dict, context: BoltContext) -> None:
    """Every message event in a channel eventbot is in: replies, edits and deletions of replies count.

    Run by the composition root before Slack is answered (handlers.STORED_EVENTS), not as a Bolt
    listener, so a reply that could not be stored is delivered again. Joins, topic changes and
    the like are of no interest.
    """
    subtype = event.get("subtype")
    if subtype in (None, "thread_broadcast"):
        reply_in_thread(event, context)
    elif subtype == "message_changed":
        edit_reply(event, context)
    elif subtype == "message_deleted":
        delete_reply(event, context)


def open_share_form(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient) -> None:
    ack()
    try:
        prompt = reflections_slack.prompt_by_id(context["database"], workspace_id=context["workspace_id"],
                                          prompt_id=int(action["value"]))
    except (ReflectionError, ValueError):
        client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"],
                                  **messages.notice("That prompt no longer exists.").as_post())
        return
    client.views_open(trigger_id=body["trigger_id"], view=reflection_blocks.share_reflection(prompt))


def save_shared_reflection(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    values = views.submitted_values(view)
    metadata = json.loads(view.get("private_metadata") or "{}")
    try:
        reflections_slack.share_privately(
                context["database"], workspace_id=context["workspace_id"], prompt_id=int(metadata["prompt_id"]),
                slack_user_id=body["user"]["id"], text=values.get("reflection") or "",
                anonymous="anonymous" in (values.get("anonymous") or []),
            )
    except ReflectionError as error:
        ack(response_action="errors", errors={"reflection": str(error)})
        return
    ack()


def register(app: App) -> None:
    app.action(SHARE_REFLECTION_ACTION)(open_share_form)
    app.view(reflection_blocks.SHARE_REFLECTION_CALLBACK)(save_shared_reflection)

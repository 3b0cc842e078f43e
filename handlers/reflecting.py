"""Attendees answering the reflection prompts: in the prompt's thread, or privately in a modal."""

from __future__ import annotations

import json

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.events import slack as events_slack
from bot.reflections import blocks as reflection_blocks
from bot.reflections import slack as reflections_slack
from bot.reflections.blocks import SHARE_REFLECTION_ACTION
from bot.reflections.rules import ReflectionError
from bot.slack import messages, views
from handlers.replies import answering_problems


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


def open_share_picker(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                      respond: Respond) -> None:
    """A chair's "Choose reflections to share" (in the DM after the close)."""
    ack()
    with answering_problems(respond):
        event_id = int(action["value"])
        choices = reflections_slack.share_choices(context["database"], workspace_id=context["workspace_id"],
                                                  event_id=event_id, slack_user_id=body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"],
                          view=reflection_blocks.share_picker(event_id=event_id, choices=choices))


def share_with_the_room(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    """`/event share`: at any time, a chair picks reflections to share back with the room."""
    ack()
    with answering_problems(respond):
        event_id = events_slack.event_id_to_run(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"], action="share reflections", include_closed=True)
        choices = reflections_slack.share_choices(context["database"], workspace_id=context["workspace_id"],
                                                  event_id=event_id, slack_user_id=command["user_id"])
        client.views_open(trigger_id=command["trigger_id"],
                          view=reflection_blocks.share_picker(event_id=event_id, choices=choices))


def post_shared_reflections(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    values = views.submitted_values(view)
    picked = [int(value) for block_id, chosen in values.items() if isinstance(chosen, list)
              for value in chosen if str(value).isdigit()]
    try:
        reflections_slack.share_with_the_room(
            context["database"], workspace_id=context["workspace_id"],
            event_id=int(json.loads(view.get("private_metadata") or "{}").get("event_id", 0)),
            slack_user_id=body["user"]["id"], reflection_ids=picked, now=utcnow())
    except UserError as error:
        first = next(iter(values), "reflection")
        ack(response_action="errors", errors={first: str(error)})
        return
    ack()


SUBCOMMANDS = {"share": share_with_the_room}


def register(app: App) -> None:
    app.action(reflection_blocks.SHARE_WITH_ROOM_ACTION)(open_share_picker)
    app.view(reflection_blocks.SHARE_WITH_ROOM_CALLBACK)(post_shared_reflections)
    app.action(SHARE_REFLECTION_ACTION)(open_share_form)
    app.view(reflection_blocks.SHARE_REFLECTION_CALLBACK)(save_shared_reflection)

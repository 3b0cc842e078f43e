"""Attendees answering the reflection prompts: in the prompt's thread, or privately in a modal."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.events import slack as events_slack
from bot.reflections import blocks as reflection_blocks
from bot.reflections import slack as reflections_slack
from bot.reflections.blocks import SHARE_REFLECTION_ACTION
from handlers import payloads
from handlers.replies import answering_problems, open_form


def _from_a_person(message: dict, context: BoltContext) -> bool:
    """Bots, including this one, never count as reflecting."""
    return bool(message.get("user")) and not message.get("bot_id") and message.get("user") != context.bot_user_id


def reply_in_thread(event: dict, context: BoltContext) -> None:
    """A reply in a prompt's thread, including one also sent to the channel (`thread_broadcast`):
    that is one message shown in two places, so one reflection."""
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts") or not _from_a_person(event, context):
        return
    with payloads.ignoring_malformed("a thread reply"):
        reflections_slack.record_thread_reply(
            context["database"], workspace_id=context["workspace_id"],
            channel_id=payloads.slack_id(event.get("channel"), what="channel"),
            thread_ts=payloads.message_ts(thread_ts), message_ts=payloads.message_ts(event.get("ts")),
            slack_user_id=payloads.slack_id(event.get("user"), what="person"), text=payloads.text(event.get("text")),
        )


def edit_reply(event: dict, context: BoltContext) -> None:
    """Slack reports a reply sent to the channel as changed once just after it is posted, unedited;
    the rules see the same text and change nothing."""
    message = event.get("message")
    if not isinstance(message, dict) or not _from_a_person(message, context):
        return
    with payloads.ignoring_malformed("an edited message"):
        reflections_slack.edit_thread_reply(
            context["database"], workspace_id=context["workspace_id"],
            channel_id=payloads.slack_id(event.get("channel"), what="channel"),
            message_ts=payloads.message_ts(message.get("ts")), text=payloads.text(message.get("text")),
        )


def delete_reply(event: dict, context: BoltContext) -> None:
    with payloads.ignoring_malformed("a deleted message"):
        reflections_slack.delete_thread_reply(
            context["database"], workspace_id=context["workspace_id"],
            channel_id=payloads.slack_id(event.get("channel"), what="channel"),
            message_ts=payloads.message_ts(event.get("deleted_ts")),
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


def open_share_form(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                    respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        prompt = reflections_slack.prompt_by_id(context["database"], workspace_id=context["workspace_id"],
                                                prompt_id=payloads.positive_id(action.get("value")))
        open_form(client, respond, trigger_id=body.get("trigger_id"), view=reflection_blocks.share_reflection(prompt))


def save_shared_reflection(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    try:
        values = payloads.form_values(view)
        reflections_slack.share_privately(
            context["database"], workspace_id=context["workspace_id"],
            prompt_id=payloads.positive_id(payloads.metadata(view, "prompt_id")["prompt_id"]),
            slack_user_id=payloads.user_id(body), text=values.get("reflection") or "",
            anonymous="anonymous" in (values.get("anonymous") or []),
        )
    except UserError as error:
        ack(response_action="errors", errors={"reflection": str(error)})
        return
    ack()


def open_share_picker(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                      respond: Respond) -> None:
    """A chair's "Choose reflections to share" (in the DM after the close)."""
    ack()
    with answering_problems(respond):
        event_id = payloads.positive_id(action.get("value"))
        choices = reflections_slack.share_choices(context["database"], workspace_id=context["workspace_id"],
                                                  event_id=event_id, slack_user_id=payloads.user_id(body))
        open_form(client, respond, trigger_id=body.get("trigger_id"),
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
        open_form(client, respond, trigger_id=command.get("trigger_id"),
                  view=reflection_blocks.share_picker(event_id=event_id, choices=choices))


def post_shared_reflections(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    field = "reflection"
    try:
        values = payloads.form_values(view)
        field = next(iter(values), field)
        picked = [payloads.positive_id(value) for chosen in values.values() if isinstance(chosen, list)
                  for value in chosen]
        reflections_slack.share_with_the_room(
            context["database"], workspace_id=context["workspace_id"],
            event_id=payloads.positive_id(payloads.metadata(view, "event_id")["event_id"]),
            slack_user_id=payloads.user_id(body), reflection_ids=picked, now=utcnow())
    except UserError as error:
        ack(response_action="errors", errors={field: str(error)})
        return
    ack()


SUBCOMMANDS = {"share": share_with_the_room}


def register(app: App) -> None:
    app.action(reflection_blocks.SHARE_WITH_ROOM_ACTION)(open_share_picker)
    app.view(reflection_blocks.SHARE_WITH_ROOM_CALLBACK)(post_shared_reflections)
    app.action(SHARE_REFLECTION_ACTION)(open_share_form)
    app.view(reflection_blocks.SHARE_REFLECTION_CALLBACK)(save_shared_reflection)

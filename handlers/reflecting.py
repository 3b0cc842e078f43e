"""Attendees answering the reflection prompts: in the prompt's thread, or privately in a modal."""

from __future__ import annotations

import json

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import reflections
from bot.db import unit_of_work
from bot.reflections import ReflectionError
from bot.slack import messages, views
from bot.slack.programme_posts import SHARE_REFLECTION_ACTION


def _from_a_person(message: dict, context: BoltContext) -> bool:
    """Bots, including this one, never count as reflecting."""
    return bool(message.get("user")) and not message.get("bot_id") and message.get("user") != context.bot_user_id


def reply_in_thread(event: dict, context: BoltContext) -> None:
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts") or not _from_a_person(event, context):
        return
    with unit_of_work(context["sessions"]) as session:
        reflections.record_thread_reply(
            session, workspace_id=context["workspace_id"], channel_id=event["channel"], thread_ts=thread_ts,
            message_ts=event["ts"], slack_user_id=event["user"], text=event.get("text") or "",
        )


def edit_reply(event: dict, context: BoltContext) -> None:
    message = event.get("message") or {}
    if not _from_a_person(message, context):
        return
    with unit_of_work(context["sessions"]) as session:
        reflections.edit_thread_reply(
            session, workspace_id=context["workspace_id"], channel_id=event["channel"],
            message_ts=message["ts"], text=message.get("text") or "",
        )


def delete_reply(event: dict, context: BoltContext) -> None:
    with unit_of_work(context["sessions"]) as session:
        reflections.delete_thread_reply(
            session, workspace_id=context["workspace_id"], channel_id=event["channel"], message_ts=event["deleted_ts"],
        )


def ignore_other_messages() -> None:
    """Joins, topic changes and the like: subscribed to for threads, of no interest otherwise."""


def open_share_form(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient) -> None:
    ack()
    try:
        prompt = reflections.prompt_by_id(context["sessions"], workspace_id=context["workspace_id"],
                                          prompt_id=int(action["value"]))
    except (ReflectionError, ValueError):
        client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"],
                                  **messages.notice("That prompt no longer exists.").as_post())
        return
    client.views_open(trigger_id=body["trigger_id"], view=views.share_reflection(prompt))


def save_shared_reflection(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    values = views.submitted_values(view)
    metadata = json.loads(view.get("private_metadata") or "{}")
    try:
        with unit_of_work(context["sessions"]) as session:
            reflections.share_privately(
                session, workspace_id=context["workspace_id"], prompt_id=int(metadata["prompt_id"]),
                slack_user_id=body["user"]["id"], text=values.get("reflection") or "",
                anonymous="anonymous" in (values.get("anonymous") or []),
            )
    except ReflectionError as error:
        ack(response_action="errors", errors={"reflection": str(error)})
        return
    ack()


def register(app: App) -> None:
    app.event({"type": "message", "subtype": None})(reply_in_thread)
    app.event({"type": "message", "subtype": "message_changed"})(edit_reply)
    app.event({"type": "message", "subtype": "message_deleted"})(delete_reply)
    app.event("message")(ignore_other_messages)
    app.action(SHARE_REFLECTION_ACTION)(open_share_form)
    app.view(views.SHARE_REFLECTION_CALLBACK)(save_shared_reflection)

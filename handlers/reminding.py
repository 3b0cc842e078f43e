"""Evaluation reminders in Slack: organisers schedule, list, change and cancel them (`/event remind`,
`/event reminders`); attendees press "I've completed it"."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.events.rules import FormProblems
from bot.reminders import blocks as reminder_blocks
from bot.reminders import rules as reminders
from bot.reminders import slack as reminders_slack
from handlers.replies import answering_problems

logger = logging.getLogger(__name__)


def open_remind_form(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        form = reminders_slack.form_context(context["database"], workspace_id=context["workspace_id"],
                                      channel_id=command["channel_id"], slack_user_id=command["user_id"])
        client.views_open(trigger_id=command["trigger_id"],
                          view=reminder_blocks.remind_modal(form, channel_id=command["channel_id"]))


def save_remind_form(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    metadata = reminder_blocks.metadata_of(view)
    try:
        saved = reminders_slack.save_form(
            context["database"], workspace_id=context["workspace_id"], event_id=metadata["event_id"],
            reminder_id=metadata.get("reminder_id"), slack_user_id=body["user"]["id"],
            form=reminders.ReminderForm(**reminder_blocks.form_values(view)), now=utcnow(),
        )
    except FormProblems as problems:
        ack(response_action="errors", errors=problems.problems)
        return
    except UserError as error:
        ack(response_action="errors", errors={"when": str(error)[:150]})
        return
    ack()
    client.chat_postEphemeral(channel=metadata["channel_id"], user=body["user"]["id"],
                              **reminder_blocks.saved(description=saved.description, changed=saved.changed).as_post())


def list_reminders(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        state = reminders_slack.reminders_for_channel(context["database"], workspace_id=context["workspace_id"],
                                                channel_id=command["channel_id"], slack_user_id=command["user_id"])
        respond(reminder_blocks.reminder_list(state).as_ephemeral())


def cancel_from_list(ack: Ack, body: dict, action: dict, context: BoltContext, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        reminder_id = int(action["value"])
        user = body["user"]["id"]
        reminders_slack.cancel(context["database"], workspace_id=context["workspace_id"], reminder_id=reminder_id,
                         slack_user_id=user, now=utcnow())
        event_id = reminders_slack.event_of_reminder(context["database"], reminder_id=reminder_id)
        state = reminders_slack.reminders_for_event(context["database"], workspace_id=context["workspace_id"],
                                              event_id=event_id or 0, slack_user_id=user)
        respond({**reminder_blocks.reminder_list(state).as_ephemeral(), "replace_original": True})


def change_from_list(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                     respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        channel_id = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
        form = reminders_slack.form_context(context["database"], workspace_id=context["workspace_id"], channel_id=channel_id,
                                      slack_user_id=body["user"]["id"], reminder_id=int(action["value"]))
        client.views_open(trigger_id=body["trigger_id"], view=reminder_blocks.remind_modal(form, channel_id=channel_id))


def say_completed(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                  respond: Respond) -> None:
    ack()
    user = body["user"]["id"]
    with answering_problems(respond):
        event_id = int(json.loads(action.get("value") or "{}").get("event_id", 0))
        completion = reminders_slack.record_completion(context["database"], workspace_id=context["workspace_id"],
                                                 event_id=event_id, slack_user_id=user, now=utcnow())
        container = body.get("container") or {}
        channel_id, ts = container.get("channel_id", ""), container.get("message_ts")
        message = body.get("message") or {}
        if channel_id.startswith("D") and ts:
            # Their own DM: the buttons give way to a thank-you.
            client.chat_update(channel=channel_id, ts=ts, **reminder_blocks.completed_dm(
                original_blocks=message.get("blocks"), text=message.get("text") or "Evaluation form").as_post())
        else:
            client.chat_postEphemeral(channel=channel_id, user=user,
                                      **reminder_blocks.completion_noted(first_time=completion.first_time).as_post())


def open_form_link(ack: Ack) -> None:
    """A link button still sends an action; acknowledging it keeps Slack from showing an error."""
    ack()


SUBCOMMANDS = {"remind": open_remind_form, "reminders": list_reminders}


def register(app: App) -> None:
    app.view(reminder_blocks.REMIND_CALLBACK)(save_remind_form)
    app.action(reminder_blocks.COMPLETED_ACTION)(say_completed)
    app.action(reminder_blocks.CANCEL_ACTION)(cancel_from_list)
    app.action(reminder_blocks.CHANGE_ACTION)(change_from_list)
    app.action(reminder_blocks.OPEN_FORM_ACTION)(open_form_link)


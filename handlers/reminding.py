"""Evaluation reminders in Slack: organisers schedule, list, change and cancel them (`/event remind`,
`/event reminders`); attendees press "I've completed it"."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.events.rules import FormProblems
from bot.reminders import blocks as reminder_blocks
from bot.reminders import rules as reminders
from bot.reminders import slack as reminders_slack
from handlers import payloads
from handlers.replies import answering_problems, open_form, tell

logger = logging.getLogger(__name__)


def open_remind_form(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        form = reminders_slack.form_context(context["database"], workspace_id=context["workspace_id"],
                                      channel_id=command["channel_id"], slack_user_id=command["user_id"])
        open_form(client, respond, trigger_id=command.get("trigger_id"),
                  view=reminder_blocks.remind_modal(form, channel_id=command["channel_id"]))


def save_remind_form(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    try:
        metadata = payloads.metadata(view, "channel_id", "event_id")
        channel_id = payloads.slack_id(metadata["channel_id"], what="channel it is for")
        user_id = payloads.user_id(body)
        saved = reminders_slack.save_form(
            context["database"], workspace_id=context["workspace_id"],
            event_id=payloads.positive_id(metadata["event_id"]),
            reminder_id=payloads.optional_id(metadata.get("reminder_id")), slack_user_id=user_id,
            form=reminders.ReminderForm(**reminder_blocks.form_values(payloads.form_values(view))), now=utcnow(),
        )
    except FormProblems as problems:
        ack(response_action="errors", errors=problems.problems)
        return
    except UserError as error:
        ack(response_action="errors", errors={"when": str(error)[:150]})
        return
    ack()
    tell(client, channel_id=channel_id, user_id=user_id,
         message=reminder_blocks.saved(description=saved.description, changed=saved.changed))


def list_reminders(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        state = reminders_slack.reminders_for_channel(context["database"], workspace_id=context["workspace_id"],
                                                channel_id=command["channel_id"], slack_user_id=command["user_id"])
        respond(reminder_blocks.reminder_list(state).as_ephemeral())


def cancel_from_list(ack: Ack, body: dict, action: dict, context: BoltContext, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        reminder_id = payloads.positive_id(action.get("value"))
        user = payloads.user_id(body)
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
        channel_id = payloads.channel_id(body)
        form = reminders_slack.form_context(context["database"], workspace_id=context["workspace_id"], channel_id=channel_id,
                                      slack_user_id=payloads.user_id(body),
                                      reminder_id=payloads.positive_id(action.get("value")))
        open_form(client, respond, trigger_id=body.get("trigger_id"),
                  view=reminder_blocks.remind_modal(form, channel_id=channel_id))


def say_completed(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                  respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        user = payloads.user_id(body)
        event_id = payloads.positive_id(payloads.fields(action.get("value"), "event_id")["event_id"])
        completion = reminders_slack.record_completion(context["database"], workspace_id=context["workspace_id"],
                                                 event_id=event_id, slack_user_id=user, now=utcnow())
        if payloads.from_a_view(body):
            # The Home tab: it drops the form once drawn again; the person hears it was noted.
            respond(reminder_blocks.completion_noted(first_time=completion.first_time).as_ephemeral())
            return
        channel_id = payloads.channel_id(body)
        ts, blocks, text = payloads.clicked_message(body)
        if channel_id.startswith("D") and ts:
            # Their own DM: the buttons give way to a thank-you.
            client.chat_update(channel=channel_id, ts=ts, **reminder_blocks.completed_dm(
                original_blocks=blocks, text=text or "Evaluation form").as_post())
        else:
            tell(client, channel_id=channel_id, user_id=user,
                 message=reminder_blocks.completion_noted(first_time=completion.first_time))


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


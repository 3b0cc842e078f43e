"""`/event setup`: an organiser sets an event up for the channel in a modal."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.events import blocks as event_blocks
from bot.events import rules as events
from bot.events import slack as events_slack
from bot.events.rules import FormProblems
from bot.slack import messages, views
from bot.slack.text import escape, local_date_and_time
from handlers.replies import answering_problems


def open_setup_form(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id, event, chairs, presenters = events_slack.setup_form_defaults(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"],
        )
        defaults = (event_blocks.SetupDefaults.from_event(event, chairs=chairs, presenters=presenters)
                    if event is not None else event_blocks.SetupDefaults())
        today = utcnow().astimezone(ZoneInfo(defaults.timezone))
        client.views_open(trigger_id=command["trigger_id"], view=event_blocks.event_setup(
            channel_id=command["channel_id"], event_id=event_id, defaults=defaults, today=today))


def save_setup_form(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    values = views.submitted_values(view)
    metadata = json.loads(view.get("private_metadata") or "{}")
    try:
        details = events.details_from_form(
            title=values.get("title"), date=values.get("date"), start=values.get("start"), end=values.get("end"),
            timezone=values.get("timezone"), evaluation_form_url=values.get("evaluation_form_url"),
            chairs=values.get("chairs") or [], presenters=values.get("presenters") or [],
        )
        event = events_slack.save_setup(
            context["database"], workspace_id=context["workspace_id"], channel_id=metadata["channel_id"],
            event_id=metadata.get("event_id"), slack_user_id=body["user"]["id"], details=details,
        )
    except FormProblems as problems:
        ack(response_action="errors", errors=problems.problems)
        return
    except UserError as error:
        ack(response_action="errors", errors={"title": str(error)})
        return
    ack()
    client.chat_postEphemeral(
        channel=metadata["channel_id"], user=body["user"]["id"],
        **messages.ok(
            f"*{escape(event.title)}* is set up for this channel, "
            f"{local_date_and_time(event.starts_at, timezone=event.timezone)}. "
            "It starts on its own at that time, or when a chair types `/event start`."
        ).as_post(),
    )


SUBCOMMANDS = {"setup": open_setup_form}


def register(app: App) -> None:
    app.view(event_blocks.SETUP_CALLBACK)(save_setup_form)

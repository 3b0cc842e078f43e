"""`/event setup`: an organiser sets an event up for the channel in a modal."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import events
from bot.errors import UserError
from bot.events import FormProblems
from bot.models import utcnow
from bot.slack import messages, views
from bot.slack.text import escape, local_date_and_time
from handlers.replies import answering_problems


def open_setup_form(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id, event, chairs, presenters = events.setup_form_defaults(
            context["sessions"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"],
        )
        defaults = (views.SetupDefaults.from_event(event, chairs=chairs, presenters=presenters)
                    if event is not None else views.SetupDefaults())
        today = utcnow().astimezone(ZoneInfo(defaults.timezone))
        client.views_open(trigger_id=command["trigger_id"], view=views.event_setup(
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
        event = events.save_setup(
            context["sessions"], workspace_id=context["workspace_id"], channel_id=metadata["channel_id"],
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
    app.view(views.SETUP_CALLBACK)(save_setup_form)

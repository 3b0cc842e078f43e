"""Attendees saying which organisation they join from: one click on the welcome, or `/event organisation`."""

from __future__ import annotations

import re

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.organisations import slack as organisations_slack
from bot.organisations.blocks import CHOOSE_ORGANISATION_ACTION
from handlers import payloads
from handlers.replies import answering_problems


def choose_organisation(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                        respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        value = action.get("value") if action.get("type") == "button" else payloads.selected_value(action)
        user = body.get("user") if isinstance(body.get("user"), dict) else {}
        reply = organisations_slack.choose(context["database"], client, workspace_id=context["workspace_id"],
                                           slack_user_id=payloads.user_id(body), value=payloads.text(value),
                                           now=utcnow(), home_team_id=user.get("team_id") if isinstance(user.get("team_id"), str) else None,
                                           workspace_team_id=context.team_id)
        respond(reply.as_ephemeral())


def show_choice(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    """`/event organisation`: choose, or change, the organisation you count for."""
    ack()
    with answering_problems(respond):
        respond(organisations_slack.prompt_for(context["database"], workspace_id=context["workspace_id"],
                                               channel_id=command["channel_id"],
                                               slack_user_id=command["user_id"]).as_ephemeral())


SUBCOMMANDS = {"organisation": show_choice, "organization": show_choice}


def register(app: App) -> None:
    app.action(re.compile(f"^{CHOOSE_ORGANISATION_ACTION}:"))(choose_organisation)

"""`/event <subcommand>`: the chair's and organiser's console."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.capabilities import capabilities_for
from bot.events import slack as events_slack
from bot.slack import messages
from handlers import (
    affiliating,
    changing_plans,
    digesting,
    editing_the_programme,
    following_up,
    minding_my_data,
    moderating,
    reflecting,
    reminding,
    reporting,
    running,
    setting_up,
    speaking,
)
from handlers.replies import answering_problems

# Every subcommand takes (ack, command, context, client, respond), with `command["text"]` holding
# what follows the subcommand's name.
Subcommand = Callable[..., None]


def show_help(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    """Only what this person may do in this channel (looking them up may take a call to Slack: after the ack)."""
    ack()
    with answering_problems(respond):
        audiences = events_slack.audiences_of(context["database"], client,
                                              who_may_organise=context[setting_up.WHO_MAY_ORGANISE],
                                              workspace_id=context["workspace_id"], slack_user_id=command["user_id"],
                                              channel_id=command["channel_id"])
        respond(messages.help_message(capabilities_for(audiences), for_you=True).as_ephemeral())


SUBCOMMANDS: dict[str, Subcommand] = {
    "help": show_help,
    **setting_up.SUBCOMMANDS,
    **running.SUBCOMMANDS,
    **digesting.SUBCOMMANDS,
    **speaking.SUBCOMMANDS,
    **moderating.SUBCOMMANDS,
    **reminding.SUBCOMMANDS,
    **following_up.SUBCOMMANDS,
    **reflecting.SUBCOMMANDS,
    **affiliating.SUBCOMMANDS,
    **reporting.SUBCOMMANDS,
    **minding_my_data.SUBCOMMANDS,
    **editing_the_programme.SUBCOMMANDS,
    **changing_plans.SUBCOMMANDS,
}


def run_event_command(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    name, _, rest = (command.get("text") or "").strip().partition(" ")
    subcommand = SUBCOMMANDS.get(name.lower() or "help")
    if subcommand is None:
        ack(messages.unknown_subcommand(name).as_ephemeral())
        return
    subcommand(ack=ack, command={**command, "text": rest.strip()}, context=context, client=client, respond=respond)


def register(app: App) -> None:
    app.command("/event")(run_event_command)

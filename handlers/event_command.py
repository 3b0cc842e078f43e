"""`/event <subcommand>`: the chair's and organiser's console."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.capabilities import CAPABILITIES
from bot.slack import messages
from handlers import (
    digesting,
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

# Every subcommand takes (ack, command, context, client, respond), with `command["text"]` holding
# what follows the subcommand's name.
Subcommand = Callable[..., None]


def show_help(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack(messages.help_message(CAPABILITIES).as_ephemeral())


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
    **reporting.SUBCOMMANDS,
    **minding_my_data.SUBCOMMANDS,
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

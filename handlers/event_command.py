"""`/event <subcommand>`: the chair's and organiser's console."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext

from bot.capabilities import CAPABILITIES
from bot.slack import messages
from handlers import running, setting_up

Subcommand = Callable[..., None]


def show_help(ack: Ack, command: dict, context: BoltContext) -> None:
    ack(messages.help_message(CAPABILITIES).as_ephemeral())


SUBCOMMANDS: dict[str, Subcommand] = {
    "help": show_help,
    **setting_up.SUBCOMMANDS,
    **running.SUBCOMMANDS,
}


def run_event_command(ack: Ack, command: dict, context: BoltContext, **kwargs) -> None:  # type: ignore[no-untyped-def]
    name, _, rest = (command.get("text") or "").strip().partition(" ")
    subcommand = SUBCOMMANDS.get(name.lower() or "help")
    if subcommand is None:
        ack(messages.unknown_subcommand(name).as_ephemeral())
        return
    subcommand(ack=ack, command={**command, "text": rest.strip()}, context=context, **kwargs)


def register(app: App) -> None:
    app.command("/event")(run_event_command)

"""`/ask`: an attendee asks a question."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext

from bot import events
from bot.db import unit_of_work
from bot.slack import messages


def ask_question(ack: Ack, command: dict, context: BoltContext) -> None:
    with unit_of_work(context["sessions"]) as session:
        event = events.current_event(session, workspace_id=context["workspace_id"], channel_id=command["channel_id"])
    if event is None:
        ack(messages.no_event_in_channel(command="/ask").as_ephemeral())
        return
    # Asking, voting and moderation arrive with the Q&A feature; say so rather than drop the text.
    ack(messages.notice("Questions are not open for this event yet: please hold your question for now.").as_ephemeral())


def register(app: App) -> None:
    app.command("/ask")(ask_question)

"""Asking aloud: joining the queue to speak, and the chair bringing the next person in."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.events import slack as events_slack
from bot.questions import blocks as question_blocks
from bot.questions import slack as questions_slack
from bot.slack import messages
from handlers import payloads
from handlers.replies import answering_problems

ASK_ALOUD_WORDS = ("aloud", "raise hand", "hand")
LOWER_HAND_WORDS = ("lower", "lower hand", "unraise")


def raise_hand(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    try:
        place = questions_slack.join_speaking_queue(context["database"], workspace_id=context["workspace_id"],
                                                    channel_id=command["channel_id"], slack_user_id=command["user_id"])
    except UserError as error:
        ack(messages.notice(str(error)).as_ephemeral())
        return
    ahead = "you are next" if place == 1 else f"{place - 1} ahead of you"
    ack(messages.ok(f":raised_hand: You are in the queue to speak ({ahead}). The chair will bring you in, "
                    "and I will tell you here when they do.").as_ephemeral())


def lower_hand(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    """`/ask lower`: leave the queue to speak."""
    try:
        lowered = questions_slack.leave_speaking_queue(context["database"], workspace_id=context["workspace_id"],
                                                       channel_id=command["channel_id"],
                                                       slack_user_id=command["user_id"], now=utcnow())
    except UserError as error:
        ack(messages.notice(str(error)).as_ephemeral())
        return
    ack((messages.ok("Your hand is lowered: you are out of the queue to speak. `/ask aloud` puts it up again.")
         if lowered else messages.notice("Your hand was not raised, so there was nothing to lower.")).as_ephemeral())


def show_queue(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = events_slack.event_id_to_run(context["database"], workspace_id=context["workspace_id"],
                                                channel_id=command["channel_id"], slack_user_id=command["user_id"],
                                                action="see who is waiting to speak")
        waiting = questions_slack.speaking_queue(context["database"], event_id=event_id)
        respond(question_blocks.speaking_queue(waiting).as_ephemeral())


def bring_in_next(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        channel_id = payloads.channel_id(body)
        event_id = events_slack.event_id_to_run(context["database"], workspace_id=context["workspace_id"],
                                                channel_id=channel_id, slack_user_id=payloads.user_id(body),
                                                action="bring people in to speak")
        person, waiting = questions_slack.bring_in_next(context["database"], event_id=event_id,
                                                        channel_id=channel_id, now=utcnow())
        queue = question_blocks.speaking_queue(waiting)
        note = f"Bringing in <@{person}>.\n" if person else ""
        respond({**queue.as_ephemeral(), "replace_original": True, "text": note + queue.text})


SUBCOMMANDS = {"queue": show_queue}


def register(app: App) -> None:
    app.action(question_blocks.BRING_IN)(bring_in_next)

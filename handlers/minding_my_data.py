"""`/event privacy` and `/event forget-me`: a person sees what eventbot holds about them, or has it erased.

Both work in any channel (they are about the person, not an event), and every answer is ephemeral.
"""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.privacy import blocks as privacy_blocks
from bot.privacy import slack as privacy_slack
from bot.slack import messages
from handlers import payloads
from handlers.replies import answering_problems

CONFIRM_WORD = "confirm"


def show_my_data(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    if command.get("text"):
        ack(messages.notice("`/event privacy` takes nothing after it: it shows what eventbot holds about you.")
            .as_ephemeral())
        return
    ack()
    with answering_problems(respond):
        found = privacy_slack.holdings(context["database"], workspace_id=context["workspace_id"],
                                       slack_user_id=command["user_id"])
        sent = privacy_slack.send_holdings_file(client, found=found) if found.known or found.items else False
        respond(privacy_blocks.holdings(found, file_sent=sent).as_ephemeral())


def forget_me(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    word = command.get("text", "").strip().lower()
    if not word:
        ack(privacy_blocks.forget_me_question().as_ephemeral())
        return
    if word != CONFIRM_WORD:
        ack(messages.notice("Nothing was erased. To be forgotten, type `/event forget-me` and confirm.")
            .as_ephemeral())
        return
    ack()
    _forget(context, respond, slack_user_id=command["user_id"], replace=False)


def forget_me_pressed(ack: Ack, body: dict, action: dict, context: BoltContext, respond: Respond) -> None:
    slack_user_id = None
    ack()
    with answering_problems(respond):
        # The button says what it is for: a tampered or stale one erases nothing.
        payloads.fields(action.get("value"), "confirm")
        slack_user_id = payloads.user_id(body)
    if slack_user_id is not None:
        _forget(context, respond, slack_user_id=slack_user_id, replace=True)


def _forget(context: BoltContext, respond: Respond, *, slack_user_id: str, replace: bool) -> None:
    with answering_problems(respond):
        done = privacy_slack.forget(context["database"], workspace_id=context["workspace_id"],
                                    slack_user_id=slack_user_id, now=utcnow())
        respond({**privacy_blocks.forgotten(done).as_ephemeral(), "replace_original": replace})


SUBCOMMANDS = {"privacy": show_my_data, "forget-me": forget_me}


def register(app: App) -> None:
    app.action(privacy_blocks.FORGET_ME_ACTION)(forget_me_pressed)

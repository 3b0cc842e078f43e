"""After the event: owners hand over or decline their follow-ups, and chairs see the ledger (`/event followups`)."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.questions import follow_up_blocks
from bot.questions import slack as questions_slack
from bot.questions.follow_ups import ledger_csv
from bot.slack.dm import send_to_dm
from bot.slack.text import escape
from handlers import payloads
from handlers.replies import answering_problems, open_form


def show_follow_ups(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event, rows, everything = questions_slack.follow_up_ledger(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"], on=payloads.only_a_day(command, usage="/event followups"),
            client=client, now=utcnow())
        whose = "Every owner's questions." if everything else "Your part of the ledger."
        respond(follow_up_blocks.ledger(event_title=event.title, timezone=event.timezone, rows=rows, now=utcnow(),
                                        whose=whose).as_ephemeral())
        send_to_dm(client, user_id=command["user_id"], filename=f"follow-ups-event-{event.id}.csv",
                   content=ledger_csv(rows, timezone=event.timezone), title=f"Follow-ups: {event.title}",
                   comment=f"{len(rows)} follow-ups from {escape(event.title)}.")


def open_hand_over_form(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                        respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        card = questions_slack.card_to_follow_up(context["database"], workspace_id=context["workspace_id"],
                                                 question_id=payloads.positive_id(action.get("value")),
                                                 slack_user_id=payloads.user_id(body))
        open_form(client, respond, trigger_id=body.get("trigger_id"), view=follow_up_blocks.hand_over_form(card))


def open_decline_form(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                      respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        card = questions_slack.card_to_follow_up(context["database"], workspace_id=context["workspace_id"],
                                                 question_id=payloads.positive_id(action.get("value")),
                                                 slack_user_id=payloads.user_id(body))
        open_form(client, respond, trigger_id=body.get("trigger_id"), view=follow_up_blocks.decline_form(card))


def submit_hand_over(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    try:
        questions_slack.hand_over(
            context["database"], workspace_id=context["workspace_id"],
            question_id=payloads.positive_id(payloads.metadata(view, "question_id")["question_id"]),
            by_slack_id=payloads.user_id(body), to_slack_id=payloads.form_values(view).get("to") or "", now=utcnow())
    except UserError as error:
        ack(response_action="errors", errors={"to": str(error)})
        return
    ack()


def submit_decline(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    try:
        questions_slack.decline(
            context["database"], workspace_id=context["workspace_id"],
            question_id=payloads.positive_id(payloads.metadata(view, "question_id")["question_id"]),
            by_slack_id=payloads.user_id(body), reason=payloads.form_values(view).get("reason") or "", now=utcnow())
    except UserError as error:
        ack(response_action="errors", errors={"reason": str(error)})
        return
    ack()


SUBCOMMANDS = {"followups": show_follow_ups}


def register(app: App) -> None:
    app.action(follow_up_blocks.HAND_OVER)(open_hand_over_form)
    app.action(follow_up_blocks.DECLINE)(open_decline_form)
    app.view(follow_up_blocks.HAND_OVER_CALLBACK)(submit_hand_over)
    app.view(follow_up_blocks.DECLINE_CALLBACK)(submit_decline)

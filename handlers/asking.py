"""`/ask`, the ask form, and "Add as a question": attendees asking questions."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.questions import blocks as question_blocks
from bot.questions import slack as questions_slack
from bot.slack import messages
from handlers import payloads, speaking
from handlers.replies import answering_problems, open_form, tell

logger = logging.getLogger(__name__)

ADD_AS_QUESTION_SHORTCUT = "add_as_question"


def ask_question(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    text = (command.get("text") or "").strip()
    if text.lower() in speaking.ASK_ALOUD_WORDS:
        speaking.raise_hand(ack, command, context, client, respond)
        return
    if text.lower() in speaking.LOWER_HAND_WORDS:
        speaking.lower_hand(ack, command, context, client, respond)
        return
    if text.lower() == "top":
        show_top_questions(ack, command, context, client, respond)
        return
    if not text:
        _open_ask_form(ack, command, context, client, respond)
        return
    # Checked before the ack, stored after it: the asker hears at once whether their question is
    # fine, the writes do not hold up the acknowledgement in a burst, and "posted" is said only
    # once the question and its card are committed. Journalled in between, so a process killed
    # before the commit leaves it to the next (bot/questions/intake.py).
    try:
        questions_slack.check_can_ask(context["database"], workspace_id=context["workspace_id"],
                                      channel_id=command["channel_id"], text=text)
    except UserError as error:
        ack(messages.notice(str(error)).as_ephemeral())
        return
    with context["asks"].taking(workspace_id=context["workspace_id"], channel_id=command["channel_id"],
                                asker_slack_id=command["user_id"], text=text, response_url=command.get("response_url")):
        ack()
        with answering_problems(respond):
            question = questions_slack.ask(
                context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
                asker_slack_id=command["user_id"], text=text, now=utcnow())
            respond(question_blocks.asked(question.status).as_ephemeral())


def show_top_questions(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    """`/ask top`: anyone sees the leading questions."""
    ack()
    with answering_problems(respond):
        respond(questions_slack.top_questions(context["database"], workspace_id=context["workspace_id"],
                                              channel_id=command["channel_id"]).as_ephemeral())


def _open_ask_form(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    try:
        presenters = questions_slack.presenters_of(context["database"], workspace_id=context["workspace_id"],
                                                   channel_id=command["channel_id"])
    except UserError as error:
        ack(messages.notice(str(error)).as_ephemeral())
        return
    ack()
    open_form(client, respond, trigger_id=command.get("trigger_id"),
              view=question_blocks.ask_form(channel_id=command["channel_id"], presenters=presenters))


def submit_ask_form(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    try:
        channel_id = payloads.slack_id(payloads.metadata(view, "channel_id")["channel_id"], what="channel it is for")
        user_id = payloads.user_id(body)
        values = payloads.form_values(view)
        question = questions_slack.ask(
            context["database"], workspace_id=context["workspace_id"], channel_id=channel_id, asker_slack_id=user_id,
            text=values.get("question") or "", anonymous="anonymous" in (values.get("anonymous") or []),
            organisation_shared="share_organisation" in (values.get("anonymous") or []),
            for_presenter_slack_id=values.get("for_presenter"), now=utcnow())
        status = question.status
    except UserError as error:
        ack(response_action="errors", errors={"question": str(error)})
        return
    ack()
    tell(client, channel_id=channel_id, user_id=user_id, message=question_blocks.asked(status))


def add_message_as_question(ack: Ack, shortcut: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    message = shortcut.get("message")
    if not isinstance(message, dict) or not message.get("user") or message.get("bot_id"):
        respond(messages.notice("Only a person's message can become a question.").as_ephemeral())
        return
    with answering_problems(respond):
        asker = payloads.slack_id(message.get("user"), what="person wrote the message")
        questions_slack.ask(
            context["database"], workspace_id=context["workspace_id"], channel_id=payloads.channel_id(shortcut),
            asker_slack_id=asker, text=payloads.text(message.get("text")),
            source_message_ts=payloads.message_ts(message.get("ts")), now=utcnow())
        respond(messages.ok(f"Added as a question, credited to <@{asker}>.").as_ephemeral())


def register(app: App) -> None:
    app.command("/ask")(ask_question)
    app.view(question_blocks.ASK_CALLBACK)(submit_ask_form)
    app.shortcut(ADD_AS_QUESTION_SHORTCUT)(add_message_as_question)

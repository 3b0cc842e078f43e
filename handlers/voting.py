"""Upvoting a question on its card."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond

from bot import questions
from bot.db import unit_of_work
from bot.errors import UserError
from bot.models import utcnow
from bot.slack import messages, question_blocks


def upvote(ack: Ack, body: dict, action: dict, context: BoltContext, respond: Respond) -> None:
    ack()
    question_id = int(action["value"])
    try:
        with unit_of_work(context["sessions"]) as session:
            questions.toggle_vote(session, workspace_id=context["workspace_id"], question_id=question_id,
                                  voter_slack_id=body["user"]["id"], now=utcnow())
    except UserError as error:
        respond(messages.notice(str(error)).as_ephemeral())
        return
    context["cards"].mark(question_id)


def register(app: App) -> None:
    app.action(question_blocks.UPVOTE)(upvote)

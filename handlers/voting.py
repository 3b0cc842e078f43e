"""Upvoting a question on its card."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond

from bot.clock import utcnow
from bot.questions import blocks as question_blocks
from bot.questions.votes import Click
from bot.slack import messages
from handlers import payloads
from handlers.replies import answering_problems


def upvote(ack: Ack, body: dict, action: dict, context: BoltContext, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        context["votes"].submit(Click(
            workspace_id=context["workspace_id"], question_id=payloads.positive_id(action.get("value")),
            voter_slack_id=payloads.user_id(body), at=utcnow(),
            tell=lambda answer: respond(messages.notice(answer).as_ephemeral()),
        ))


def register(app: App) -> None:
    app.action(question_blocks.UPVOTE)(upvote)

"""Chairs and moderators working the question cards: answered, answer in thread, follow-up,
dismiss, merge, approve, and naming moderators."""

from __future__ import annotations

import re

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.questions import blocks as question_blocks
from bot.questions import rules as questions
from bot.questions import slack as questions_slack
from bot.slack import messages
from handlers import payloads
from handlers.replies import answering_problems, open_form

MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def _question_id(action: dict) -> int:
    """A card's buttons carry the question id; its overflow menu "dismiss:<id>" or "merge:<id>"."""
    if "value" in action:
        return payloads.positive_id(action["value"])
    return payloads.positive_id(payloads.selected_value(action).partition(":")[2])


def _change_and_redraw(change, body: dict, action: dict, context: BoltContext, client: WebClient,  # type: ignore[no-untyped-def]
                       respond: Respond) -> None:
    """Apply a one-click moderation (`change` is a rules function) and redraw the card."""
    with answering_problems(respond):
        questions_slack.moderate(context["database"], change, workspace_id=context["workspace_id"],
                                 question_id=_question_id(action), by_slack_id=payloads.user_id(body), now=utcnow())


def mark_answered_live(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    _change_and_redraw(questions.mark_answered_live, body, action, context, client, respond)


def keep_for_follow_up(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    _change_and_redraw(questions.keep_for_follow_up, body, action, context, client, respond)


def approve(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        chair = payloads.user_id(body)
        questions_slack.approve(context["database"], workspace_id=context["workspace_id"],
                                question_id=_question_id(action), by_slack_id=chair, now=utcnow())
        respond({**messages.ok(f"Approved by <@{chair}>: it is now in the channel.").as_ephemeral(),
                 "replace_original": True})


def open_answer_form(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        card = questions_slack.card_to_answer(context["database"], workspace_id=context["workspace_id"],
                                              question_id=_question_id(action), slack_user_id=payloads.user_id(body))
        open_form(client, respond, trigger_id=body.get("trigger_id"), view=question_blocks.answer_form(card))


def moderate_from_menu(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                       respond: Respond) -> None:
    """The card's overflow (and the Home tab's queue): one click for answered live, follow-up and
    approve, a form for the rest."""
    try:
        choice = payloads.selected_value(action).partition(":")[0]
    except payloads.OutOfDate:
        choice = ""  # answered below, as out of date, once acknowledged
    if choice == "answered_live":
        mark_answered_live(ack, body, action, context, client, respond)
    elif choice == "follow_up":
        keep_for_follow_up(ack, body, action, context, client, respond)
    elif choice == "answer":
        open_answer_form(ack, body, action, context, client, respond)
    elif choice == "approve":
        approve(ack, body, action, context, client, respond)
    else:
        open_more_form(ack, body, action, context, client, respond)


def open_more_form(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    """Dismiss… or Merge into… (from the card's overflow, or the approval request's Dismiss…), behind a modal."""
    ack()
    with answering_problems(respond):
        choice = ("dismiss" if action["action_id"] == question_blocks.DISMISS
                  else payloads.selected_value(action).partition(":")[0])
        if choice not in ("dismiss", "merge"):
            raise payloads.OutOfDate("that menu has no such choice")
        card, candidates = questions_slack.card_to_moderate(
            context["database"], workspace_id=context["workspace_id"], question_id=_question_id(action),
            slack_user_id=payloads.user_id(body))
        if choice == "merge":
            if not candidates:
                raise questions.QuestionError("There is no other open question to merge this one into.")
            view = question_blocks.merge_form(card, candidates)
        else:
            view = question_blocks.dismiss_form(card)
        open_form(client, respond, trigger_id=body.get("trigger_id"), view=view)


def _submitted_question_id(view: dict) -> int:
    return payloads.positive_id(payloads.metadata(view, "question_id")["question_id"])


def submit_answer(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    try:
        questions_slack.answer(context["database"], workspace_id=context["workspace_id"],
                               question_id=_submitted_question_id(view), by_slack_id=payloads.user_id(body),
                               text=payloads.form_values(view).get("answer") or "", now=utcnow())
    except UserError as error:
        ack(response_action="errors", errors={"answer": str(error)})
        return
    ack()


def submit_dismissal(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    try:
        questions_slack.dismiss(context["database"], workspace_id=context["workspace_id"],
                                question_id=_submitted_question_id(view), by_slack_id=payloads.user_id(body),
                                reason=payloads.form_values(view).get("reason") or "", now=utcnow())
    except UserError as error:
        ack(response_action="errors", errors={"reason": str(error)})
        return
    ack()


def submit_merge(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    try:
        questions_slack.merge(context["database"], workspace_id=context["workspace_id"],
                              question_id=_submitted_question_id(view),
                              into_question_id=payloads.positive_id(payloads.form_values(view).get("into")),
                              by_slack_id=payloads.user_id(body), now=utcnow())
    except UserError as error:
        ack(response_action="errors", errors={"into": str(error)})
        return
    ack()


def name_moderator(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        mentioned = MENTION.findall(command.get("text") or "")
        if not mentioned:
            raise questions.QuestionError("Name the moderator: `/event moderator @name`.")
        questions_slack.name_moderators(context["database"], workspace_id=context["workspace_id"],
                                        channel_id=command["channel_id"], by_slack_id=command["user_id"],
                                        moderator_slack_ids=mentioned)
        respond(messages.ok(" ".join(f"<@{u}>" for u in mentioned) + " can now moderate questions.").as_ephemeral())


def switch_approval(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        word = (command.get("text") or "").strip().lower()
        if word not in ("on", "off"):
            raise questions.QuestionError("Use `/event approval on` (questions wait for a chair) or `/event approval off`.")
        questions_slack.set_approval_mode(context["database"], workspace_id=context["workspace_id"],
                                          channel_id=command["channel_id"], by_slack_id=command["user_id"],
                                          on=word == "on")
        respond(messages.ok("New questions now wait for a chair's approval." if word == "on"
                            else "New questions now go straight to the channel.").as_ephemeral())


SUBCOMMANDS = {"moderator": name_moderator, "approval": switch_approval}


def register(app: App) -> None:
    app.action(question_blocks.ANSWERED_LIVE)(mark_answered_live)
    app.action(question_blocks.FOLLOW_UP)(keep_for_follow_up)
    app.action(question_blocks.APPROVE)(approve)
    app.action(question_blocks.ANSWER_IN_THREAD)(open_answer_form)
    app.action(question_blocks.MORE)(moderate_from_menu)
    app.action(question_blocks.DISMISS)(open_more_form)
    app.view(question_blocks.ANSWER_CALLBACK)(submit_answer)
    app.view(question_blocks.DISMISS_CALLBACK)(submit_dismissal)
    app.view(question_blocks.MERGE_CALLBACK)(submit_merge)

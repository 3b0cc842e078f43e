"""`/event questions [open|answered|followup|all] [day]`: the chair's question digest, its pages and its CSV;
a day picks one of the channel's earlier events."""

from __future__ import annotations

import re

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.events import slack as events_slack
from bot.events.rules import split_day
from bot.questions import digest as question_digest
from bot.questions import slack as questions_slack
from bot.questions.digest import StatusFilter
from bot.questions.digest_blocks import (
    EXPORT_CSV_ACTION,
    FILTER_NAMES,
    NEXT_PAGE_ACTION,
    PREVIOUS_PAGE_ACTION,
    DigestRequest,
    digest_page,
)
from bot.slack import messages
from bot.slack.dm import send_to_dm
from bot.slack.text import escape
from handlers import payloads
from handlers.replies import answering_problems

PAGE_ACTIONS = re.compile(f"^({re.escape(PREVIOUS_PAGE_ACTION)}|{re.escape(NEXT_PAGE_ACTION)})$")


def pull_questions(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        day, words = split_day(command.get("text", ""))
        status_filter = question_digest.parse_filter(words)
        event_id = events_slack.event_id_to_read(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"], action=question_digest.ACTION, on=day, usage="/event questions",
        )
        found = questions_slack.pull_digest(context["database"], event_id=event_id, status_filter=status_filter)
        respond(digest_page(found, page=1).as_ephemeral())


def _checked_request(body: dict, action: dict, context: BoltContext) -> DigestRequest:
    """The button's request, once the clicker is known to be a chair or organiser of its event."""
    request = DigestRequest.from_value(action.get("value"))
    questions_slack.require_digest_reader(
        context["database"], workspace_id=context["workspace_id"], event_id=payloads.positive_id(request.event_id),
        slack_user_id=payloads.user_id(body),
    )
    return request


def turn_page(ack: Ack, body: dict, action: dict, context: BoltContext, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        request = _checked_request(body, action, context)
        found = questions_slack.pull_digest(context["database"], event_id=request.event_id, status_filter=request.status_filter)
        respond({**digest_page(found, page=request.page).as_ephemeral(), "replace_original": True})


def export_csv(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        request = _checked_request(body, action, context)
        found, csv_text = questions_slack.export_digest(
            context["database"], event_id=request.event_id, status_filter=request.status_filter,
            client=client, workspace_id=context["workspace_id"], now=utcnow())
        filter_name = FILTER_NAMES[request.status_filter]
        count = found.question_count
        what = "every question" if request.status_filter is StatusFilter.ALL else f"the {filter_name} questions"
        send_to_dm(
            client, user_id=payloads.user_id(body),
            filename=f"questions-event-{request.event_id}-{request.status_filter.value}.csv",
            content=csv_text, title=f"Questions: {found.title} ({filter_name})",
            comment=f"{count} {filter_name} question{'' if count == 1 else 's'} from {escape(found.title)}.",
        )
        respond(messages.ok(f"Sent {what} ({count}) to your DMs as a CSV file.").as_ephemeral())


def choose_fair_ordering(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    """`/event fair on|off`: the digest keeps organisations varied, or orders by votes alone."""
    ack()
    with answering_problems(respond):
        word = (command.get("text") or "").strip().lower()
        if word not in ("on", "off"):
            raise question_digest.DigestError("`/event fair on` keeps organisations varied in the question digest; "
                                              "`/event fair off` orders it by votes alone.")
        event_id = events_slack.event_id_to_run(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"], action="choose how questions are ordered", include_closed=True,
        )
        questions_slack.set_fair_ordering(context["database"], event_id=event_id, on=word == "on")
        respond(messages.ok(
            "Fair ordering is on: `/event questions` orders by votes, but no organisation takes more than two "
            "places in a row while another's questions wait." if word == "on"
            else "Fair ordering is off: `/event questions` orders by votes alone.").as_ephemeral())


SUBCOMMANDS = {"questions": pull_questions, "fair": choose_fair_ordering}


def register(app: App) -> None:
    app.action(PAGE_ACTIONS)(turn_page)
    app.action(EXPORT_CSV_ACTION)(export_csv)

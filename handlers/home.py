"""The Home tab: opening it, turning its pages, and running an event from it."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import utcnow
from bot.home import blocks as home_blocks
from bot.home import slack as home_slack
from bot.home.rules import HomeError
from bot.models import EventStatus
from bot.questions import digest as question_digest
from bot.questions import slack as questions_slack
from bot.questions.digest_blocks import digest_page
from bot.reminders import slack as reminders_slack
from bot.reports import blocks as report_blocks
from bot.reports import slack as reports_slack
from bot.run_of_show import blocks as run_of_show_blocks
from bot.run_of_show import slack as run_of_show_slack
from bot.slack import messages
from handlers import payloads
from handlers.replies import answering_problems, in_channel
from handlers.setting_up import WHO_MAY_ORGANISE

logger = logging.getLogger(__name__)


def show_home(event: dict, context: BoltContext, client: WebClient) -> None:
    with payloads.ignoring_malformed("an app_home_opened event"):
        user_id = payloads.slack_id(event.get("user"), what="person")
        try:
            home_slack.open_home(context["database"], client, workspace_id=context["workspace_id"],
                                 slack_user_id=user_id, now=utcnow(),
                                 may_organise=context[WHO_MAY_ORGANISE].may_organise(client, user_id))
        except SlackApiError as error:
            # Nobody to answer: the tab shows what it showed before, and opening it again retries.
            logger.warning("Slack would not show %s the Home tab: %s", user_id, error.response.get("error"))


def turn_page(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        home_slack.turn_page(context["database"], client, workspace_id=context["workspace_id"],
                             slack_user_id=payloads.user_id(body), now=utcnow(),
                             request=payloads.fields(action.get("value"), "list", "page"))


def _event(body: dict, action: dict, context: BoltContext, what: str) -> home_slack.EventToRun:
    event_id = payloads.positive_id(payloads.fields(action.get("value"), "event_id")["event_id"])
    return home_slack.event_to_run(context["database"], workspace_id=context["workspace_id"], event_id=event_id,
                                   slack_user_id=payloads.user_id(body), action=what)


def run_session(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                respond: Respond) -> None:
    """Start the session, or move it to its next agenda item: `/event start` and `/event next`."""
    ack()
    with answering_problems(respond):
        user = payloads.user_id(body)
        found = _event(body, action, context, "run the session")
        there = in_channel(client, channel_id=found.channel_id, user_id=user)
        if found.status == EventStatus.SCHEDULED:
            started = run_of_show_slack.start_event(
                context["database"], client, event_id=found.event_id, now=utcnow(), by_chair=True,
                exclude_from_attendees=frozenset(filter(None, [context.bot_user_id])))
            if started:
                reminders_slack.follow_close(context["database"], event_id=found.event_id)
            there((messages.ok("The session has started: the welcome is posted.") if started
                   else messages.notice("The session has already started.")).as_ephemeral())
        elif found.status == EventStatus.LIVE:
            with answering_problems(there):
                outcome = run_of_show_slack.announce_next_segment(context["database"], event_id=found.event_id,
                                                                  now=utcnow(), by_chair=user)
                there(run_of_show_blocks.next_item_reply(outcome).as_ephemeral())
        else:
            raise HomeError("That session has closed: there is nothing more to run.")


def pull_question_digest(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                         respond: Respond) -> None:
    """`/event questions` for the event on the button, in its channel."""
    ack()
    with answering_problems(respond):
        found = _event(body, action, context, question_digest.ACTION)
        digest = questions_slack.pull_digest(context["database"], event_id=found.event_id,
                                             status_filter=question_digest.parse_filter(""))
        in_channel(client, channel_id=found.channel_id, user_id=payloads.user_id(body))(
            digest_page(digest, page=1).as_ephemeral())


def pull_report(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient,
                respond: Respond) -> None:
    """`/event report` for the event on the button: the summary and the exports in the person's DM."""
    ack()
    with answering_problems(respond):
        user = payloads.user_id(body)
        event_id = payloads.positive_id(payloads.fields(action.get("value"), "event_id")["event_id"])
        found = home_slack.report_of(context["database"], workspace_id=context["workspace_id"], event_id=event_id,
                                     slack_user_id=user)
        respond(report_blocks.summary(found).as_ephemeral())
        reports_slack.send_exports(client, found=found, user_id=user)


def register(app: App) -> None:
    app.event("app_home_opened")(show_home)
    app.action(home_blocks.PAGE_PREVIOUS)(turn_page)
    app.action(home_blocks.PAGE_NEXT)(turn_page)
    app.action(home_blocks.RUN_SESSION)(run_session)
    app.action(home_blocks.QUESTION_DIGEST)(pull_question_digest)
    app.action(home_blocks.REPORT)(pull_report)

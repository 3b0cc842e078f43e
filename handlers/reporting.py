"""`/event report [day]`: after the close, organisers and chairs see what happened, with a chart and exports;
a day (`/event report 2026-11-12`) picks one of the channel's earlier events."""

from __future__ import annotations

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.reports import blocks as report_blocks
from bot.reports import slack as reports_slack
from handlers.payloads import only_a_day
from handlers.replies import answering_problems


def pull_report(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        day = only_a_day(command, usage="/event report")
        found = reports_slack.report_for(context["database"], workspace_id=context["workspace_id"],
                                         channel_id=command["channel_id"], slack_user_id=command["user_id"], on=day)
        respond(report_blocks.summary(found).as_ephemeral())
        reports_slack.send_exports(client, found=found, user_id=command["user_id"])


SUBCOMMANDS = {"report": pull_report}

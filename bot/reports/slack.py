"""The event report for the listeners: its figures, its chart, and the exports sent to a DM."""

from __future__ import annotations

from datetime import date

from slack_sdk import WebClient

from bot.db import Database, reading
from bot.events import people
from bot.events.rules import event_to_read
from bot.reports.chart import chart_png
from bot.reports.rules import ACTION, Report, report, report_csv, report_markdown
from bot.slack.dm import send_to_dm
from bot.slack.text import escape


def report_for(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str,
               on: date | None = None) -> Report:
    """The report of the channel's event held on the day `on`, or of its latest."""
    with reading(database) as session:
        event = event_to_read(session, workspace_id=workspace_id, channel_id=channel_id, on=on, usage="/event report")
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action=ACTION)
        return report(session, event=event)


def send_exports(client: WebClient, *, found: Report, user_id: str) -> None:
    """The chart as an image, and the report as Markdown and CSV, in the person's DM."""
    stem = f"report-event-{found.event_id}"
    send_to_dm(client, user_id=user_id, filename=f"{stem}.png", content=chart_png(found),
               title=f"Report: {found.title}", comment=f"Participation and question outcomes at {escape(found.title)}.")
    send_to_dm(client, user_id=user_id, filename=f"{stem}.md", content=report_markdown(found),
               title=f"Report: {found.title} (Markdown)", comment="The report as Markdown.")
    send_to_dm(client, user_id=user_id, filename=f"{stem}.csv", content=report_csv(found),
               title=f"Report: {found.title} (CSV)", comment="The report's figures as CSV.")


"""Home for the listeners: drawing the tab when someone opens it or turns a page, and finding the
event a Home button acts on (once the person is known to run it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import Database, reading, unit_of_work
from bot.home import posts, rules
from bot.models import EventStatus, HomeTab
from bot.reports.rules import ACTION as REPORT_ACTION
from bot.reports.rules import Report, report


@dataclass(frozen=True)
class EventToRun:
    event_id: int
    channel_id: str
    status: EventStatus


def open_home(database: Database, client: WebClient, *, workspace_id: int, slack_user_id: str, may_organise: bool,
              now: datetime) -> None:
    """Draw the person's Home, then record that they look at it (so it follows changes from now on).

    A tab Slack would not show is not recorded: opening it again retries, and nothing was changed.
    """
    with reading(database) as session:
        view = posts.render(session, workspace_id=workspace_id, slack_user_id=slack_user_id, now=now,
                            may_organise=may_organise)
    client.views_publish(user_id=slack_user_id, view=view)
    with unit_of_work(database) as session:
        person = rules.opened(session, workspace_id=workspace_id, slack_user_id=slack_user_id, now=now)
        session.scalars(select(HomeTab).where(HomeTab.person_id == person.id)).one().may_organise = may_organise


def turn_page(database: Database, client: WebClient, *, workspace_id: int, slack_user_id: str, request: Any,
              now: datetime) -> None:
    """Show another page of one of Home's lists; a stale or altered button changes nothing."""
    name, page = rules.check_page_request(request)
    with unit_of_work(database) as session:
        rules.turn_page(session, workspace_id=workspace_id, slack_user_id=slack_user_id, name=name, page=page,
                        now=now)
        view = posts.render(session, workspace_id=workspace_id, slack_user_id=slack_user_id, now=now)
    client.views_publish(user_id=slack_user_id, view=view)


def event_to_run(database: Database, *, workspace_id: int, event_id: int, slack_user_id: str,
                 action: str) -> EventToRun:
    with reading(database) as session:
        event = rules.event_to_run(session, workspace_id=workspace_id, event_id=event_id,
                                   slack_user_id=slack_user_id, action=action)
        return EventToRun(event_id=event.id, channel_id=event.channel_id, status=event.status)


def report_of(database: Database, *, workspace_id: int, event_id: int, slack_user_id: str) -> Report:
    """`/event report`'s figures for the event a Home button names."""
    with reading(database) as session:
        event = rules.event_to_run(session, workspace_id=workspace_id, event_id=event_id,
                                   slack_user_id=slack_user_id, action=REPORT_ACTION)
        return report(session, event=event)

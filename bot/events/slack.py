"""Events in Slack: the transactions behind the setup form and the console, and enrolling a channel."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import Database, unit_of_work
from bot.events import people
from bot.events.rules import (
    CURRENT_STATUSES,
    EventDetails,
    NoEventHere,
    create_event,
    current_event,
    event_to_run,
    update_event,
)
from bot.models import Event, Role

logger = logging.getLogger(__name__)


def event_id_to_run(
    database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str, action: str,
    include_closed: bool = False,
) -> int:
    """`event_to_run` in a transaction of its own, for callers that go on to talk to Slack."""
    with unit_of_work(database) as session:
        return event_to_run(
            session, workspace_id=workspace_id, channel_id=channel_id, slack_user_id=slack_user_id,
            action=action, include_closed=include_closed,
        ).id


def setup_form_defaults(
    database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str
) -> tuple[int | None, Event | None, list[str], list[str]]:
    """What the setup form starts from: the channel's current event if the person may change it.

    Anyone may set up an event in a channel that has none (and becomes its organiser); only the
    event's organisers and chairs may change one that exists.
    """
    with unit_of_work(database) as session:
        event = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
        if event is None:
            return None, None, [], []
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action="change this event")
        chairs = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.CHAIR)]
        presenters = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.PRESENTER)]
        return event.id, event, chairs, presenters


def save_setup(
    database: Database, *, workspace_id: int, channel_id: str, event_id: int | None,
    slack_user_id: str, details: EventDetails,
) -> Event:
    """Create the channel's event, or change it when the form was opened on an existing one."""
    with unit_of_work(database) as session:
        if event_id is None:
            return create_event(session, workspace_id=workspace_id, channel_id=channel_id,
                                organiser_slack_id=slack_user_id, details=details)
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id or event.status not in CURRENT_STATUSES:
            raise NoEventHere("That event has closed or been removed, so it cannot be changed.")
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action="change this event")
        return update_event(session, event=event, details=details)


def enrol_joiner(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str) -> bool:
    """Make someone who joined a channel an attendee of its current event, if it has one."""
    with unit_of_work(database) as session:
        event = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
        if event is None:
            return False
        people.add_attendees(session, event=event, slack_user_ids=[slack_user_id])
        return True


def enrol_channel_members(
    database: Database, client: WebClient, *, event_id: int, channel_id: str, exclude: frozenset[str]
) -> None:
    """Everyone in the channel now (but the excluded, e.g. the app itself) is an attendee.

    Called when the session opens and before a reminder fans out; joiners are added as they come.
    """
    members: list[str] = []
    try:
        for page in client.conversations_members(channel=channel_id, limit=200):
            members.extend(page["members"])
    except SlackApiError as error:
        logger.warning("could not list members of %s: %s", channel_id, error.response.get("error"))
        return
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        people.add_attendees(session, event=event, slack_user_ids=[m for m in members if m not in exclude])

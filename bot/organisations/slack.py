"""Organisations for the listeners: a person's one-click choice, and the prompt to make it."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import Database, unit_of_work
from bot.events import people
from bot.events.rules import NoEventHere, latest_event
from bot.models import Event, Role
from bot.organisations import blocks, rules
from bot.organisations.rules import OrganisationError, OrganisationFigures
from bot.slack.messages import Message

logger = logging.getLogger(__name__)


def _parse(value: str) -> tuple[int, int | None]:
    try:
        parsed = json.loads(value)
        event_id, index = parsed["event_id"], parsed["partner"]
    except (ValueError, TypeError, KeyError):
        raise OrganisationError("That choice is out of date: use `/event organisation` to choose again.") from None
    if not isinstance(event_id, int) or not (index is None or (isinstance(index, int) and index >= 0)):
        raise OrganisationError("That choice is out of date: use `/event organisation` to choose again.")
    return event_id, index


def choose(database: Database, client: WebClient, *, workspace_id: int, slack_user_id: str, value: str,
           now: datetime, home_team_id: str | None = None, workspace_team_id: str | None = None) -> Message:
    """Record a click on an organisation (or "prefer not to say"), and say what was recorded.

    Someone from another workspace in a shared channel (Slack Connect) counts for the workspace
    they come from, whichever partner they clicked; "prefer not to say" is still theirs to choose.
    """
    event_id, index = _parse(value)
    home = None
    if index is not None and home_team_id and workspace_team_id and home_team_id != workspace_team_id:
        home = _team_name(client, home_team_id)
    with unit_of_work(database) as session:
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id:
            raise OrganisationError("That event no longer exists.")
        partners = list(event.partner_organisations)
        if index is not None and index >= len(partners):
            raise OrganisationError("The event's partner list has changed: use `/event organisation` to choose again.")
        person = people.person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
        # Answering the welcome is taking part: someone who joined late is at the event from now on.
        people.grant(session, event=event, person=person, role=Role.ATTENDEE)
        if home is not None:
            organisation = rules.choose(session, event=event, person=person, organisation=home, now=now,
                                        source="slack_connect")
            return blocks.chosen(organisation, event.title, own_workspace=True)
        organisation = rules.choose(session, event=event, person=person,
                                    organisation=partners[index] if index is not None else None, now=now)
        return blocks.chosen(organisation, event.title)


def _team_name(client: WebClient, team_id: str) -> str:
    """A shared channel's other workspace by name; its id if Slack will not say (still one group)."""
    try:
        name = client.team_info(team=team_id)["team"]["name"]
    except (SlackApiError, KeyError, TypeError) as error:
        logger.warning("team.info for %s: %s", team_id, getattr(error, "response", {}) and error.response.get("error"))
        return team_id
    return name if isinstance(name, str) and name.strip() else team_id


def prompt_for(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str) -> Message:
    """`/event organisation`: the choice for this channel's event, showing the current one."""
    with unit_of_work(database) as session:
        event = latest_event(session, workspace_id=workspace_id, channel_id=channel_id)
        if event is None:
            raise NoEventHere("There is no event in this channel yet.")
        if not event.partner_organisations:
            raise OrganisationError("This event has no partner organisations to choose from. An organiser can list "
                                    "them (`partners` in a programme file).")
        person = people.person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
        current = rules.organisations_of(session, event=event, person_ids={person.id}).get(person.id)
        return blocks.choice_prompt(event.id, event.title, list(event.partner_organisations), current=current)


def figures_of(database: Database, *, event_id: int) -> OrganisationFigures:
    with unit_of_work(database) as session:
        return rules.figures(session, event_id=event_id)

"""The programme editor's transactions, and programme files sent and received in Slack.

Only organisers edit a programme: the event's own organisers, and whoever may set events up
(`WhoMayOrganise`, which may ask Slack, so it is asked before any transaction opens).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient

from bot.db import Database, unit_of_work
from bot.errors import UserError
from bot.events import people
from bot.events.rules import NoEventHere, current_event
from bot.events.slack import WhoMayOrganise
from bot.models import Role
from bot.programme import blocks
from bot.programme import rules as programme
from bot.programme.importing import import_programme
from bot.programme.parsing import parse_programme
from bot.programme.plan import format_plan
from bot.programme.schema import Problem, ProgrammeError
from bot.slack.dm import FileUnreadable, read_shared_file, send_to_dm


@dataclass(frozen=True)
class Opened:
    editable: programme.Editable
    title: str


def event_in_channel(database: Database, *, workspace_id: int, channel_id: str) -> int:
    with unit_of_work(database) as session:
        event = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
        if event is None:
            raise NoEventHere("There is no event in this channel yet. An organiser can set one up here with "
                              "`/event setup`, then build its programme with `/event programme`.")
        return event.id


def open_programme(database: Database, client: WebClient, *, who_may_organise: WhoMayOrganise, workspace_id: int,
                   event_id: int, slack_user_id: str) -> Opened:
    """The programme as stored, for an organiser of the event."""
    with unit_of_work(database) as session:
        event = programme.event_to_edit(session, event_id=event_id, workspace_id=workspace_id)
        roles = people.roles_of(session, event=event, slack_user_id=slack_user_id)
        title = event.title
    # Asking Slack whether someone is an admin happens outside any transaction.
    if Role.ORGANISER not in roles and not who_may_organise.may_organise(client, slack_user_id):
        raise people.NotAllowed(f"Only an organiser of {title} can change its programme.")
    with unit_of_work(database) as session:
        event = programme.event_to_edit(session, event_id=event_id, workspace_id=workspace_id)
        return Opened(programme.editable(session, event=event), event.title)


def change_programme(database: Database, client: WebClient, *, who_may_organise: WhoMayOrganise, workspace_id: int,
                     event_id: int, slack_user_id: str, change: Callable[[programme.Editable], programme.Change],
                     now: datetime) -> Opened:
    """Make one change to the programme, checked whole, in one transaction; the programme after it.

    Raises programme.ProgrammeProblems or programme.NotEditable, with nothing written.
    """
    open_programme(database, client, who_may_organise=who_may_organise, workspace_id=workspace_id,
                   event_id=event_id, slack_user_id=slack_user_id)
    with unit_of_work(database) as session:
        event = programme.event_to_edit(session, event_id=event_id, workspace_id=workspace_id)
        # The change is made to the programme as it is now, not as the form showed it.
        before = programme.editable(session, event=event)
        programme.apply(session, event=event, before=before, change=change(before), now=now)
    with unit_of_work(database) as session:
        event = programme.event_to_edit(session, event_id=event_id, workspace_id=workspace_id)
        return Opened(programme.editable(session, event=event), event.title)


def export_programme(database: Database, client: WebClient, *, who_may_organise: WhoMayOrganise,
                     workspace_id: int, event_id: int, slack_user_id: str) -> str:
    """Send the programme to the organiser's DM as a programme file; returns the file's name."""
    opened = open_programme(database, client, who_may_organise=who_may_organise, workspace_id=workspace_id,
                            event_id=event_id, slack_user_id=slack_user_id)
    filename = f"programme-{opened.editable.document['event']['date'].isoformat()}.toml"
    send_to_dm(client, user_id=slack_user_id, filename=filename,
               content=programme.to_toml(opened.editable.document, title=opened.title),
               title=f"Programme: {opened.title}", comment=blocks.exported(title=opened.title))
    return filename


def take_programme_file(database: Database, client: WebClient, *, who_may_organise: WhoMayOrganise,
                        workspace_id: int, slack_user_id: str, file_id: str, now: datetime) -> str:
    """A programme file sent to the app's DM: checked and imported as `eventbot event import` does,
    or, when its channel already has an event, made that event's programme. Returns what to answer,
    in the command line's words; raises nothing a person should not read."""
    try:
        shared = read_shared_file(client, file_id=file_id)
    except FileUnreadable as problem:
        return f"eventbot: {problem}; nothing was changed."
    try:
        text = shared.content.decode("utf-8")
    except UnicodeDecodeError as error:
        return str(ProgrammeError([Problem(shared.name, f"is not UTF-8 text ({error.reason} at byte {error.start})")]))
    try:
        # The file's own checks, with the file's own messages (syntax errors too).
        planned = parse_programme(text, source=shared.name)
    except ProgrammeError as error:
        return str(error)
    document = tomllib.loads(text)  # it parsed, so it decodes
    channel_id = planned.channel_id
    if channel_id is None:
        return "eventbot: cannot import the programme:\n  no channel: add `channel` to [event] (the channel's ID, C…)"
    with unit_of_work(database) as session:
        event = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
        event_id = event.id if event is not None else None
    if event_id is None:
        if not who_may_organise.may_organise(client, slack_user_id):
            return "eventbot: only the people who may set events up can import a programme; nothing was changed."
        try:
            imported = import_programme(database, client, planned, channel_id=None, now=now)
        except UserError as error:
            return f"eventbot: {error}"
        lines = [f"eventbot: imported {imported.title!r} into channel {imported.channel_id} (event {imported.event_id})"]
        lines += [f"  {reference} is {slack_id}" for reference, slack_id in imported.people.items()
                  if reference != slack_id]
        return "\n".join(lines)
    try:
        opened = change_programme(
            database, client, who_may_organise=who_may_organise, workspace_id=workspace_id, event_id=event_id,
            slack_user_id=slack_user_id, now=now,
            change=lambda before: programme.replace_with_file(before, document, planned))
    except UserError as error:
        return f"eventbot: {error}"
    return (f"eventbot: the programme of {opened.title!r} in channel {channel_id} is now the file's "
            f"(event {event_id})\n\n" + format_plan(planned))

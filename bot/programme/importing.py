"""`eventbot event import`: a checked programme file becomes a channel's event.

People named by email are looked up in Slack, and the channel is checked, before anything is
written; the event, its agenda, prompts, reminders and roles are then written in one
transaction, so a file that fails half-way leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import Database, unit_of_work
from bot.errors import UserError
from bot.events import rules as events
from bot.events.slack import ChannelUnavailable, ensure_in_channel, refresh_profiles
from bot.models import AgendaSegment, Event, ReflectionPrompt, Reminder, Role
from bot.programme.schema import PersonRef, Programme
from bot.reminders.timing import render_reminder_text
from bot.workspaces import ensure_workspace


class ImportProblems(UserError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("cannot import the programme:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportedEvent:
    event_id: int
    title: str
    channel_id: str
    people: dict[str, str]  # what each reference in the file resolved to


def import_programme(
    database: Database, client: WebClient, programme: Programme, *, channel_id: str | None,
    now: datetime,
) -> ImportedEvent:
    channel = channel_id or programme.channel_id
    problems: list[str] = []
    if not channel:
        raise ImportProblems(["no channel: add `channel` to [event] or pass --channel CHANNEL_ID"])
    if programme.ends_at <= now:
        # Importing a past event would post its whole programme at once, then close it.
        problems.append("event.date: this event has already ended; set the date of the coming session")
    if not (programme.organisers or programme.chairs):
        problems.append("event.organisers: name at least one organiser or chair, who will run the event in Slack")

    team_id = client.auth_test()["team_id"]
    problems.extend(_check_channel(client, channel))
    resolved: dict[PersonRef, str] = {}
    for key, refs in (("organisers", programme.organisers), ("chairs", programme.chairs),
                      ("presenters", programme.presenters)):
        for ref in refs:
            if ref in resolved:
                continue
            slack_id, problem = _resolve(client, ref)
            if problem:
                problems.append(f"event.{key}: {problem}")
            else:
                resolved[ref] = slack_id
    if problems:
        raise ImportProblems(problems)

    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id=team_id)
        event = Event(
            workspace_id=workspace.id,
            channel_id=channel,
            title=programme.title,
            timezone=programme.timezone,
            starts_at=programme.starts_at,
            ends_at=programme.ends_at,
            evaluation_form_url=programme.evaluation_form_url,
            next_event_notice=programme.next_event,
            housekeeping_notes=list(programme.housekeeping),
            partner_organisations=list(programme.partners),
            follow_up_days=programme.follow_up_days,
            retention_days=programme.retention_days,
            questions_need_approval=programme.questions_need_approval,
            waits_for_chair=programme.waits_for_chair,
        )
        try:
            events.add_exclusively(session, event)
        except events.ChannelBusy as busy:
            raise ImportProblems([str(busy)]) from None
        for segment in programme.segments:
            session.add(AgendaSegment(
                event_id=event.id, position=segment.position, title=segment.title, kind=segment.kind,
                speakers=list(segment.speakers), scheduled_at=segment.starts_at,
            ))
        for prompt in programme.prompts:
            session.add(ReflectionPrompt(event_id=event.id, theme=prompt.theme, name=prompt.name, text=prompt.text,
                                         scheduled_at=prompt.at))
        for reminder in programme.reminders:
            session.add(Reminder(
                event_id=event.id, when_spec=reminder.when_spec, due_at=reminder.due_at,
                local_time_for_recipient=reminder.local_time_for_recipient, audience=reminder.audience,
                only_incomplete=reminder.only_incomplete, include_team=reminder.include_team,
                text=render_reminder_text(reminder.text, programme.evaluation_form_url),
                grace_minutes=reminder.grace_minutes,
            ))
        for role, refs in ((Role.ORGANISER, programme.organisers), (Role.CHAIR, programme.chairs),
                           (Role.PRESENTER, programme.presenters)):
            events.grant_all(session, event, [resolved[ref] for ref in refs], role)
        imported = ImportedEvent(event_id=event.id, title=event.title, channel_id=channel,
                                 people={str(ref): slack_id for ref, slack_id in resolved.items()})
        workspace_id = event.workspace_id
    # Names for the ask form, the CSVs and reports: each person named is looked up once.
    refresh_profiles(database, client, workspace_id=workspace_id, slack_user_ids=list(resolved.values()), now=now)
    return imported


def _check_channel(client: WebClient, channel_id: str) -> list[str]:
    """eventbot must be in the channel: it joins a public one, as `/event setup` does."""
    try:
        ensure_in_channel(client, channel_id)
    except ChannelUnavailable as problem:
        if problem.reason == "hidden":
            # From the command line a mistyped ID and a private channel look the same to Slack.
            return [f"--channel {channel_id}: Slack shows eventbot no such channel; use the channel's ID (C…), "
                    "from its details pane, and if the channel is private, type `/invite @eventbot` there first"]
        return [f"--channel {channel_id}: {problem}"]
    return []


def _resolve(client: WebClient, ref: PersonRef) -> tuple[str, str | None]:
    try:
        if ref.email:
            user = client.users_lookupByEmail(email=ref.email)["user"]
        else:
            user = client.users_info(user=ref.slack_user_id)["user"]
    except SlackApiError as error:
        code = error.response.get("error")
        if code in ("users_not_found", "user_not_found"):
            return "", f"no Slack user {ref} in this workspace"
        return "", f"could not look up {ref} ({code})"
    if user.get("deleted"):
        return "", f"{ref} is a deactivated Slack account"
    if user.get("is_bot"):
        return "", f"{ref} is a bot, not a person"
    return user["id"], None

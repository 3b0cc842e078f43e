"""Reflections for handlers: the transactions behind the share form and the chair's export."""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient

from bot import outbox
from bot.db import Database, unit_of_work
from bot.errors import NotYet
from bot.events import people
from bot.events.slack import name_the_unnamed
from bot.models import Event, ReflectionPrompt, ReflectionTheme
from bot.reflections import rules
from bot.reflections.blocks import back_to_the_room
from bot.reflections.rules import (
    ReflectionError,
    SharedReflection,
    reflections_csv,
    shared_reflections,
)


def export(database: Database, client: WebClient, *, event_id: int,
           now: datetime) -> tuple[str, list[SharedReflection], str]:
    """The event's title, its reflections, and the same as CSV text, with every named author's name
    (learnt now if need be)."""
    def read() -> tuple[Event, list[SharedReflection]]:
        with unit_of_work(database) as session:
            event = session.get_one(Event, event_id)
            return event, shared_reflections(session, event=event)

    event, shared = read()
    unnamed = [r.author_slack_id for r in shared if r.author_slack_id and not r.author_name]
    if name_the_unnamed(database, client, workspace_id=event.workspace_id, slack_user_ids=unnamed, now=now):
        event, shared = read()
    return event.title, shared, reflections_csv(shared, timezone=event.timezone)


def own_prompts(database: Database, *, event_id: int) -> tuple[str, ...]:
    """The names of the event's custom prompts, for the digest to show each, reflected on or not."""
    with unit_of_work(database) as session:
        return tuple(topic for topic in rules.topics(session, event_id=event_id)
                     if not isinstance(topic, ReflectionTheme))


def prompt_by_id(database: Database, *, workspace_id: int, prompt_id: int) -> ReflectionPrompt:
    with unit_of_work(database) as session:
        prompt = session.get(ReflectionPrompt, prompt_id)
        if prompt is None or session.get_one(Event, prompt.event_id).workspace_id != workspace_id:
            raise ReflectionError("That prompt no longer exists.")
        return prompt


def record_thread_reply(database: Database, *, workspace_id: int, channel_id: str, thread_ts: str, message_ts: str,
                        slack_user_id: str, text: str) -> None:
    with unit_of_work(database) as session:
        # Asked before the prompt is looked for. On PostgreSQL each statement sees what was
        # committed before it: a sender recording the prompt's ts in between would leave a reply
        # that neither finds its prompt nor sees a post in flight, and it would be dropped.
        in_flight = outbox.posts_in_flight(session, channel_id=channel_id, kind=rules.PROMPT_POST)
        recorded = rules.record_thread_reply(session, workspace_id=workspace_id, channel_id=channel_id,
                                             thread_ts=thread_ts, message_ts=message_ts, slack_user_id=slack_user_id,
                                             text=text)
        if recorded is None and in_flight:
            # Perhaps a reply to a prompt whose ts is not recorded yet: Slack will send it again.
            raise NotYet(f"a post to {channel_id} is still being recorded")


def edit_thread_reply(database: Database, *, workspace_id: int, channel_id: str, message_ts: str, text: str) -> None:
    with unit_of_work(database) as session:
        rules.edit_thread_reply(session, workspace_id=workspace_id, channel_id=channel_id, message_ts=message_ts,
                                text=text)


def delete_thread_reply(database: Database, *, workspace_id: int, channel_id: str, message_ts: str) -> None:
    with unit_of_work(database) as session:
        rules.delete_thread_reply(session, workspace_id=workspace_id, channel_id=channel_id, message_ts=message_ts)


def share_privately(database: Database, *, workspace_id: int, prompt_id: int, slack_user_id: str, text: str,
                    anonymous: bool) -> None:
    with unit_of_work(database) as session:
        rules.share_privately(session, workspace_id=workspace_id, prompt_id=prompt_id, slack_user_id=slack_user_id,
                              text=text, anonymous=anonymous)


def share_choices(database: Database, *, workspace_id: int, event_id: int,
                  slack_user_id: str) -> dict[rules.Topic, list[rules.Shareable]]:
    """What a chair may share back with the room, once they are known to run the event."""
    with unit_of_work(database) as session:
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id:
            raise ReflectionError("That event no longer exists.")
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action="share reflections")
        return rules.shareable(session, event_id=event_id)


def share_with_the_room(database: Database, *, workspace_id: int, event_id: int, slack_user_id: str,
                        reflection_ids: list[int], now: datetime) -> int:
    """Post the summary in the channel: counts per prompted theme, and the chosen reflections. Returns how many."""
    with unit_of_work(database) as session:
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id:
            raise ReflectionError("That event no longer exists.")
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action="share reflections")
        picked = rules.chosen(session, event_id=event_id, reflection_ids=reflection_ids)
        message = back_to_the_room(event_title=event.title, counts=rules.prompted_counts(session, event_id=event_id),
                                   picked=picked)
        outbox.notice(session, recipient=event.channel_id, message=message, now=now, workspace_id=workspace_id,
                      event_id=event.id, dedupe_key=f"reflections-shared:{event.id}:{now.timestamp():.6f}")
        return len(picked)

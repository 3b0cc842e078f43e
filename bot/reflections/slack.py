"""Reflections for handlers: the transactions behind the share form and the chair's export."""

from __future__ import annotations

from bot import outbox
from bot.db import Database, unit_of_work
from bot.errors import NotYet
from bot.models import Event, ReflectionPrompt
from bot.reflections import rules
from bot.reflections.rules import (
    ReflectionError,
    SharedReflection,
    reflections_csv,
    shared_reflections,
)


def export(database: Database, *, event_id: int) -> tuple[str, list[SharedReflection], str]:
    """The event's title, its reflections, and the same as CSV text."""
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        shared = shared_reflections(session, event=event)
        return event.title, shared, reflections_csv(shared, timezone=event.timezone)


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

"""Reflections: what attendees say in answer to the prompts, in threads or privately."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import home_tabs
from bot.clock import utcnow
from bot.errors import UserError
from bot.events import people
from bot.models import (
    Event,
    Person,
    Reflection,
    ReflectionPrompt,
    ReflectionSource,
    ReflectionTheme,
)
from bot.slack.text import too_long, visible

# As Slack shows it (escaped): see bot/slack/text.py.
# The outbox kind that posts a prompt (bot/run_of_show/posts.py): replies in its thread are reflections.
PROMPT_POST = "prompt_post"

MAX_REFLECTION_LENGTH = 2000


class ReflectionError(UserError):
    pass


# What reflections are grouped under: a ReflectionTheme for the four themes, or a custom prompt's
# name (never a theme's word: the programme's checks see to that). See ReflectionPrompt.topic.
Topic = str


def topic_key(topic: Topic) -> str:
    """As the CSV writes it: the theme's value, or the custom prompt's name."""
    return topic.value if isinstance(topic, ReflectionTheme) else topic


def topics(session: Session, *, event_id: int) -> list[Topic]:
    """The event's groups of reflections, in the order shown: the four themes, then its own prompts."""
    own = session.scalars(select(ReflectionPrompt.name).where(
        ReflectionPrompt.event_id == event_id, ReflectionPrompt.theme.is_(None)).order_by(ReflectionPrompt.id))
    return [*ReflectionTheme, *(name for name in own if name)]


@dataclass(frozen=True)
class SharedReflection:
    topic: Topic
    text: str
    # None when the author chose to stay anonymous: the digest and the CSV never see who.
    author_slack_id: str | None
    author_name: str | None
    source: ReflectionSource
    shared_at: datetime


def prompt_for_thread(session: Session, *, workspace_id: int, channel_id: str, thread_ts: str) -> ReflectionPrompt | None:
    return session.scalar(
        select(ReflectionPrompt)
        .join(Event, Event.id == ReflectionPrompt.event_id)
        .where(Event.workspace_id == workspace_id, Event.channel_id == channel_id, ReflectionPrompt.message_ts == thread_ts)
    )


def record_thread_reply(
    session: Session, *, workspace_id: int, channel_id: str, thread_ts: str, message_ts: str, slack_user_id: str, text: str
) -> Reflection | None:
    """A reply in a prompt's thread becomes a reflection; replies elsewhere are not ours."""
    prompt = prompt_for_thread(session, workspace_id=workspace_id, channel_id=channel_id, thread_ts=thread_ts)
    if prompt is None or not visible(text):
        return None
    existing = session.scalar(
        select(Reflection).where(Reflection.prompt_id == prompt.id, Reflection.message_ts == message_ts)
    )
    if existing is not None:
        return existing
    author = people.person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    reflection = Reflection(
        prompt_id=prompt.id, person_id=author.id, text=text, anonymous=False,
        source=ReflectionSource.THREAD, message_ts=message_ts,
    )
    session.add(reflection)
    session.flush()
    home_tabs.refresh_people(session, person_ids=[author.id], now=utcnow())
    return reflection


def _thread_reflection(session: Session, *, workspace_id: int, channel_id: str, message_ts: str) -> Reflection | None:
    return session.scalar(
        select(Reflection)
        .join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
        .join(Event, Event.id == ReflectionPrompt.event_id)
        .where(Event.workspace_id == workspace_id, Event.channel_id == channel_id, Reflection.message_ts == message_ts)
    )


def edit_thread_reply(session: Session, *, workspace_id: int, channel_id: str, message_ts: str, text: str) -> bool:
    """Follow an edit; False if nothing changed. Slack also reports a reply sent to the channel as
    changed just after it is posted, with the same text: that is not an edit.

    A reply edited down to nothing visible (only a file left, say) is taken back, as a deletion
    is: an empty reflection says nothing, and the text it had was withdrawn by its author.
    """
    reflection = _thread_reflection(session, workspace_id=workspace_id, channel_id=channel_id, message_ts=message_ts)
    if reflection is None or reflection.text == text:
        return False
    if not visible(text):
        return delete_thread_reply(session, workspace_id=workspace_id, channel_id=channel_id, message_ts=message_ts)
    reflection.text = text
    reflection.edited_at = utcnow()
    home_tabs.refresh_people(session, person_ids=[reflection.person_id], now=reflection.edited_at)
    return True


def delete_thread_reply(session: Session, *, workspace_id: int, channel_id: str, message_ts: str) -> bool:
    reflection = _thread_reflection(session, workspace_id=workspace_id, channel_id=channel_id, message_ts=message_ts)
    if reflection is None or reflection.deleted_at is not None:
        return False
    reflection.deleted_at = utcnow()
    home_tabs.refresh_people(session, person_ids=[reflection.person_id], now=reflection.deleted_at)
    return True


def share_privately(
    session: Session, *, workspace_id: int, prompt_id: int, slack_user_id: str, text: str, anonymous: bool
) -> Reflection:
    """A reflection shared through the modal, optionally anonymous."""
    text = text.strip()
    if not visible(text):
        raise ReflectionError("Your reflection is empty: write a few words, then share it.")
    problem = too_long(text, limit=MAX_REFLECTION_LENGTH, subject="Your reflection")
    if problem:
        raise ReflectionError(problem)
    prompt = session.get(ReflectionPrompt, prompt_id)
    if prompt is None or session.get_one(Event, prompt.event_id).workspace_id != workspace_id:
        raise ReflectionError("That prompt no longer exists.")
    author = people.person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    reflection = Reflection(
        prompt_id=prompt.id, person_id=author.id, text=text, anonymous=anonymous, source=ReflectionSource.MODAL
    )
    session.add(reflection)
    session.flush()
    home_tabs.refresh_people(session, person_ids=[author.id], now=utcnow())
    return reflection


def shared_reflections(session: Session, *, event: Event) -> list[SharedReflection]:
    """Every standing reflection of an event, by theme (then custom prompt) and time; anonymous ones without author."""
    rows = session.execute(
        select(Reflection, ReflectionPrompt, Person.slack_user_id, Person.display_name)
        .join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
        .join(Person, Person.id == Reflection.person_id)
        .where(ReflectionPrompt.event_id == event.id, Reflection.deleted_at.is_(None))
        .order_by(Reflection.created_at, Reflection.id)
    ).all()
    order = {topic: n for n, topic in enumerate(topics(session, event_id=event.id))}
    shared = [
        SharedReflection(
            topic=prompt.topic,
            text=reflection.text,
            author_slack_id=None if reflection.anonymous else slack_id,
            author_name=None if reflection.anonymous else name,
            source=reflection.source,
            shared_at=reflection.created_at,
        )
        for reflection, prompt, slack_id, name in rows
    ]
    return sorted(shared, key=lambda r: order.get(r.topic, len(order)))


def neutralise_for_spreadsheet(cell: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; a leading quote stops that."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def reflections_csv(reflections: list[SharedReflection], *, timezone: str) -> str:
    zone = ZoneInfo(timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["theme", "reflection", "author", "slack_user_id", "shared_at", "how"])
    for r in reflections:
        writer.writerow([
            topic_key(r.topic),
            neutralise_for_spreadsheet(r.text),
            neutralise_for_spreadsheet(r.author_name or ("anonymous" if r.author_slack_id is None else "")),
            r.author_slack_id or "",
            r.shared_at.astimezone(zone).isoformat(timespec="minutes"),
            r.source.value,
        ])
    return out.getvalue()


def reflection_counts(session: Session, *, event_id: int) -> dict[Topic, int]:
    rows = session.execute(
        select(ReflectionPrompt, func.count(Reflection.id))
        .join(Reflection, Reflection.prompt_id == ReflectionPrompt.id)
        .where(ReflectionPrompt.event_id == event_id, Reflection.deleted_at.is_(None))
        .group_by(ReflectionPrompt.id)
    ).all()
    counts = {topic: 0 for topic in topics(session, event_id=event_id)}
    counts.update({prompt.topic: count for prompt, count in rows})
    return counts


def prompted_counts(session: Session, *, event_id: int) -> dict[Topic, int]:
    """Reflections per theme (or custom prompt), for the prompts actually posted."""
    posted = {prompt.topic for prompt in session.scalars(select(ReflectionPrompt).where(
        ReflectionPrompt.event_id == event_id, ReflectionPrompt.posted_at.is_not(None)))}
    return {topic: count for topic, count in reflection_counts(session, event_id=event_id).items() if topic in posted}


# --- back to the room -----------------------------------------------------------------------------

# A modal's checkboxes hold at most 10 options: the chair picks from the first ten of each theme.
SHAREABLE_PER_THEME = 10


@dataclass(frozen=True)
class Shareable:
    reflection_id: int
    topic: Topic
    text: str
    anonymous: bool
    author_slack_id: str | None  # None when anonymous


def shareable(session: Session, *, event_id: int) -> dict[Topic, list[Shareable]]:
    """What a chair may choose from: the standing reflections of each prompt posted, earliest first."""
    rows = session.execute(
        select(Reflection, ReflectionPrompt, Person.slack_user_id)
        .join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
        .join(Person, Person.id == Reflection.person_id)
        .where(ReflectionPrompt.event_id == event_id, Reflection.deleted_at.is_(None),
               ReflectionPrompt.posted_at.is_not(None))
        .order_by(Reflection.created_at, Reflection.id)
    ).all()
    found: dict[Topic, list[Shareable]] = {}
    for reflection, prompt, author in rows:
        picks = found.setdefault(prompt.topic, [])
        if len(picks) < SHAREABLE_PER_THEME:
            picks.append(Shareable(reflection.id, prompt.topic, reflection.text, reflection.anonymous,
                                   None if reflection.anonymous else author))
    return found


def chosen(session: Session, *, event_id: int, reflection_ids: list[int]) -> list[Shareable]:
    """The chosen reflections, checked to belong to this event (a tampered form chooses nothing else)."""
    options = [s for picks in shareable(session, event_id=event_id).values() for s in picks]
    wanted = set(reflection_ids)
    return [s for s in options if s.reflection_id in wanted]

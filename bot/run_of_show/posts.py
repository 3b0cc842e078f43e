"""What the run of show posts through the outbox, rendered when sent, in the order they were claimed.

An event's posts go out in order: a row waits while an older run-of-show row of the same event
has not gone out, so a welcome held up by a rate limit is never overtaken by its first agenda item.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import outbox
from bot.clock import utcnow
from bot.events.posts import tell_organisers
from bot.models import AgendaSegment, Event, ReflectionPrompt
from bot.outbox import Claimed, Kind, Prepared
from bot.reflections.posts import invite_chairs_to_share
from bot.reflections.rules import prompted_counts
from bot.run_of_show import blocks
from bot.run_of_show.rules import CLOSE_POST, PROMPT_POST, RUN_OF_SHOW_POSTS, SEGMENT_POST, WELCOME_POST
from bot.slack.messages import Message

# How long a post waits for the one before it before looking again.
WAIT_FOR_EARLIER_SECONDS = 0.5


class _RunOfShowPost:
    what = "a post"

    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        if outbox.unsent_before(session, item, kinds=RUN_OF_SHOW_POSTS):
            return Prepared(channel=item.recipient, later=WAIT_FOR_EARLIER_SECONDS)
        return Prepared(channel=item.recipient, message=self.render(session, item))

    def render(self, session: Session, item: Claimed) -> Message:
        raise NotImplementedError

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        if item.event_id is not None:
            tell_organisers(session, event_id=item.event_id, what=self.what, error=error, now=now)


class WelcomePost(_RunOfShowPost):
    what = "the welcome"

    def render(self, session: Session, item: Claimed) -> Message:
        event = session.get_one(Event, item.subject_id)
        return blocks.welcome(event, list(event.segments))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        session.get_one(Event, item.subject_id).welcome_message_ts = ts


class SegmentPost(_RunOfShowPost):
    what = "an agenda announcement"

    def render(self, session: Session, item: Claimed) -> Message:
        segment = session.get_one(AgendaSegment, item.subject_id)
        event = session.get_one(Event, segment.event_id)
        upcoming = session.scalar(
            select(AgendaSegment)
            .where(AgendaSegment.event_id == event.id, AgendaSegment.position > segment.position)
            .order_by(AgendaSegment.position).limit(1))
        missed = list(session.scalars(
            select(AgendaSegment)
            .where(AgendaSegment.event_id == event.id, AgendaSegment.missed.is_(True),
                   AgendaSegment.position < segment.position, AgendaSegment.announced_at == segment.announced_at)
            .order_by(AgendaSegment.position)))
        return blocks.segment_started(event, segment, upcoming, missed)

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        session.get_one(AgendaSegment, item.subject_id).announcement_ts = ts


class PromptPost(_RunOfShowPost):
    what = "a reflection prompt"

    def render(self, session: Session, item: Claimed) -> Message:
        return blocks.prompt(session.get_one(ReflectionPrompt, item.subject_id))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        # Replies in this thread are the prompt's reflections from now on.
        session.get_one(ReflectionPrompt, item.subject_id).message_ts = ts


class ClosePost(_RunOfShowPost):
    what = "the close"

    def render(self, session: Session, item: Claimed) -> Message:
        event = session.get_one(Event, item.subject_id)
        return blocks.close(event, prompted_counts(session, event_id=event.id))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        event = session.get_one(Event, item.subject_id)
        event.close_message_ts = ts
        # Nothing is published without a chair's choice: each is asked which reflections to share.
        invite_chairs_to_share(session, event=event, now=utcnow())


def kinds() -> dict[str, Kind]:
    """This domain's kinds of post, new for each sender (some keep a pace of their own)."""
    return {WELCOME_POST: WelcomePost(), SEGMENT_POST: SegmentPost(), PROMPT_POST: PromptPost(), CLOSE_POST: ClosePost()}

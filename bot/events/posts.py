"""What events post through the outbox: telling an event's organisers that a post could not be made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import outbox
from bot.events import people
from bot.events.blocks import post_failed
from bot.models import Event, Role
from bot.slack.messages import Message


def tell_organisers(session: Session, *, event_id: int, what: str, error: str, now: datetime) -> int:
    """DM each organiser (chairs if it has none) that `what` could not be posted, once per event and error.

    Returns how many DMs were queued. Sent through the outbox like everything else, as notices,
    whose own failures are told to nobody, so a failure never feeds on itself.
    """
    event = session.get(Event, event_id)
    if event is None:
        return 0
    message = post_failed(event_title=event.title, channel_id=event.channel_id, what=what, error=error,
                          explanation=outbox.describe_error(error))
    return notify_organisers(session, event=event, message=message, about=f"failed:{event.id}:{error}", now=now)


def notify_organisers(session: Session, *, event: Event, message: Message, about: str, now: datetime) -> int:
    """DM `message` to each organiser (chairs if the event has none), once for each `about`."""
    told = people.people_with_role(session, event=event, role=Role.ORGANISER) or people.people_with_role(
        session, event=event, role=Role.CHAIR)
    queued = 0
    for person in told:
        if outbox.notice(session, recipient=person.slack_user_id, message=message, now=now,
                         workspace_id=event.workspace_id, event_id=event.id,
                         dedupe_key=f"{about}:{person.slack_user_id}"[:128]):
            queued += 1
    return queued

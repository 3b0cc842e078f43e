"""What events post through the outbox: telling an event's organisers that a post could not be made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import outbox
from bot.events import people
from bot.events.blocks import post_failed
from bot.models import Event, Role


def tell_organisers(session: Session, *, event_id: int, what: str, error: str, now: datetime) -> int:
    """DM each organiser (chairs if it has none) that `what` could not be posted, once per event and error.

    Returns how many DMs were queued. Sent through the outbox like everything else, as notices,
    whose own failures are told to nobody, so a failure never feeds on itself.
    """
    event = session.get(Event, event_id)
    if event is None:
        return 0
    told = people.people_with_role(session, event=event, role=Role.ORGANISER) or people.people_with_role(
        session, event=event, role=Role.CHAIR)
    message = post_failed(event_title=event.title, channel_id=event.channel_id, what=what, error=error,
                          explanation=outbox.describe_error(error))
    queued = 0
    for person in told:
        if outbox.notice(session, recipient=person.slack_user_id, message=message, now=now,
                         workspace_id=event.workspace_id, event_id=event.id,
                         dedupe_key=f"failed:{event.id}:{error}:{person.slack_user_id}"[:128]):
            queued += 1
    return queued

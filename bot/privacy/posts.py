"""What privacy posts through the outbox: telling an event's organisers its personal data was purged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.events.posts import notify_organisers
from bot.models import Event
from bot.privacy.blocks import purged
from bot.privacy.rules import Purged


def tell_organisers_of_purge(session: Session, *, found: Purged, now: datetime) -> int:
    """A DM to each organiser (chairs if none), once per event however often the purge is retried."""
    event = session.get_one(Event, found.event_id)
    return notify_organisers(session, event=event, message=purged(found, channel_id=event.channel_id),
                             about=f"purged:{event.id}", now=now)

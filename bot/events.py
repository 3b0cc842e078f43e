"""Events: which one is running in a channel."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Event, EventStatus

CURRENT_STATUSES = (EventStatus.SCHEDULED, EventStatus.LIVE)


def current_event(session: Session, *, workspace_id: int, channel_id: str) -> Event | None:
    """The scheduled or live event in a channel; the database allows at most one."""
    return session.scalar(
        select(Event).where(
            Event.workspace_id == workspace_id,
            Event.channel_id == channel_id,
            Event.status.in_(CURRENT_STATUSES),
        )
    )

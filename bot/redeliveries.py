"""Slack redelivers an Events API callback when our ack is slow; each event_id is handled once."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeGuard

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.models import ProcessedSlackEvent

# Slack retries for a few minutes at most; a day leaves a wide margin and a small table.
KEEP_PROCESSED_IDS_FOR = timedelta(days=1)


# `processed_slack_events.event_id` holds this many characters; Slack's ids are a dozen or so.
MAX_EVENT_ID_LENGTH = 64


def is_event_id(value: object) -> TypeGuard[str]:
    """Whether a request's `event_id` is one this table can hold; any other is treated as absent."""
    return isinstance(value, str) and 0 < len(value) <= MAX_EVENT_ID_LENGTH


def claim_event(session: Session, *, event_id: str, team_id: str | None) -> bool:
    """True the first time an event id is seen, False for every redelivery of it."""
    try:
        with session.begin_nested():
            session.add(ProcessedSlackEvent(event_id=event_id, team_id=team_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def already_handled(session: Session, *, event_id: str) -> bool:
    return session.get(ProcessedSlackEvent, event_id) is not None


def forget_old_events(session: Session) -> int:
    result = session.execute(
        delete(ProcessedSlackEvent).where(ProcessedSlackEvent.received_at < utcnow() - KEEP_PROCESSED_IDS_FOR)
    )
    return result.rowcount or 0

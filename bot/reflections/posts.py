"""What reflections post through the outbox: the chairs' invitation to share reflections back with the room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import outbox
from bot.events import people
from bot.models import Event, Role
from bot.reflections import rules
from bot.reflections.blocks import invite_to_share


def invite_chairs_to_share(session: Session, *, event: Event, now: datetime) -> None:
    """After the close: each chair is asked which reflections go back to the room (in the close's transaction)."""
    count = sum(rules.reflection_counts(session, event_id=event.id).values())
    for chair in people.people_with_role(session, event=event, role=Role.CHAIR):
        outbox.notice(session, recipient=chair.slack_user_id, now=now, workspace_id=event.workspace_id,
                      event_id=event.id, dedupe_key=f"share-reflections:{event.id}:{chair.slack_user_id}",
                      message=invite_to_share(event_id=event.id, event_title=event.title, count=count))

"""What events post through the outbox: telling an event's organisers that a post could not be made,
and telling a channel (and the organisers) that its event was cancelled or moved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import outbox
from bot.events import people
from bot.events.blocks import cancelled_for_organisers, cancelled_notice, post_failed, postponed_notice
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


def tell_cancelled(session: Session, *, event: Event, by_slack_id: str, skipped: int, now: datetime) -> None:
    """The channel once, and each organiser once."""
    outbox.notice(session, recipient=event.channel_id, now=now, workspace_id=event.workspace_id, event_id=event.id,
                  dedupe_key=f"cancelled:{event.id}", message=cancelled_notice(
                      title=event.title, starts_at=event.starts_at, timezone=event.timezone, by_slack_id=by_slack_id))
    notify_organisers(session, event=event, now=now, about=f"cancelled:{event.id}", message=cancelled_for_organisers(
        title=event.title, channel_id=event.channel_id, skipped=skipped, by_slack_id=by_slack_id))


def tell_postponed(session: Session, *, event: Event, was: datetime, now: datetime) -> None:
    """The channel, once for each new time."""
    outbox.notice(session, recipient=event.channel_id, now=now, workspace_id=event.workspace_id, event_id=event.id,
                  dedupe_key=f"postponed:{event.id}:{event.starts_at:%Y%m%d%H%M}:{event.ends_at:%H%M}",
                  message=postponed_notice(title=event.title, was=was, starts_at=event.starts_at,
                                           ends_at=event.ends_at, timezone=event.timezone))

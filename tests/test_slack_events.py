from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import Database, unit_of_work
from bot.models import ProcessedSlackEvent
from bot.redeliveries import claim_event, forget_old_events


def test_an_event_id_is_claimed_once(database: Database) -> None:
    with unit_of_work(database) as session:
        assert claim_event(session, event_id="Ev1", team_id="T1") is True
    with unit_of_work(database) as session:
        assert claim_event(session, event_id="Ev1", team_id="T1") is False
        assert claim_event(session, event_id="Ev2", team_id="T1") is True
    with unit_of_work(database) as session:
        assert session.scalar(select(func.count()).select_from(ProcessedSlackEvent)) == 2


def test_old_event_ids_are_forgotten(database: Database) -> None:
    with unit_of_work(database) as session:
        session.add(ProcessedSlackEvent(event_id="EvOld", received_at=utcnow() - timedelta(days=2)))
        session.add(ProcessedSlackEvent(event_id="EvNew"))
    with unit_of_work(database) as session:
        assert forget_old_events(session) == 1
    with unit_of_work(database) as session:
        assert session.scalars(select(ProcessedSlackEvent.event_id)).all() == ["EvNew"]

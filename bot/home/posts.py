"""The Home tab as an outbox kind: drawn from the database when it is sent, with views.publish.

Rows are asked for (`bot.home_tabs`) in the transactions that change what a Home shows, one
pending row per person: whatever happened meanwhile, the tab published is the one as it is now.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import outbox
from bot.capabilities import capabilities_for
from bot.events.rules import audiences
from bot.home import rules
from bot.home.blocks import home_view
from bot.home_tabs import HOME
from bot.models import HomeTab, Person
from bot.outbox import Claimed, Kind, Prepared

logger = logging.getLogger(__name__)


def render(session: Session, *, workspace_id: int, slack_user_id: str, now: datetime,
           may_organise: bool | None = None) -> dict:
    """The person's Home tab as it is now, with the commands they may use (`may_organise` as Slack
    said when they last opened it, unless given)."""
    person = rules.person_of(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    if may_organise is None:
        may_organise = person is not None and bool(
            session.scalar(select(HomeTab.may_organise).where(HomeTab.person_id == person.id)))
    heard = audiences(session, workspace_id=workspace_id, slack_user_id=slack_user_id, may_organise=may_organise)
    home = rules.home_of(session, person=person, now=now) if person is not None else rules.nothing_yet(slack_user_id)
    return home_view(home, capabilities_for(heard))


class HomeTabPost:
    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        outbox.rendering(session, item)  # a change from here on asks for a row of its own
        person = session.get(Person, item.subject_id) if item.subject_id else None
        if person is None or person.is_deleted:
            return Prepared(channel=item.recipient, skip="nobody to show it to")
        return Prepared(channel=person.slack_user_id, view=render(
            session, workspace_id=person.workspace_id, slack_user_id=person.slack_user_id, now=now))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        # Nobody to tell: the tab shows what it showed before, and opening it draws it again.
        logger.info("Home of %s could not be published: %s", item.recipient, error)


def kinds() -> dict[str, Kind]:
    return {HOME: HomeTabPost()}

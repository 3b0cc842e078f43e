"""People's data for the listeners and the scheduler: what is held, forgetting, and the purge."""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import Database, reading, unit_of_work
from bot.privacy import rules
from bot.privacy.posts import tell_organisers_of_purge
from bot.privacy.rules import Forgotten, Holdings
from bot.slack.dm import send_to_dm

logger = logging.getLogger(__name__)


def holdings(database: Database, *, workspace_id: int, slack_user_id: str) -> Holdings:
    with reading(database) as session:
        return rules.holdings(session, workspace_id=workspace_id, slack_user_id=slack_user_id)


def send_holdings_file(client: WebClient, *, found: Holdings) -> bool:
    """The whole list as CSV in the person's DM; False (and a log line) if Slack would not take it."""
    try:
        send_to_dm(client, user_id=found.slack_user_id, filename="eventbot-my-data.csv",
                   content=rules.holdings_csv(found), title="What eventbot holds about you",
                   comment="Everything eventbot holds about you in this workspace, as CSV. Only you have it.")
    except SlackApiError as error:
        logger.warning("could not send a person their data: %s", error.response.get("error"))
        return False
    return True


def forget(database: Database, *, workspace_id: int, slack_user_id: str, now: datetime) -> Forgotten:
    with unit_of_work(database) as session:
        done = rules.forget(session, workspace_id=workspace_id, slack_user_id=slack_user_id, now=now)
    # Counts only: the person is gone, and the log must not name them again.
    logger.info("a person was forgotten: %d reflections, %d votes, %d questions made anonymous, %d deliveries",
                done.reflections, done.votes, done.questions_kept_anonymous, done.deliveries)
    return done


def purge_expired(database: Database, *, now: datetime) -> int:
    """Purge every event whose retention period is over, one transaction each; returns how many."""
    with reading(database) as session:
        due = rules.expired_events(session, now=now)
    purged = 0
    for event_id in due:
        with unit_of_work(database) as session:
            found = rules.purge_event(session, event_id=event_id, now=now)
            if found is None:
                continue
            if rules.tellable(session, event_id=event_id):
                tell_organisers_of_purge(session, found=found, now=now)
        purged += 1
        logger.info("purged the personal data of event %d after its retention period", event_id)
    return purged

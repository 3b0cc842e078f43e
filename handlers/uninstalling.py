"""Someone removes eventbot from their workspace, or revokes its bot token: it stops acting there.

Bolt calls neither auth.test nor authorize for these events, and neither do we: the token is dead.
Distributed (OAuth installs), the workspace's installs are deleted, tokens with them, so a later
request from it finds no install until someone adds the app again.
"""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext

from bot.clock import utcnow
from bot.reminders import slack as reminders_slack

logger = logging.getLogger(__name__)


def app_uninstalled(context: BoltContext) -> None:
    _stop(context, why="the app was uninstalled")


def tokens_revoked(event: dict, context: BoltContext) -> None:
    # User tokens (`tokens.oauth`) are eventbot's to ignore: it holds none.
    if (event.get("tokens") or {}).get("bot"):
        _stop(context, why="its bot token was revoked")


def _stop(context: BoltContext, *, why: str) -> None:
    # The composition root lets no request without a workspace reach a listener.
    team_id = context.team_id or context.enterprise_id
    stopped = reminders_slack.stop_after_uninstall(context["database"], team_id=team_id, now=utcnow())
    installations = context.get("installations")
    forgotten = (installations.forget(enterprise_id=context.enterprise_id, team_id=context.team_id)
                 if installations is not None else 0)
    logger.info("workspace %s: %s; reminders cancelled: %d, deliveries skipped: %d, install rows deleted: %d",
                team_id, why, stopped.reminders, stopped.deliveries, forgotten)


def register(app: App) -> None:
    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)

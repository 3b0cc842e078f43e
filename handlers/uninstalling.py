"""Someone removes eventbot from their workspace, or revokes its bot token: it stops acting there.

Bolt's own listeners for these events need an installation store; eventbot runs with one token.
Bolt calls neither auth.test nor authorize for them, and neither do we: the token is dead.
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
    logger.info("workspace %s: %s; reminders cancelled: %d, deliveries skipped: %d", team_id, why,
                stopped.reminders, stopped.deliveries)


def register(app: App) -> None:
    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)

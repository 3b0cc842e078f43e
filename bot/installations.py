"""OAuth installs: which token serves which workspace, when eventbot is distributed to several.

slack_sdk's SQLAlchemy stores keep installs and the `state` of installs in progress, in tables
that migrations own (`bot/models.py`: slack_installations, slack_bots, slack_oauth_states), with
every token column encrypted at rest (`bot/tokens.py`). Bolt reads the newest bot of a workspace
for each request (`find_bot`), and the scheduler and the outbox read the same for what they post
there.

Token rotation: when the app has it on, a bot token lives 12 hours and comes with a refresh
token. `find_bot` refreshes a token due to expire within `ROTATE_WITHIN_MINUTES` itself, holding
the bot's row (`SELECT … FOR UPDATE` on PostgreSQL; every SQLite transaction takes the write lock
first, `bot/db.py`) and reading it again once it holds it: two processes that both see the token
ageing refresh it once, and the second uses what the first stored. A refresh token is single use,
so refreshing twice would leave one process holding a token Slack has already replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.rotator import TokenRotator
from sqlalchemy import Engine, and_, delete, desc, select, update

from bot.models import Base, slack_bots, slack_installations, slack_oauth_states

logger = logging.getLogger(__name__)

# A token this close to its expiry is refreshed before it is used. Bolt is told to rotate only
# an expired one, which never happens while this refresh works.
ROTATE_WITHIN_MINUTES = 120
BOLT_ROTATES_WITHIN_MINUTES = 1
# How long a person has between "Add to Slack" and Slack's redirect back.
STATE_EXPIRES_SECONDS = 600


class InstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy store on eventbot's own (migrated, encrypted) tables, refreshing
    rotating tokens under a row lock."""

    def __init__(self, *, client_id: str, client_secret: str, engine: Engine, client: WebClient,
                 on_saved: Callable[[Installation], None] | None = None) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self.on_saved = on_saved
        # The stock store would describe its own tables with plain-text token columns.
        self.metadata = Base.metadata
        self.bots = slack_bots
        self.installations = slack_installations
        self.rotator = TokenRotator(client_id=client_id, client_secret=client_secret, client=client)

    def create_tables(self) -> None:
        raise RuntimeError("the install tables are made by migrations (eventbot db upgrade), not create_all")

    def save(self, installation: Installation) -> None:
        super().save(installation)
        if self.on_saved is not None:
            # The workspace's row, served again if the app had been removed from it.
            self.on_saved(installation)

    def find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                 is_enterprise_install: bool | None = False) -> Bot | None:
        bot = super().find_bot(enterprise_id=enterprise_id, team_id=team_id,
                               is_enterprise_install=is_enterprise_install)
        if bot is None or not _ageing(bot):
            return bot
        try:
            return self._refreshed(enterprise_id=enterprise_id, team_id=team_id) or bot
        except SlackApiError as error:
            # The token still works until it expires; the next request tries again.
            logger.warning("could not refresh the bot token of %s: %s", team_id or enterprise_id,
                           error.response.get("error"))
            return bot

    def _refreshed(self, *, enterprise_id: str | None, team_id: str | None) -> Bot | None:
        b = self.bots.c
        newest = (select(self.bots)
                  .where(and_(b.client_id == self.client_id, b.enterprise_id == enterprise_id, b.team_id == team_id))
                  .order_by(desc(b.installed_at), desc(b.id)).limit(1))
        with self.engine.begin() as connection:
            row = connection.execute(newest.with_for_update()).mappings().first()
            if row is None:
                return None
            bot = self.build_bot_entity(row)
            if not _ageing(bot):
                return bot  # another process refreshed it while this one waited for the lock
            fresh = self.rotator.perform_bot_token_rotation(bot=bot, minutes_before_expiration=ROTATE_WITHIN_MINUTES)
            if fresh is None:
                return bot
            values = {"bot_token": fresh.bot_token, "bot_refresh_token": fresh.bot_refresh_token,
                      "bot_token_expires_at": _naive_utc(fresh.bot_token_expires_at)}
            connection.execute(update(self.bots).where(b.id == row["id"]).values(**values))
            # The installation row keeps the same token, for anything that reads installs.
            i = self.installations.c
            connection.execute(update(self.installations).where(and_(
                i.client_id == self.client_id, i.enterprise_id == enterprise_id, i.team_id == team_id,
                i.bot_refresh_token.is_not(None))).values(**values))
            logger.info("refreshed the bot token of %s", team_id or enterprise_id)
            return fresh

    def forget(self, *, enterprise_id: str | None, team_id: str | None) -> int:
        """The app was removed or its token revoked: every install of the workspace goes, tokens
        with them. Returns how many rows went."""
        gone = 0
        with self.engine.begin() as connection:
            for table in (self.bots, self.installations):
                gone += connection.execute(delete(table).where(and_(
                    table.c.client_id == self.client_id, table.c.enterprise_id == enterprise_id,
                    table.c.team_id == team_id))).rowcount or 0
        return gone


class StateStore(SQLAlchemyOAuthStateStore):
    """The state of installs in progress, in the migrated table."""

    def __init__(self, *, engine: Engine) -> None:
        super().__init__(expiration_seconds=STATE_EXPIRES_SECONDS, engine=engine)
        self.metadata = Base.metadata
        self.oauth_states = slack_oauth_states

    def create_tables(self) -> None:
        raise RuntimeError("the install tables are made by migrations (eventbot db upgrade), not create_all")


def _ageing(bot: Bot) -> bool:
    if not bot.bot_refresh_token or bot.bot_token_expires_at is None:
        return False
    expires = datetime.fromtimestamp(bot.bot_token_expires_at, tz=timezone.utc)
    return expires - timedelta(minutes=ROTATE_WITHIN_MINUTES) <= datetime.now(timezone.utc)


def _naive_utc(epoch_seconds: int | None) -> datetime | None:
    """The stores keep naive UTC timestamps."""
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).replace(tzinfo=None)

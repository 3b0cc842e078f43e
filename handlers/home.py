"""App Home: what someone sees when they open eventbot in Slack."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.capabilities import capabilities_for
from bot.events import slack as events_slack
from bot.slack import views
from handlers import payloads
from handlers.setting_up import WHO_MAY_ORGANISE

logger = logging.getLogger(__name__)


def show_home(event: dict, context: BoltContext, client: WebClient) -> None:
    with payloads.ignoring_malformed("an app_home_opened event"):
        user_id = payloads.slack_id(event.get("user"), what="person")
        try:
            audiences = events_slack.audiences_of(context["database"], client,
                                                  who_may_organise=context[WHO_MAY_ORGANISE],
                                                  workspace_id=context["workspace_id"], slack_user_id=user_id)
            client.views_publish(user_id=user_id, view=views.home(capabilities_for(audiences)))
        except SlackApiError as error:
            # Nobody to answer: the tab shows what it showed before, and opening it again retries.
            logger.warning("Slack would not show %s the Home tab: %s", user_id, error.response.get("error"))


def register(app: App) -> None:
    app.event("app_home_opened")(show_home)

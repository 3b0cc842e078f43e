"""App Home: what someone sees when they open eventbot in Slack."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.capabilities import CAPABILITIES
from bot.slack import views
from handlers import payloads

logger = logging.getLogger(__name__)


def show_home(event: dict, client: WebClient) -> None:
    with payloads.ignoring_malformed("an app_home_opened event"):
        user_id = payloads.slack_id(event.get("user"), what="person")
        try:
            client.views_publish(user_id=user_id, view=views.home(CAPABILITIES))
        except SlackApiError as error:
            # Nobody to answer: the tab shows what it showed before, and opening it again retries.
            logger.warning("Slack would not show %s the Home tab: %s", user_id, error.response.get("error"))


def register(app: App) -> None:
    app.event("app_home_opened")(show_home)

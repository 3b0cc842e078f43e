"""App Home: what someone sees when they open eventbot in Slack."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.capabilities import CAPABILITIES
from bot.slack import views


def show_home(event: dict, client: WebClient) -> None:
    client.views_publish(user_id=event["user"], view=views.home(CAPABILITIES))


def register(app: App) -> None:
    app.event("app_home_opened")(show_home)

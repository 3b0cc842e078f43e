"""Thin Slack listeners, one module per thing a person does; each module has `register(app)`."""

from __future__ import annotations

from slack_bolt import App

from handlers import (
    asking,
    digesting,
    event_command,
    home,
    joining,
    moderating,
    reflecting,
    reminding,
    setting_up,
    speaking,
    uninstalling,
    voting,
)


def register_all(app: App) -> None:
    event_command.register(app)
    setting_up.register(app)
    asking.register(app)
    voting.register(app)
    moderating.register(app)
    speaking.register(app)
    reflecting.register(app)
    joining.register(app)
    home.register(app)
    digesting.register(app)
    reminding.register(app)
    uninstalling.register(app)

"""Modals and the Home tab (up to 100 blocks each, as Slack allows)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.views import View

from bot.capabilities import Capability
from bot.slack.messages import help_message


def home(capabilities: tuple[Capability, ...]) -> dict[str, Any]:
    return View(type="home", blocks=help_message(capabilities).blocks).to_dict()

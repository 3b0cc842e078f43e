"""Modal plumbing every domain shares (the Home tab is its own domain: bot/home/).

Every single-input block uses the action id `VALUE`, so its block id names the field; a
submission is read back into plain values by block id (handlers/payloads.py).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.views import View

from bot.slack.messages import Message

VALUE = "value"  # the action id of every single-input block: the block id names the field


def notice_modal(message: Message) -> dict[str, Any]:
    """A modal that only says something: what a submitted form becomes when it cannot be taken."""
    return View(type="modal", title="eventbot", close="Close", blocks=message.blocks).to_dict()

"""Modal plumbing every domain shares, and the Home tab.

Every single-input block uses the action id `VALUE`, so its block id names the field; a
submission is read back into plain values by block id.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.views import View

from bot.capabilities import Capability
from bot.slack.messages import help_message

VALUE = "value"  # the action id of every single-input block: the block id names the field


def home(capabilities: tuple[Capability, ...]) -> dict[str, Any]:
    return View(type="home", blocks=help_message(capabilities).blocks).to_dict()


def submitted_values(view: dict[str, Any]) -> dict[str, Any]:
    """The plain value of each field of a submitted modal, by block id."""
    values: dict[str, Any] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        state = actions.get(VALUE, {})
        kind = state.get("type")
        if kind == "datepicker":
            values[block_id] = state.get("selected_date")
        elif kind == "timepicker":
            values[block_id] = state.get("selected_time")
        elif kind == "users_select":
            values[block_id] = state.get("selected_user")
        elif kind == "multi_users_select":
            values[block_id] = state.get("selected_users") or []
        elif kind in ("static_select", "radio_buttons"):
            values[block_id] = (state.get("selected_option") or {}).get("value")
        elif kind == "checkboxes":
            values[block_id] = [option["value"] for option in state.get("selected_options") or []]
        else:
            values[block_id] = state.get("value")
    return values

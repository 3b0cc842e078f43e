"""Reading what Slack sends: ids, texts, form values and private_metadata, checked before use.

A payload is signed, yet what it carries can still be stale or odd: a modal opened before a
deploy, a button on a weeks-old message, a field one surface leaves out, or a request put together
by hand by someone holding the signing secret. Listeners read every value they pass on through
these functions, which give back a plain value of the expected type or raise `OutOfDate`. That is
a `UserError`, so the listener's usual refusal tells the person (field errors on a form,
`answering_problems` elsewhere), and nothing reaches the database that its columns cannot hold.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from bot.errors import UserError
from bot.events.rules import WhichEvent, split_day
from bot.models import MAX_ROW_ID, SLACK_ID
from bot.slack.views import VALUE

logger = logging.getLogger(__name__)

# A message's ts: seconds, a dot, microseconds.
MESSAGE_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,8}")
_ROW_ID = re.compile(r"[0-9]{1,10}")


class OutOfDate(UserError):
    """A payload that is not as eventbot made it, or names what is no longer there."""

    def __init__(self, what: str) -> None:
        super().__init__(f"That form or button is out of date: {what}. Please open it again and retry.")
        self.what = what


def positive_id(value: object) -> int:
    """A row id from a button's value or a form's metadata, as a number or its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _ROW_ID.fullmatch(value):
        number = int(value)
    else:
        raise OutOfDate("it does not name anything eventbot keeps")
    if not 1 <= number <= MAX_ROW_ID:
        raise OutOfDate("it names nothing eventbot keeps")
    return number


def optional_id(value: object) -> int | None:
    """A row id that may be left out (null): a form opened for something new."""
    return None if value is None else positive_id(value)


def slack_id(value: object, *, what: str) -> str:
    """A user, channel or team id; `what` ends "it does not say which …"."""
    if isinstance(value, str) and SLACK_ID.fullmatch(value):
        return value
    raise OutOfDate(f"it does not say which {what}")


def message_ts(value: object) -> str:
    if isinstance(value, str) and MESSAGE_TS.fullmatch(value):
        return value
    raise OutOfDate("it does not say which message")


def text(value: object) -> str:
    """Text someone typed, or "" for none."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise OutOfDate("it holds something other than text")


def user_id(body: dict[str, Any]) -> str:
    """Who clicked or submitted an interaction."""
    user = body.get("user")
    return slack_id(user.get("id") if isinstance(user, dict) else None, what="person is using it")


def channel_id(body: dict[str, Any]) -> str:
    """The channel of an interaction: its `channel`, or the message's that holds the button."""
    channel, container = body.get("channel"), body.get("container")
    found = channel.get("id") if isinstance(channel, dict) else None
    if found is None and isinstance(container, dict):
        found = container.get("channel_id")
    return slack_id(found, what="channel it is in")


def from_a_view(body: dict[str, Any]) -> bool:
    """Whether an interaction came from a view (the Home tab, a modal) rather than a message."""
    container = body.get("container")
    return isinstance(container, dict) and container.get("type") == "view"


def clicked_message(body: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], str]:
    """The ts, blocks and text of the message holding the button clicked, as Slack sends them back."""
    container, message = body.get("container"), body.get("message")
    ts = container.get("message_ts") if isinstance(container, dict) else None
    if not isinstance(message, dict):
        message = {}
    blocks, text = message.get("blocks"), message.get("text")
    return (ts if isinstance(ts, str) and MESSAGE_TS.fullmatch(ts) else None,
            [block for block in blocks if isinstance(block, dict)] if isinstance(blocks, list) else [],
            text if isinstance(text, str) else "")


def fields(value: object, *keys: str) -> dict[str, Any]:
    """A JSON object (a button's value, a modal's private_metadata) holding at least `keys`."""
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        data = None
    if not isinstance(data, dict) or any(key not in data for key in keys):
        raise OutOfDate("some of its details are missing")
    return data


def metadata(view: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The private_metadata a modal was opened with, holding at least `keys`."""
    return fields(view.get("private_metadata"), *keys)


def selected_value(action: dict[str, Any]) -> str:
    """The value of the option chosen in a menu (an overflow, a select)."""
    option = action.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    if not isinstance(value, str):
        raise OutOfDate("it does not say what was chosen")
    return value


def form_values(view: dict[str, Any]) -> dict[str, Any]:
    """The plain value of each field of a submitted modal, by block id.

    Every input eventbot puts in a modal has the action id `VALUE`, so the block id names the
    field. A field left empty is None (an empty list for the ones that hold several).
    """
    state = view.get("state")
    blocks = state.get("values") if isinstance(state, dict) else None
    if not isinstance(blocks, dict):
        raise OutOfDate("its fields are missing")
    values: dict[str, Any] = {}
    for block_id, actions in blocks.items():
        element = actions.get(VALUE) if isinstance(actions, dict) else None
        if not isinstance(element, dict):
            raise OutOfDate("one of its fields is not as eventbot made it")
        values[block_id] = _element_value(element)
    return values


def _element_value(element: dict[str, Any]) -> Any:
    kind = element.get("type")
    if kind == "datepicker":
        return _optional_text(element.get("selected_date"))
    if kind == "timepicker":
        return _optional_text(element.get("selected_time"))
    if kind == "datetimepicker":
        moment = element.get("selected_date_time")
        if moment is None or (isinstance(moment, int) and not isinstance(moment, bool) and moment >= 0):
            return moment
        raise OutOfDate("one of its fields is not as eventbot made it")
    if kind == "users_select":
        return _optional_text(element.get("selected_user"))
    if kind == "multi_users_select":
        return _texts(element.get("selected_users"))
    if kind in ("static_select", "radio_buttons"):
        option = element.get("selected_option")
        if option is None:
            return None
        return _optional_text(option.get("value") if isinstance(option, dict) else 0)
    if kind == "checkboxes":
        options = element.get("selected_options") or []
        if not isinstance(options, list) or not all(isinstance(option, dict) for option in options):
            raise OutOfDate("one of its fields is not as eventbot made it")
        return _texts([option.get("value") for option in options])
    return _optional_text(element.get("value"))


def _optional_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise OutOfDate("one of its fields is not as eventbot made it")


def _texts(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise OutOfDate("one of its fields is not as eventbot made it")


@contextmanager
def ignoring_malformed(what: str) -> Iterator[None]:
    """For events, which nobody waits on: one that is not as Slack sends it is logged and dropped."""
    try:
        yield
    except OutOfDate as problem:
        logger.warning("ignored %s: %s", what, problem.what)


def only_a_day(command: dict[str, Any], *, usage: str) -> date | None:
    """The day a command that reads an event was given (`/event report 2026-11-12`), if any; a
    `WhichEvent` if anything else follows it."""
    day, rest = split_day(command.get("text") or "")
    if rest:
        raise WhichEvent(f"`{usage}` takes only a day after it, such as `{usage} 2026-11-12`, to read one of "
                         "the channel's earlier events.")
    return day

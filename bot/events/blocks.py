"""Block Kit for setting an event up: the `/event setup` modal.

Each field's block id is the name its submission is read by, so the form, the parser in the
handler and the field errors shown back all use one name per field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    TimePickerElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.events.rules import MAX_FORM_LINK_LENGTH
from bot.models import Event
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import escape, truncate
from bot.slack.views import VALUE

SETUP_CALLBACK = "event_setup"
WAITS_FOR_CHAIR = "waits_for_chair"


@dataclass(frozen=True)
class SetupDefaults:
    title: str = ""
    date: str | None = None
    start: str = "14:00"
    end: str = "15:30"
    timezone: str = "Europe/London"
    evaluation_form_url: str = ""
    chairs: tuple[str, ...] = ()
    presenters: tuple[str, ...] = ()
    waits_for_chair: bool = False

    @classmethod
    def from_event(cls, event: Event, *, chairs: list[str], presenters: list[str]) -> SetupDefaults:
        zone = ZoneInfo(event.timezone)
        start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
        return cls(
            title=event.title,
            date=start.date().isoformat(),
            start=start.strftime("%H:%M"),
            end=end.strftime("%H:%M"),
            timezone=event.timezone,
            evaluation_form_url=event.evaluation_form_url or "",
            chairs=tuple(chairs),
            presenters=tuple(presenters),
            waits_for_chair=event.waits_for_chair,
        )


def event_setup(*, channel_id: str, event_id: int | None, defaults: SetupDefaults, today: datetime) -> dict[str, Any]:
    def text_input(block_id: str, label: str, initial: str, *, optional: bool = False, hint: str | None = None,
                   max_length: int = 255) -> InputBlock:
        return InputBlock(
            block_id=block_id, label=label, optional=optional, hint=hint,
            element=PlainTextInputElement(action_id=VALUE, initial_value=initial or None, max_length=max_length),
        )

    def users_input(block_id: str, label: str, initial: tuple[str, ...]) -> InputBlock:
        return InputBlock(
            block_id=block_id, label=label, optional=True,
            element=UserMultiSelectElement(action_id=VALUE, initial_users=list(initial) or None),
        )

    wait_option = Option(value="yes", text="Wait for a chair's /event start")
    blocks = [
        text_input("title", "Title", defaults.title),
        InputBlock(block_id="date", label="Date", element=DatePickerElement(
            action_id=VALUE, initial_date=defaults.date or today.date().isoformat())),
        InputBlock(block_id="start", label="Starts at", element=TimePickerElement(action_id=VALUE, initial_time=defaults.start)),
        InputBlock(block_id="end", label="Ends at", element=TimePickerElement(action_id=VALUE, initial_time=defaults.end)),
        text_input("timezone", "Time zone", defaults.timezone, max_length=64,
                   hint="An IANA name such as Europe/London; times above are in this zone."),
        users_input("chairs", "Chairs", defaults.chairs),
        users_input("presenters", "Presenters", defaults.presenters),
        text_input("evaluation_form_url", "Evaluation form link", defaults.evaluation_form_url, optional=True,
                   max_length=MAX_FORM_LINK_LENGTH, hint="Its full address, starting with https://"),
        InputBlock(
            block_id=WAITS_FOR_CHAIR, label="Starting", optional=True,
            hint="Otherwise the session starts itself at its start time, with the welcome.",
            element=CheckboxesElement(action_id=VALUE, options=[wait_option],
                                      initial_options=[wait_option] if defaults.waits_for_chair else None),
        ),
    ]
    return View(
        type="modal",
        callback_id=SETUP_CALLBACK,
        title="Set up an event" if event_id is None else "Change this event",
        submit="Save",
        close="Cancel",
        private_metadata=json.dumps({"channel_id": channel_id, "event_id": event_id}),
        blocks=blocks,
    ).to_dict()


def post_failed(*, event_title: str, channel_id: str, what: str, error: str, explanation: str) -> Message:
    """To organisers: eventbot gave up on a post; what it was, why, and what to do."""
    advice = {
        "not_in_channel": f"Invite eventbot with `/invite @eventbot` in <#{channel_id}>.",
        "channel_not_found": f"Invite eventbot with `/invite @eventbot` in <#{channel_id}>, or check the channel exists.",
        "is_archived": "The channel is archived: unarchive it, or set the event up in another channel.",
    }.get(error, "Later posts are still being made; check the channel.")
    text = (f":warning: eventbot could not post {escape(what)} in <#{channel_id}> for *{escape(event_title)}*: "
            f"{escape(explanation)}. {advice}")
    return Message(text=f"eventbot could not post {what} for {event_title}",
                   blocks=blocks_of(SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))))

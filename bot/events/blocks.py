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
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
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
from bot.slack.text import escape, local_date_and_time, truncate
from bot.slack.views import VALUE

SETUP_CALLBACK = "event_setup"
CANCEL_ACTION = "event_cancel"
POSTPONE_CALLBACK = "event_postpone"
DUPLICATE_CALLBACK = "event_duplicate"
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


# --- events over time -----------------------------------------------------------------------------


def _plain_when(moment: datetime, timezone: str) -> str:
    """For a message's notification text, where Slack shows no date tokens."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M %Z")


def _said(text: str) -> Message:
    return Message(text=text, blocks=blocks_of(SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))))


def cancel_question(event: Event) -> Message:
    """To the organiser: what cancelling does, and a button that asks once more before it does it."""
    when = local_date_and_time(event.starts_at, timezone=event.timezone)
    text = (f"Cancel *{escape(event.title)}* ({when})? Nothing more is posted, prompted or reminded for it, "
            "the channel is told, and the channel is free for another event. Questions and reflections "
            "already given are kept.")
    button = ButtonElement(
        text="Cancel the event", action_id=CANCEL_ACTION, style="danger", value=json.dumps({"event_id": event.id}),
        confirm=ConfirmObject(title="Cancel this event?", text="This cannot be undone.", confirm="Cancel it",
                              deny="Keep it"))
    return Message(text=f"Cancel {event.title}?", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT))), ActionsBlock(elements=[button])))


def cancelled_notice(*, title: str, starts_at: datetime, timezone: str, by_slack_id: str) -> Message:
    """To the channel, once."""
    when = local_date_and_time(starts_at, timezone=timezone)
    return Message(
        text=f"{title} ({_plain_when(starts_at, timezone)}) is cancelled.",
        blocks=_said(f":no_entry: *{escape(title)}* ({when}) is cancelled by <@{by_slack_id}>. "
                     "Nothing more will be posted for it here.").blocks)


def cancelled_for_organisers(*, title: str, channel_id: str, skipped: int, by_slack_id: str) -> Message:
    unsent = f", and {skipped} unsent post{'' if skipped == 1 else 's'} will not go out" if skipped else ""
    text = (f"<@{by_slack_id}> cancelled *{escape(title)}* in <#{channel_id}>: the channel was told and its "
            f"reminders are cancelled{unsent}. Questions and reflections already given are kept.")
    return Message(text=f"{title} is cancelled.", blocks=_said(text).blocks)


def postponed_notice(*, title: str, was: datetime, starts_at: datetime, ends_at: datetime,
                     timezone: str) -> Message:
    """To the channel: the new day and times (each reader sees them in their own zone)."""
    text = (f":calendar: *{escape(title)}* has moved from {local_date_and_time(was, timezone=timezone)} to "
            f"{local_date_and_time(starts_at, timezone=timezone)} (until "
            f"{local_date_and_time(ends_at, timezone=timezone)}). Its agenda, prompts and reminders move with it.")
    return Message(text=f"{title} has moved to {_plain_when(starts_at, timezone)}.", blocks=_said(text).blocks)


def _day_and_times(*, day: str, start: str, end: str, timezone: str) -> list[InputBlock]:
    return [
        InputBlock(block_id="date", label="Date", element=DatePickerElement(action_id=VALUE, initial_date=day)),
        InputBlock(block_id="start", label="Starts at", hint=f"In {timezone}.",
                   element=TimePickerElement(action_id=VALUE, initial_time=start)),
        InputBlock(block_id="end", label="Ends at", element=TimePickerElement(action_id=VALUE, initial_time=end)),
    ]


def postpone_form(event: Event) -> dict[str, Any]:
    zone = ZoneInfo(event.timezone)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    intro = (f"Move *{escape(truncate(event.title, 200))}* to a new day or time. Its agenda, prompts and reminders "
             "move with it, and the channel is told.")
    return View(
        type="modal", callback_id=POSTPONE_CALLBACK, title="Postpone this event", submit="Move it", close="Cancel",
        private_metadata=json.dumps({"event_id": event.id}),
        blocks=[SectionBlock(text=MarkdownTextObject(text=intro)),
                *_day_and_times(day=start.date().isoformat(), start=start.strftime("%H:%M"),
                                end=end.strftime("%H:%M"), timezone=event.timezone)],
    ).to_dict()


def duplicate_form(source: Event, *, day: str) -> dict[str, Any]:
    """The next event like `source`: its day defaults to the same weekday of the month, next month."""
    zone = ZoneInfo(source.timezone)
    start, end = source.starts_at.astimezone(zone), source.ends_at.astimezone(zone)
    week = ("1st", "2nd", "3rd", "4th", "5th")[(start.day - 1) // 7]
    intro = (f"A new event in this channel with the programme of *{escape(truncate(source.title, 200))}*: its "
             "agenda, prompts, notes, partners, reminders and roles (attendees join afresh). The day shown is "
             f"the {week} {start.strftime('%A')} of the month, as this one was (a 5th becomes the month's last); "
             "change it if you need.")
    return View(
        type="modal", callback_id=DUPLICATE_CALLBACK, title="Duplicate this event", submit="Create",
        close="Cancel", private_metadata=json.dumps({"event_id": source.id}),
        blocks=[SectionBlock(text=MarkdownTextObject(text=intro)),
                InputBlock(block_id="title", label="Title", element=PlainTextInputElement(
                    action_id=VALUE, initial_value=source.title, max_length=255)),
                *_day_and_times(day=day, start=start.strftime("%H:%M"), end=end.strftime("%H:%M"),
                                timezone=source.timezone)],
    ).to_dict()

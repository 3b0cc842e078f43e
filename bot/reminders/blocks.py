"""Block Kit for evaluation reminders: the reminder itself, the `/event remind` modal, the organiser's list.

Organisers' words (the reminder's text, the event's title) are escaped before they are shown, so
a reminder that happens to contain `<!channel>` does not ping anyone.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.models import ReminderAudience, ReminderStatus
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import escape, local_date_and_time, truncate
from bot.slack.views import VALUE

if TYPE_CHECKING:
    from bot.reminders.rules import EventReminders, FormContext, ReminderSummary

REMIND_CALLBACK = "evaluation_reminder"
COMPLETED_ACTION = "evaluation_completed"
OPEN_FORM_ACTION = "evaluation_form_open"
CHANGE_ACTION = "reminder_change"
CANCEL_ACTION = "reminder_cancel"

TEXT_PREVIEW = 200
ONLY_INCOMPLETE = "only_incomplete"
INCLUDE_TEAM = "include_team"


# --- the reminder itself ------------------------------------------------------------------------------


def _form_button(form_url: str) -> ButtonElement:
    return ButtonElement(text="Open the evaluation form", action_id=OPEN_FORM_ACTION, url=form_url, style="primary")


def reminder_message(*, text: str, form_url: str | None, event_id: int, in_channel: bool) -> Message:
    """The reminder as delivered: its text, the form, and an "I've completed it" button."""
    safe = escape(text)
    buttons = [_form_button(form_url)] if form_url else []
    buttons.append(ButtonElement(text="I've completed it", action_id=COMPLETED_ACTION,
                                 value=json.dumps({"event_id": event_id})))
    note = ("Press *I've completed it* once you have filled it in, so we stop reminding you."
            if not in_channel else "Press *I've completed it* once you have filled it in, so we don't remind you.")
    return Message(
        text=truncate(safe, SECTION_LIMIT),
        blocks=blocks_of(
            SectionBlock(text=MarkdownTextObject(text=truncate(safe, SECTION_LIMIT))),
            ActionsBlock(elements=buttons),
            ContextBlock(elements=[MarkdownTextObject(text=note)]),
        ),
    )


def completed_dm(*, original_blocks: list[dict[str, Any]] | None, text: str) -> Message:
    """The DM after its reader said they completed the form: no more buttons, a thank-you."""
    kept = [b for b in (original_blocks or []) if b.get("type") == "section"][:1]
    thanks = ":white_check_mark: Thank you: you said you completed the evaluation form, so no more reminders will come."
    return Message(text=text, blocks=kept + blocks_of(ContextBlock(elements=[MarkdownTextObject(text=thanks)])))


def completion_noted(*, first_time: bool) -> Message:
    text = (":white_check_mark: Thank you for completing the evaluation form: no more reminders will come to you."
            if first_time else ":white_check_mark: We already have it down that you completed the form. Thank you!")
    return Message(text=text, blocks=blocks_of(SectionBlock(text=MarkdownTextObject(text=text))))


# --- describing a reminder -------------------------------------------------------------------------------


def describe_reminder(*, when_spec: str, due_at: datetime, local_time: str | None, audience: ReminderAudience,
                      only_incomplete: bool, timezone: str) -> str:
    if audience == ReminderAudience.CHANNEL:
        who = "a post in the channel"
    elif only_incomplete:
        who = "a DM to each attendee who has not said they completed the form"
    else:
        who = "a DM to each attendee"
    if local_time:
        # A date token would show the event-zone moment in the reader's zone, which is not when
        # their DM comes: the day is written out plainly instead.
        day = due_at.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y").replace(" 0", " ")
        when = f"at {local_time} in each person's own time zone on {day}, the day after the event"
    else:
        when = local_date_and_time(due_at, timezone=timezone)
    return f"{who}, {when} (“{escape(when_spec)}”)"


def _status_line(summary: ReminderSummary) -> str:
    parts = []
    if summary.sent:
        parts.append(f"{summary.sent} sent")
    if summary.pending:
        parts.append(f"{summary.pending} waiting")
    if summary.failed:
        parts.append(f"{summary.failed} could not be delivered")
    if summary.skipped_completed:
        parts.append(f"{summary.skipped_completed} not needed (form completed)")
    if summary.skipped_cancelled:
        parts.append(f"{summary.skipped_cancelled} cancelled")
    if summary.skipped_missed:
        parts.append(f"{summary.skipped_missed} missed")
    labels = {
        ReminderStatus.SCHEDULED: "Scheduled",
        ReminderStatus.SENDING: "Going out",
        ReminderStatus.SENT: "Done",
        ReminderStatus.CANCELLED: "Cancelled",
        ReminderStatus.MISSED: "Missed (eventbot was not running in time)",
    }
    counts = f": {', '.join(parts)}" if parts else ""
    if summary.status == ReminderStatus.SENT and not parts:
        counts = ": nobody to send it to"
    return f"*{labels[summary.status]}*{counts}"


def reminder_list(state: EventReminders) -> Message:
    """`/event reminders`: each reminder with its delivery counts, and change/cancel for those not gone out."""
    completed = (f"*{state.completed}* of {state.attendees} attendee{'s' if state.attendees != 1 else ''} "
                 "have said they completed the evaluation form.")
    blocks: list[Any] = [
        HeaderBlock(text=truncate(f"Evaluation reminders: {state.title}", 150)),
        SectionBlock(text=MarkdownTextObject(text=completed)),
    ]
    if not state.reminders:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text="No reminders yet. Schedule one with `/event remind`.")))
    for summary in state.reminders:
        description = describe_reminder(when_spec=summary.when_spec, due_at=summary.due_at, local_time=summary.local_time,
                              audience=summary.audience, only_incomplete=summary.only_incomplete,
                                        timezone=state.timezone)
        lines = [
            description[:1].upper() + description[1:],
            _status_line(summary),
            "> " + truncate(escape(" ".join(summary.text.split())), TEXT_PREVIEW),
        ]
        if summary.failures:
            shown = "; ".join(f"{_mention(recipient)}: {escape(reason)}" for recipient, reason in summary.failures)
            more = summary.failed - len(summary.failures)
            lines.append(f"Could not reach {shown}" + (f" and {more} more" if more > 0 else ""))
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), SECTION_LIMIT))))
        buttons = []
        if summary.can_change:
            buttons.append(ButtonElement(text="Change", action_id=CHANGE_ACTION, value=str(summary.reminder_id)))
        if summary.can_cancel:
            buttons.append(ButtonElement(
                text="Cancel" if not summary.sent else "Cancel the rest", action_id=CANCEL_ACTION,
                value=str(summary.reminder_id), style="danger",
                confirm=ConfirmObject(title="Cancel this reminder?", text="Nobody who has not had it yet will get it.",
                                      confirm="Cancel it", deny="Keep it"),
            ))
        if buttons:
            blocks.append(ActionsBlock(elements=buttons))
    if state.more:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {state.more} more not shown.")]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="`/event remind` schedules another.")]))
    return Message(text=f"Evaluation reminders for {state.title}: {len(state.reminders) + state.more}",
                   blocks=blocks_of(*blocks))


def _mention(recipient: str) -> str:
    return f"<#{recipient}>" if recipient[:1] in ("C", "G") else f"<@{recipient}>"


def saved(*, description: str, changed: bool) -> Message:
    verb = "changed" if changed else "scheduled"
    return Message(
        text=f"Reminder {verb}.",
        blocks=blocks_of(SectionBlock(text=MarkdownTextObject(
            text=f":white_check_mark: Reminder {verb}: {description}. `/event reminders` lists them all."))),
    )


def missed_notice(*, event_title: str, channel_id: str, timezone: str, when_spec: str, due_at: datetime,
                  audience: ReminderAudience, missed: int, sent: int, grace_hours: float, fanned_out: bool) -> Message:
    """To organisers: a reminder fell due while eventbot was not running and was not sent late."""
    hours = f"{grace_hours:g} hour{'s' if grace_hours != 1 else ''}"
    if not fanned_out:
        whom = "the channel" if audience == ReminderAudience.CHANNEL else "anyone"
        what = f"was not sent to {whom}"
    elif sent:
        what = f"reached {sent} people but was not sent to {missed} others"
    else:
        what = f"was not sent to the {missed} people it was for"
    text = (f":warning: The evaluation reminder for *{escape(event_title)}* due "
            f"{local_date_and_time(due_at, timezone=timezone)} (“{escape(when_spec)}”) {what}: eventbot was not "
            f"running until more than {hours} after it was due, and a late reminder would arrive out of context. "
            f"Schedule a new one with `/event remind` in <#{channel_id}> if it is still wanted.")
    return Message(text=f"An evaluation reminder for {event_title} was missed",
                   blocks=blocks_of(SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))))


# --- the modal --------------------------------------------------------------------------------------


def remind_modal(context: FormContext, *, channel_id: str) -> dict[str, Any]:
    defaults = context.defaults
    audience_options = [
        Option(value="dm", text=PlainTextObject(text="A DM to each attendee")),
        Option(value="channel", text=PlainTextObject(text="A post in the channel")),
    ]
    team_option = Option(value=INCLUDE_TEAM, text=PlainTextObject(
        text="Include the event's organisers, chairs and presenters"))
    incomplete_option = Option(value=ONLY_INCOMPLETE, text=PlainTextObject(
        text="Only people who have not said they completed the form"))
    form = (f"The form: {escape(context.form_url)}" if context.form_url
            else "This event has no evaluation form link yet: add it with `/event setup`, or paste a link below.")
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=truncate(f"*{escape(context.event_title)}*\n{form}", SECTION_LIMIT))),
        InputBlock(
            block_id="when", label="When",
            hint=(f"'at close', '2 hours after', 'next day 10:00', or a date and time such as '2031-03-28 16:30', "
                  f"in the event's time zone ({context.event_timezone}). 'next day 10:00' DMs arrive at 10:00 in "
                  "each person's own time zone."),
            element=PlainTextInputElement(action_id=VALUE, initial_value=defaults.when, max_length=100),
        ),
        InputBlock(
            block_id="audience", label="To whom",
            element=RadioButtonsElement(
                action_id=VALUE, options=audience_options,
                initial_option=audience_options[0] if defaults.audience == "dm" else audience_options[1]),
        ),
        InputBlock(
            block_id=ONLY_INCOMPLETE, label="Already done it?", optional=True,
            hint="For DMs. A channel post reaches everyone.",
            element=CheckboxesElement(action_id=VALUE, options=[incomplete_option],
                                      initial_options=[incomplete_option] if defaults.only_incomplete else None),
        ),
        InputBlock(
            block_id=INCLUDE_TEAM, label="The event's team", optional=True,
            hint="Its organisers, chairs and presenters are left out of DMs unless you tick this.",
            element=CheckboxesElement(action_id=VALUE, options=[team_option],
                                      initial_options=[team_option] if defaults.include_team else None),
        ),
        InputBlock(
            block_id="text", label="Text",
            hint="{form_url} becomes the evaluation form's link. Every DM also has the form's button and "
                 "an \"I've completed it\" button.",
            element=PlainTextInputElement(action_id=VALUE, multiline=True, initial_value=defaults.text,
                                          max_length=SECTION_LIMIT),
        ),
    ]
    return View(
        type="modal",
        callback_id=REMIND_CALLBACK,
        title="Evaluation reminder" if context.reminder_id is None else "Change reminder",
        submit="Save",
        close="Cancel",
        private_metadata=json.dumps({"channel_id": channel_id, "event_id": context.event_id,
                                     "reminder_id": context.reminder_id}),
        blocks=blocks,
    ).to_dict()


def form_values(values: dict[str, Any]) -> dict[str, Any]:
    """The fields of `bot.reminders.ReminderForm` from the modal's plain values, by block id."""
    return {
        "when": values.get("when") or "",
        "audience": values.get("audience") or "",
        "only_incomplete": ONLY_INCOMPLETE in (values.get(ONLY_INCOMPLETE) or []),
        "include_team": INCLUDE_TEAM in (values.get(INCLUDE_TEAM) or []),
        "text": values.get("text") or "",
    }

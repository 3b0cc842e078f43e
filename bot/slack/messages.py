"""Block Kit for everything eventbot says, built in one place.

Built from `slack_sdk.models.blocks`, whose classes check Slack's length limits as they are made,
so a message that would be refused by Slack fails here, in a test, first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.capabilities import Capability
from bot.slack.text import escape, truncate

# Slack refuses a section block whose text is longer than this.
SECTION_LIMIT = 3000


@dataclass(frozen=True)
class Message:
    """A message ready to send: fallback text (notifications, screen readers) and blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_ephemeral(self) -> dict[str, Any]:
        """A reply only its reader sees; through a response URL it never replaces the message clicked."""
        return {"response_type": "ephemeral", "replace_original": False, "text": self.text, "blocks": self.blocks}

    def as_post(self) -> dict[str, Any]:
        """Keyword arguments for chat.postMessage / chat.postEphemeral / chat.update."""
        return {"text": self.text, "blocks": self.blocks}


def blocks_of(*blocks: Any) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def help_message(capabilities: tuple[Capability, ...], *, for_you: bool = False) -> Message:
    lines = [f"• `{escape(c.usage)}` ({escape(c.who)}): {escape(c.description)}" for c in capabilities]
    title = "What you can do with eventbot" if for_you else "What eventbot can do"
    note = ("Type a command in an event's channel. Only what you may do here is listed: chairs and organisers "
            "see their own commands too." if for_you else "Type a command in an event's channel.")
    return Message(
        text=f"{title}: " + "; ".join(c.usage for c in capabilities),
        blocks=blocks_of(
            HeaderBlock(text=title),
            *(SectionBlock(text=MarkdownTextObject(text=chunk)) for chunk in _sections(lines)),
            ContextBlock(elements=[MarkdownTextObject(text=note)]),
        ),
    )


def _sections(lines: list[str]) -> list[str]:
    """Lines gathered into as few sections as Slack's per-section limit allows, none split."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= SECTION_LIMIT:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return chunks


def notice(text: str) -> Message:
    """A short plain answer: refusals, corrections, confirmations."""
    return Message(text=text, blocks=blocks_of(SectionBlock(text=MarkdownTextObject(text=text))))


def no_event_in_channel(*, command: str) -> Message:
    return notice(
        f"There is no live event in this channel, so `{command}` has nowhere to go. "
        "Use it in the channel where your session is running, or ask the organiser to set "
        "an event up in this channel."
    )


# Enough of an unknown subcommand to recognise it; the whole word can be as long as the command.
UNKNOWN_SUBCOMMAND_SHOWN = 40


def unknown_subcommand(subcommand: str) -> Message:
    shown = truncate(escape(subcommand), UNKNOWN_SUBCOMMAND_SHOWN)
    return notice(f"I don't know `/event {shown}`. Type `/event help` to see what I can do.")


def something_went_wrong() -> Message:
    return notice(
        "Sorry, something went wrong on our side and nothing was changed. "
        "Please try again in a moment."
    )


def not_set_up_here() -> Message:
    return notice("eventbot is not set up for this workspace, so nothing was done.")


# Said by Bolt, distributed, to someone in a workspace with no install (or a removed one).
NOT_INSTALLED_HERE = ("eventbot is not installed in this workspace (or was removed), so nothing was done: "
                      "ask a workspace admin to add it again.")


# What to tell a person when Slack refuses a post we made for them.
SLACK_ERROR_ADVICE = {
    "not_in_channel": "I am not in this channel: invite me with `/invite @eventbot`, then try again.",
    "channel_not_found": "I cannot see this channel: invite me with `/invite @eventbot`, then try again.",
    "is_archived": "This channel is archived, so I cannot post in it.",
    "ratelimited": "Slack is asking me to slow down: please try again in a minute.",
}


def slack_refused(error_code: str) -> Message:
    advice = SLACK_ERROR_ADVICE.get(error_code, "Please try again in a moment.")
    return notice(f"Slack did not accept my message ({escape(error_code)}). {advice}")


def form_not_opened(error_code: str) -> Message:
    """Slack would not open a modal: most often its trigger expired (3 seconds after the click)."""
    advice = SLACK_ERROR_ADVICE.get(error_code, "Please try the command or button again.")
    return notice(f"I could not open the form ({escape(error_code)}). {advice}")


def ok(text: str) -> Message:
    return notice(f":white_check_mark: {text}")

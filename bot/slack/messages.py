"""Block Kit for everything eventbot says, built in one place.

Built from `slack_sdk.models.blocks`, whose classes check Slack's length limits as they are made,
so a message that would be refused by Slack fails here, in a test, first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.capabilities import Capability
from bot.slack.text import escape


@dataclass(frozen=True)
class Message:
    """A message ready to send: fallback text (notifications, screen readers) and blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_ephemeral(self) -> dict[str, Any]:
        return {"response_type": "ephemeral", "text": self.text, "blocks": self.blocks}


def _blocks(*blocks: Any) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def help_message(capabilities: tuple[Capability, ...]) -> Message:
    lines = [f"• `{escape(c.usage)}` ({escape(c.who)}): {escape(c.description)}" for c in capabilities]
    return Message(
        text="What eventbot can do: " + "; ".join(c.usage for c in capabilities),
        blocks=_blocks(
            HeaderBlock(text="What eventbot can do"),
            SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
            ContextBlock(elements=[MarkdownTextObject(text="Type a command in an event's channel.")]),
        ),
    )


def notice(text: str) -> Message:
    """A short plain answer: refusals, corrections, confirmations."""
    return Message(text=text, blocks=_blocks(SectionBlock(text=MarkdownTextObject(text=text))))


def no_event_in_channel(*, command: str) -> Message:
    return notice(
        f"There is no live event in this channel, so `{command}` has nowhere to go. "
        "Use it in the channel where your session is running, or ask the organiser to set "
        "an event up in this channel."
    )


def unknown_subcommand(subcommand: str) -> Message:
    return notice(
        f"I don't know `/event {escape(subcommand)}`. Type `/event help` to see what I can do."
    )


def something_went_wrong() -> Message:
    return notice(
        "Sorry, something went wrong on our side and nothing was changed. "
        "Please try again in a moment."
    )

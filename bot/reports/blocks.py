"""Block Kit for the event report: its figures at a glance (the chart and exports go to a DM)."""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.organisations import blocks as organisation_blocks
from bot.reports.rules import Report, figures
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import plain, truncate


def summary(found: Report) -> Message:
    lines = [f"• {name[:1].upper() + name[1:]}: *{value}*" for name, value in figures(found)]
    return Message(text=f"The event report for {found.title}", blocks=blocks_of(
        HeaderBlock(text=truncate(plain(f"Report: {found.title}"), 150)),
        SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), SECTION_LIMIT))),
        *(organisation_blocks.figure_blocks(found.organisations) if found.organisations is not None else []),
        ContextBlock(elements=[MarkdownTextObject(
            text="The chart, and the report as Markdown and CSV, are in your DMs.")]),
    ))

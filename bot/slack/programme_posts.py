"""Block Kit for what the bot posts in the event channel as the session runs."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.models import AgendaSegment, Event, ReflectionPrompt, ReflectionTheme
from bot.slack.messages import Message, blocks_of
from bot.slack.text import escape, local_date_and_time, local_time, truncate

SHARE_REFLECTION_ACTION = "share_reflection"

THEME_NAMES: dict[ReflectionTheme, str] = {
    ReflectionTheme.IMPROVEMENT: "improvement",
    ReflectionTheme.COLLABORATIVE_WORKING: "collaborative working",
    ReflectionTheme.EQUITY: "equity",
    ReflectionTheme.NEXT_STEPS: "next steps",
}

SECTION_LIMIT = 3000
HEADER_LIMIT = 150


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=truncate(text, HEADER_LIMIT))


def _section(mrkdwn: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(mrkdwn, SECTION_LIMIT)))


def _speakers(segment: AgendaSegment) -> str:
    return "; ".join(escape(s) for s in segment.speakers)


def agenda_lines(event: Event, segments: list[AgendaSegment]) -> str:
    lines = []
    for segment in segments:
        line = f"• {local_time(segment.scheduled_at, timezone=event.timezone)}  *{escape(segment.title)}*"
        if segment.speakers:
            line += f"\n      {_speakers(segment)}"
        lines.append(line)
    return "\n".join(lines)


def welcome(event: Event, segments: list[AgendaSegment]) -> Message:
    parts = [
        _header(f"Welcome to {event.title}"),
        _section(
            f"The session runs from {local_date_and_time(event.starts_at, timezone=event.timezone)} "
            f"to {local_time(event.ends_at, timezone=event.timezone)}."
        ),
    ]
    if segments:
        parts.append(_section("*Agenda*\n" + agenda_lines(event, segments)))
    if event.housekeeping_notes:
        parts.append(_section("*Housekeeping*\n" + "\n".join(f"• {escape(n)}" for n in event.housekeeping_notes)))
    if event.partner_organisations:
        parts.append(
            ContextBlock(elements=[MarkdownTextObject(text=truncate(
                "In partnership with " + ", ".join(escape(p) for p in event.partner_organisations), 2000))])
        )
    parts.append(
        ContextBlock(elements=[MarkdownTextObject(
            text="Ask questions with `/ask`, and answer the reflection prompts in their threads as they appear.")])
    )
    return Message(text=f"Welcome to {escape(event.title)}", blocks=blocks_of(*parts))


def segment_started(event: Event, segment: AgendaSegment, upcoming: AgendaSegment | None) -> Message:
    parts = [_section(f":arrow_forward: *Now: {escape(segment.title)}*" + (f"\n{_speakers(segment)}" if segment.speakers else ""))]
    if upcoming is not None:
        parts.append(ContextBlock(elements=[MarkdownTextObject(text=f"Next: {escape(truncate(upcoming.title, 500))}")]))
    return Message(text=f"Now: {escape(segment.title)}", blocks=blocks_of(*parts))


def prompt(prompt: ReflectionPrompt) -> Message:
    return Message(
        text=f"Reflection: {escape(prompt.text)}",
        blocks=blocks_of(
            _section(f":thought_balloon: *Reflection: {THEME_NAMES[prompt.theme]}*\n{escape(prompt.text)}"),
            ContextBlock(elements=[MarkdownTextObject(
                text="Reply in this thread, or share privately (you can stay anonymous) with the button.")]),
            ActionsBlock(elements=[ButtonElement(
                text="Share a reflection", action_id=SHARE_REFLECTION_ACTION, value=str(prompt.id))]),
        ),
    )


def close(event: Event, counts: dict[ReflectionTheme, int]) -> Message:
    tally = "\n".join(
        f"• {THEME_NAMES[theme].capitalize()}: {count} reflection{'s' if count != 1 else ''}"
        for theme, count in counts.items()
    )
    parts = [
        _header("Thank you for taking part"),
        _section(f"Thank you for joining *{escape(event.title)}*.\n\n*What you shared*\n{tally}"),
    ]
    if event.evaluation_form_url:
        parts.append(_section(
            f"*Tell us what you think*\nPlease take a few minutes to fill in the <{escape(event.evaluation_form_url)}|evaluation form>: "
            "we really do appreciate your feedback."))
    if event.next_event_notice:
        parts.append(DividerBlock())
        parts.append(_section(f"*Next time*\n{escape(event.next_event_notice)}"))
    return Message(text=f"Thank you for joining {escape(event.title)}", blocks=blocks_of(*parts))

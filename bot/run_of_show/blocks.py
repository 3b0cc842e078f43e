"""Block Kit for what the bot posts in the event channel as the session runs."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.models import AgendaSegment, Event, ReflectionPrompt
from bot.organisations import blocks as organisation_blocks
from bot.reflections.blocks import SHARE_REFLECTION_ACTION, topic_name
from bot.reflections.rules import Topic
from bot.run_of_show.rules import NextItem, RunState
from bot.slack import messages
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import escape, local_date_and_time, local_time, truncate

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
    if event.partner_organisations:
        # Once per event, one click: whose voices are heard is counted per organisation.
        parts.extend(organisation_blocks.choice_blocks(event.id, list(event.partner_organisations)))
    return Message(text=f"Welcome to {escape(event.title)}", blocks=blocks_of(*parts))


def segment_started(event: Event, segment: AgendaSegment, upcoming: AgendaSegment | None,
                    missed: list[AgendaSegment] | None = None) -> Message:
    parts = [_section(f":arrow_forward: *Now: {escape(segment.title)}*" + (f"\n{_speakers(segment)}" if segment.speakers else ""))]
    if missed:
        # After downtime the room hears where the session is, not a burst of stale announcements.
        parts.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(
            "Not announced here while eventbot was unavailable: " + "; ".join(escape(m.title) for m in missed), 2000))]))
    if upcoming is not None:
        parts.append(ContextBlock(elements=[MarkdownTextObject(text=f"Next: {escape(truncate(upcoming.title, 500))}")]))
    return Message(text=f"Now: {escape(segment.title)}", blocks=blocks_of(*parts))


def prompt(prompt: ReflectionPrompt) -> Message:
    return Message(
        text=f"Reflection: {escape(prompt.text)}",
        blocks=blocks_of(
            _section(f":thought_balloon: *Reflection: {topic_name(prompt.topic)}*\n{escape(prompt.text)}"),
            ContextBlock(elements=[MarkdownTextObject(
                text="Reply in this thread, or share privately (you can stay anonymous) with the button.")]),
            ActionsBlock(elements=[ButtonElement(
                text="Share a reflection", action_id=SHARE_REFLECTION_ACTION, value=str(prompt.id))]),
        ),
    )


def close(event: Event, counts: dict[Topic, int]) -> Message:
    tally = "\n".join(
        f"• {topic_name(theme, capital=True)}: {count} reflection{'s' if count != 1 else ''}"
        for theme, count in counts.items()
    )
    shared = f"\n\n*What you shared*\n{tally}" if tally else ""  # only the themes that were prompted
    parts = [
        _header("Thank you for taking part"),
        _section(f"Thank you for joining *{escape(event.title)}*.{shared}"),
    ]
    if event.evaluation_form_url:
        parts.append(_section(
            f"*Tell us what you think*\nPlease take a few minutes to fill in the <{escape(event.evaluation_form_url)}|evaluation form>: "
            "we really do appreciate your feedback."))
    if event.next_event_notice:
        parts.append(DividerBlock())
        parts.append(_section(f"*Next time*\n{escape(event.next_event_notice)}"))
    return Message(text=f"Thank you for joining {escape(event.title)}", blocks=blocks_of(*parts))


def missed_while_away(event: Event, *, ended: datetime, started: bool, segments: list[AgendaSegment],
                      prompts: list[ReflectionPrompt]) -> Message:
    """To the organisers: the event ended while eventbot was away, so nothing more was posted."""
    zone = event.timezone
    lines = [f":warning: *{escape(event.title)}* in <#{event.channel_id}> was due to end at "
             f"{local_date_and_time(ended, timezone=zone)}, while eventbot was not running. "
             "So that nobody is surprised long after the session, nothing more was posted in the channel:"]
    if not started:
        lines.append("• the welcome (the session never started in Slack)")
    lines.extend(f"• agenda item: {escape(s.title)}" for s in segments)
    lines.extend(f"• the {topic_name(p.topic)} prompt" for p in prompts)
    lines.append("• the close, with its thank-you and the evaluation form")
    lines.append("The event is now closed. Follow-ups and reminders carry on as planned; post a thank-you with "
                 "the form's link in the channel yourself if the audience should still have it.")
    text = "\n".join(lines)
    return Message(text=f"{escape(event.title)} ended while eventbot was away", blocks=blocks_of(_section(text)))


def pace_changed(state: RunState, *, what: str) -> Message:
    """What a hold, a resume or an extension did, and when the rest of the session now comes."""
    return Message(text=what, blocks=blocks_of(_section(what + "\n" + "\n".join(_coming(state)))))


def _coming(state: RunState) -> list[str]:
    zone = state.event.timezone
    lines = []
    if state.next_segment is not None and state.next_segment_due is not None:
        lines.append(f"• Next: *{escape(state.next_segment.title)}* at "
                     f"{local_time(state.next_segment_due, timezone=zone)}")
    for prompt in state.unposted_prompts:
        due = state.prompt_due(prompt)
        if due is not None:
            lines.append(f"• The {topic_name(prompt.topic)} prompt at {local_time(due, timezone=zone)}")
    if state.closes_at is not None:
        lines.append(f"• The close at {local_time(state.closes_at, timezone=zone)}")
    if state.event.held_at is not None:
        lines = [line + " (on hold)" for line in lines]
    return lines


def status(state: RunState) -> Message:
    event = state.event
    zone = event.timezone
    lines = [f"*{escape(event.title)}* is {event.status.value}."]
    if event.held_at is not None:
        lines.append(f":double_vertical_bar: On hold since {local_time(event.held_at, timezone=zone)}: nothing is "
                     "posted on schedule until `/event resume`; later times move by the time held.")
    if state.current_segment is not None:
        lines.append(f"Now: *{escape(state.current_segment.title)}*")
    if state.next_segment is not None and state.next_segment_due is not None:
        lines.append(
            f"Next: *{escape(state.next_segment.title)}* at {local_time(state.next_segment_due, timezone=zone)} "
            "(or now, with `/event next`)"
        )
    elif event.status.value == "live":
        lines.append("Every agenda item has been announced; `/event close` ends the session.")
    offset_minutes = round(event.schedule_offset_seconds / 60)
    if offset_minutes:
        lines.append(f"Running {abs(offset_minutes)} minute{'s' if abs(offset_minutes) != 1 else ''} "
                     f"{'behind' if offset_minutes > 0 else 'ahead of'} the programme.")
    if state.unposted_prompts:
        lines.append("Prompts not yet posted: " + ", ".join(
            # What a chair types after `/event prompt`: the theme's key, or the prompt's own name.
            f"`{p.theme.value if p.theme is not None else escape(p.name or '')}`"
            + (f" at {local_time(due, timezone=zone)}" if (due := state.prompt_due(p)) else "")
            for p in state.unposted_prompts))
    lines.append("Reflections so far: " + ", ".join(
        f"{topic_name(t)} {n}" for t, n in state.reflection_counts.items()))
    if state.closes_at is not None:
        lines.append(f"{'Closed' if event.closed_at else 'Closes'} at {local_time(state.closes_at, timezone=zone)}.")
    return Message(text=f"Status of {escape(event.title)}", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), SECTION_LIMIT)))))


def next_item_reply(outcome: NextItem) -> Message:
    """The chair's answer to `/event next`: what was announced, or what another press did first."""
    following = f" `/event next` again moves on to {escape(outcome.following.title)}." if outcome.following else ""
    if outcome.segment is not None:
        resumed = " The hold is over." if outcome.resumed else ""
        return messages.ok(f"Announced: {escape(outcome.segment.title)}. Later posts now follow your pace.{resumed}")
    if outcome.earlier is not None:
        who = (f"by <@{outcome.earlier.announced_by_slack_id}>" if outcome.earlier.announced_by_slack_id
               else "on schedule")
        return messages.notice(f"{escape(outcome.earlier.title)} was just announced {who}, so this press "
                               f"announced nothing.{following}")
    return messages.notice("Every agenda item has been announced. `/event close` ends the session.")

"""Block Kit for what chairs pull during and after a session: status and the reflections digest."""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.models import ReflectionTheme
from bot.reflections import SharedReflection
from bot.run_of_show import SessionStatus
from bot.slack.messages import Message, blocks_of
from bot.slack.programme_posts import THEME_NAMES
from bot.slack.text import escape, local_time, truncate

MAX_MESSAGE_BLOCKS = 50
SECTION_LIMIT = 3000


def status(state: SessionStatus) -> Message:
    event = state.event
    zone = event.timezone
    lines = [f"*{escape(event.title)}* is {event.status.value}."]
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
            f"`{p.theme.value}`" + (f" at {local_time(p.scheduled_at, timezone=zone)}" if p.scheduled_at else "")
            for p in state.unposted_prompts))
    lines.append("Reflections so far: " + ", ".join(
        f"{THEME_NAMES[t]} {n}" for t, n in state.reflection_counts.items()))
    lines.append(f"Closes at {local_time(event.ends_at, timezone=zone)}.")
    return Message(text=f"Status of {escape(event.title)}", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), SECTION_LIMIT)))))


def reflections_digest(title: str, reflections: list[SharedReflection], *, csv_sent: bool) -> Message:
    """Grouped by theme; anonymous ones carry no name. Long digests are cut to fit one message,
    and the CSV sent to the chair's DM always holds every reflection."""
    blocks: list = [HeaderBlock(text=truncate(f"Reflections: {title}", 150))]
    by_theme: dict[ReflectionTheme, list[SharedReflection]] = {t: [] for t in ReflectionTheme}
    for reflection in reflections:
        by_theme[reflection.theme].append(reflection)
    omitted = 0
    for theme, items in by_theme.items():
        header = f"*{THEME_NAMES[theme].capitalize()}* ({len(items)})"
        if not items:
            chunks = [header + "\n_No reflections yet._"]
        else:
            chunks, current = [], header
            for item in items:
                who = f"<@{item.author_slack_id}>" if item.author_slack_id else "_anonymous_"
                line = f"\n• {truncate(escape(item.text), 600)} ({who})"
                if len(current) + len(line) > SECTION_LIMIT:
                    chunks.append(current)
                    current = ""
                current += line
            chunks.append(current)
        for chunk in chunks:
            # Keep two blocks for the closing context line and the "more in the CSV" note.
            if len(blocks) >= MAX_MESSAGE_BLOCKS - 2:
                omitted += chunk.count("\n• ")
                continue
            blocks.append(SectionBlock(text=MarkdownTextObject(text=chunk)))
    notes = []
    if omitted:
        notes.append(f"{omitted} more reflections did not fit here.")
    notes.append("The full list is in your DMs as a CSV file." if csv_sent else "The CSV file could not be sent to your DMs.")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" ".join(notes))]))
    return Message(text=f"Reflections: {escape(title)} ({len(reflections)})", blocks=blocks_of(*blocks))

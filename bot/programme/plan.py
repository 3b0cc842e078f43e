"""What the bot will do for a programme: the timeline, and the plan `eventbot event plan` prints."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.clock import day_label, format_local, hhmm, zone_label
from bot.models import ReminderAudience
from bot.programme.schema import PersonRef, Programme, TimelineEntry
from bot.reminders.timing import render_reminder_text


def _people(refs: tuple[PersonRef, ...]) -> str:
    return ", ".join(str(ref) for ref in refs) or "none"


def timeline(programme: Programme) -> list[TimelineEntry]:
    """Everything the bot will post for this programme, in time order (UTC instants)."""
    # Ties (the first segment at the start, a reminder "at close") follow the order of a session:
    # welcome, segment, prompt, close, reminder.
    rank = {"welcome": 0, "segment": 1, "prompt": 2, "close": 3, "reminder": 4}
    entries: list[TimelineEntry] = []

    agenda = "; ".join(f"{segment.position}. {segment.title}" for segment in programme.segments)
    notes = len(programme.housekeeping)
    entries.append(
        TimelineEntry(
            programme.starts_at,
            "welcome",
            f"Welcome to {programme.title}: the agenda ({agenda}) and "
            f"{notes} housekeeping note{'s' if notes != 1 else ''}",
        )
    )
    for segment in programme.segments:
        speakers = f" — {'; '.join(segment.speakers)}" if segment.speakers else ""
        entries.append(
            TimelineEntry(
                segment.starts_at,
                "segment",
                f"Announce agenda item {segment.position} ({segment.kind.value}): {segment.title}{speakers}",
            )
        )
    for prompt in programme.prompts:
        if prompt.at is not None:
            entries.append(TimelineEntry(prompt.at, "prompt", f"Reflection prompt ({prompt.label}): {prompt.text}"))

    close = ["thanks", "reflection counts"]
    if programme.evaluation_form_url:
        close.append(f"evaluation form link {programme.evaluation_form_url}")
    else:
        close.append("no evaluation form link (none set)")
    if programme.next_event:
        close.append(f"next event: {programme.next_event}")
    entries.append(TimelineEntry(programme.ends_at, "close", "Close: " + ", ".join(close)))

    for reminder in programme.reminders:
        if reminder.audience is ReminderAudience.CHANNEL:
            who = "Reminder in the channel"
        elif reminder.only_incomplete:
            who = "Reminder by DM to everyone who has not said they completed the evaluation"
        else:
            who = "Reminder by DM to every participant"
        when = (
            f" at {reminder.local_time_for_recipient} in each recipient's own time zone"
            if reminder.local_time_for_recipient
            else ""
        )
        text = render_reminder_text(reminder.text, programme.evaluation_form_url)
        entries.append(TimelineEntry(reminder.due_at, "reminder", f"{who}{when} ({reminder.when_spec}): {text}"))

    entries.sort(key=lambda entry: (entry.at, rank[entry.kind]))
    return entries


def format_plan(programme: Programme) -> str:
    """A human-readable plan: header, then one line per timeline entry in the event's local time."""
    zone = ZoneInfo(programme.timezone)
    start = programme.starts_at.astimezone(zone)
    end = programme.ends_at.astimezone(zone)
    if zone_label(start) == zone_label(end):
        hours = f"{hhmm(start)}–{hhmm(end)} {zone_label(end)}"
    else:  # the clocks change during the session: label each end
        hours = f"{hhmm(start)} {zone_label(start)} – {hhmm(end)} {zone_label(end)}"
    lines = [
        programme.title,
        f"date: {day_label(start.date())}, {hours}",
        f"time zone: {programme.timezone}",
        f"channel: {programme.channel_id or 'set with --channel on import'}",
        f"organisers: {_people(programme.organisers)}",
        f"chairs: {_people(programme.chairs)}",
        f"presenters: {_people(programme.presenters)}",
        f"evaluation form: {programme.evaluation_form_url or 'none'}",
        f"follow-up window: {programme.follow_up_days} days; "
        f"personal data kept: {programme.retention_days} days after the close; "
        f"questions need a chair's approval: {'yes' if programme.questions_need_approval else 'no'}",
        "starts: " + ("when a chair runs /event start" if programme.waits_for_chair else "by itself at its start time"),
    ]
    if programme.partners:
        lines.append(f"partners: {', '.join(programme.partners)}")
    lines += ["", f"timeline (times in {programme.timezone}):"]
    for entry in timeline(programme):
        description = " ".join(entry.description.split())
        lines.append(f"  {format_local(entry.at, zone)}  {entry.kind:<8}  {description}")
    unscheduled = [prompt for prompt in programme.prompts if prompt.at is None]
    if unscheduled:
        lines += ["", "posted when a chair asks:"]
        lines += [f"  reflection prompt ({prompt.label}): {prompt.text}" for prompt in unscheduled]
    return "\n".join(lines) + "\n"


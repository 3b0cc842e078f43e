"""When a reminder is due, and what its text says: the rules shared by programme files and `/event remind`."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.clock import UTC, hhmm, local_to_utc, parse_hhmm, zone

DEFAULT_GRACE_HOURS = 6
# A grace window longer than a week would deliver an evaluation reminder long after it is useful.
MAX_GRACE_HOURS = 168
FORM_URL_PLACEHOLDER = "{form_url}"
# Slack's 3,000-character limit on a section block's text.
MAX_TEXT_CHARS = 3000
# An evaluation reminder a year after the event reaches nobody who remembers it; the cap also keeps
# "99999999 hours after" from overflowing the date arithmetic.
MAX_DAYS_AFTER_CLOSE = 365

REMINDER_FORMS = (
    "'at close', "
    "'N hours after' or 'N minutes after' the close (e.g. '2 hours after', '90 minutes after'), "
    "'next day HH:MM' (e.g. 'next day 10:00'), "
    "or a date and time 'YYYY-MM-DD HH:MM' (e.g. '2024-02-27 10:00'); "
    "times are in the event's time zone"
)

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


_RELATIVE = re.compile(r"^(\d+)\s+(hours?|hrs?|minutes?|mins?)\s+after(?:\s+(?:the\s+)?close)?$")
_NEXT_DAY = re.compile(r"^next\s+day\s+(?:at\s+)?(\S+)$")
_ABSOLUTE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s+|t)(\S+)$")


def resolve_reminder_time(when_spec: str, *, event_ends_at: datetime, timezone: str) -> tuple[datetime, str | None]:
    """When a reminder is due: (aware UTC instant, "HH:MM" if it is a per-recipient local time).

    Forms (case and spacing do not matter): "at close"; "N hours after" / "N minutes after"
    (the close; "after close" is accepted too); "next day HH:MM" (the day after the event's
    close, in the event's zone, and per recipient); "YYYY-MM-DD HH:MM" (in the event's zone).
    Raises ValueError naming the valid forms for anything else, and for a time more than
    MAX_DAYS_AFTER_CLOSE days after the close.
    """
    if event_ends_at.tzinfo is None:
        raise ValueError("event_ends_at must be timezone-aware")
    event_zone = zone(timezone)
    spec = " ".join(when_spec.lower().split())
    if spec in ("at close", "close", "at the close"):
        return event_ends_at.astimezone(UTC), None
    if match := _RELATIVE.match(spec):
        amount = int(match.group(1))
        unit = timedelta(hours=1) if match.group(2).startswith("h") else timedelta(minutes=1)
        if amount > MAX_DAYS_AFTER_CLOSE * (timedelta(days=1) // unit):
            raise ValueError(_too_late(when_spec))
        # Plain arithmetic on the UTC instant: "2 hours after" is two elapsed hours, DST or not.
        return event_ends_at.astimezone(UTC) + amount * unit, None
    if match := _NEXT_DAY.match(spec):
        wall = parse_hhmm(match.group(1))
        next_day = event_ends_at.astimezone(event_zone).date() + timedelta(days=1)
        return local_to_utc(next_day, wall, event_zone, timezone), hhmm(wall)
    if match := _ABSOLUTE.match(spec):
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            raise ValueError(f"{match.group(1)!r} is not a real date: write YYYY-MM-DD") from None
        if (day - event_ends_at.astimezone(event_zone).date()).days > MAX_DAYS_AFTER_CLOSE:
            raise ValueError(_too_late(when_spec))
        return local_to_utc(day, parse_hhmm(match.group(2)), event_zone, timezone), None
    raise ValueError(f"unknown reminder time {when_spec!r}: use {REMINDER_FORMS}")


def timed_from_close(when_spec: str) -> bool:
    """Whether a reminder's time is counted from the close (and so moves when the close does)."""
    return not _ABSOLUTE.match(" ".join(when_spec.lower().split()))


def _too_late(when_spec: str) -> str:
    return (f"{when_spec!r} is more than {MAX_DAYS_AFTER_CLOSE} days after the event's close: "
            "choose a time within a year of the event")


def render_reminder_text(text: str, evaluation_form_url: str | None) -> str:
    """A reminder's text with {form_url} replaced by the evaluation form's address.

    ReminderPlan.text keeps the placeholder as written, so the caller chooses when the URL is
    filled in (at import, or at sending time if the form may still change).
    """
    return text.replace(FORM_URL_PLACEHOLDER, evaluation_form_url or "(no evaluation form set)")




def placeholder_problem(text: str, evaluation_form_url: str | None) -> str | None:
    """What is wrong with a reminder text's placeholders, or None: an unknown one, or {form_url} with no form."""
    for name in _PLACEHOLDER.findall(text):
        if "{" + name + "}" != FORM_URL_PLACEHOLDER:
            return f"{{{name}}} is not a placeholder; the only one is {FORM_URL_PLACEHOLDER}."
    if FORM_URL_PLACEHOLDER in text and not evaluation_form_url:
        return (f"The text uses {FORM_URL_PLACEHOLDER}, but the event has no evaluation form link: add one "
                "(`/event setup`, or evaluation_form_url in a programme file), or paste the link itself.")
    return None

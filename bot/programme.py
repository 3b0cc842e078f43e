"""Programme files: an event's run of show written in TOML, checked, and turned into a timeline.

A programme file describes one live session: the event itself, its agenda, the four reflection
prompts, the evaluation reminders, partner organisations, housekeeping notes and the next-event
notice. `docs/programme-files.md` documents every key; `examples/provider-collaboratives.toml`
is a complete example.

This module is pure domain code (no Slack, no database): `eventbot event plan FILE` uses it to
show what the bot will post and when, and `eventbot event import FILE` stores the result.

Times in a file are wall-clock times in the event's own time zone; everything this module
returns is timezone-aware UTC, so daylight-saving changes are dealt with once, here.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.models import ReflectionTheme, ReminderAudience, SegmentKind

__all__ = [
    "DEFAULT_FOLLOW_UP_DAYS",
    "DEFAULT_GRACE_HOURS",
    "DEFAULT_PROMPTS",
    "DEFAULT_TIMEZONE",
    "FORM_URL_PLACEHOLDER",
    "PersonRef",
    "Problem",
    "Programme",
    "ProgrammeError",
    "PromptPlan",
    "ReminderPlan",
    "SegmentPlan",
    "TimelineEntry",
    "format_plan",
    "load_programme",
    "parse_programme",
    "render_reminder_text",
    "resolve_reminder_time",
    "timeline",
    "to_utc",
]

UTC = dt_timezone.utc

DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_FOLLOW_UP_DAYS = 14
DEFAULT_GRACE_HOURS = 6
FORM_URL_PLACEHOLDER = "{form_url}"

# The wording the seed event used; a [[prompts]] block without `text` gets its theme's line.
DEFAULT_PROMPTS: dict[ReflectionTheme, str] = {
    ReflectionTheme.IMPROVEMENT: "What are you hearing that relates to improvement?",
    ReflectionTheme.COLLABORATIVE_WORKING: "What are you hearing that relates to collaborative working?",
    ReflectionTheme.EQUITY: "What are you hearing that relates to equity?",
    ReflectionTheme.NEXT_STEPS: "What actions or next steps might you take following this learning?",
}

# Limits match the database columns the importer writes to (String(255), String(2000)) and
# Slack's 3,000-character limit on a section block's text.
MAX_TITLE_CHARS = 255
MAX_URL_CHARS = 2000
MAX_TEXT_CHARS = 3000
FOLLOW_UP_DAYS_RANGE = (1, 90)
# A grace window longer than a week would deliver an evaluation reminder long after it is useful.
MAX_GRACE_HOURS = 168

# "dm" is what organisers write; "direct_message" is the stored value, accepted too.
AUDIENCES: dict[str, ReminderAudience] = {
    "dm": ReminderAudience.DIRECT_MESSAGE,
    "direct_message": ReminderAudience.DIRECT_MESSAGE,
    "channel": ReminderAudience.CHANNEL,
}

EVENT_KEYS = (
    "title",
    "date",
    "start",
    "end",
    "timezone",
    "channel",
    "evaluation_form_url",
    "follow_up_days",
    "questions_need_approval",
    "organisers",
    "chairs",
    "presenters",
    "housekeeping",
    "partners",
    "next_event",
)
TOP_LEVEL_KEYS = ("event", "agenda", "prompts", "reminders")
AGENDA_KEYS = ("title", "start", "kind", "speakers")
PROMPT_KEYS = ("theme", "text", "at")
REMINDER_KEYS = ("when", "audience", "only_incomplete", "text", "grace_hours")

REMINDER_FORMS = (
    "'at close', "
    "'N hours after' or 'N minutes after' the close (e.g. '2 hours after', '90 minutes after'), "
    "'next day HH:MM' (e.g. 'next day 10:00'), "
    "or a date and time 'YYYY-MM-DD HH:MM' (e.g. '2024-02-27 10:00'); "
    "times are in the event's time zone"
)

# Slack user IDs: U… for ordinary users, W… for Enterprise Grid users; upper-case letters and
# digits. Channel IDs: C… for public channels, G… for older private channels.
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{8,31}$")
_SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{8,31}$")
# Deliberately loose: the importer looks the address up in Slack, which is the real check.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_BARE_TIME_LINE = re.compile(r"=\s*\d{1,2}:\d{2}\s*(#.*)?$")

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --- what a programme becomes ----------------------------------------------------------------


@dataclass(frozen=True)
class PersonRef:
    """Someone named in a programme: by Slack user ID, or by email for the importer to look up."""

    slack_user_id: str | None
    email: str | None

    def __post_init__(self) -> None:
        if (self.slack_user_id is None) == (self.email is None):
            raise ValueError("a PersonRef has exactly one of slack_user_id and email")

    def __str__(self) -> str:
        return self.slack_user_id or self.email or ""


@dataclass(frozen=True)
class SegmentPlan:
    position: int  # 1 for the first [[agenda]] block
    title: str
    kind: SegmentKind
    speakers: tuple[str, ...]
    starts_at: datetime  # aware, UTC


@dataclass(frozen=True)
class PromptPlan:
    theme: ReflectionTheme
    text: str
    at: datetime | None  # aware, UTC; None: a chair posts it by command


@dataclass(frozen=True)
class ReminderPlan:
    when_spec: str  # the organiser's words, kept to show back to them
    audience: ReminderAudience
    only_incomplete: bool
    text: str  # as written, {form_url} and all: see render_reminder_text
    grace_minutes: int
    # Aware UTC. For "next day HH:MM" this is HH:MM in the event's zone; a sender re-resolves
    # `local_time_for_recipient` in each recipient's own zone.
    due_at: datetime
    local_time_for_recipient: str | None  # "HH:MM" for per-recipient DMs, else None


@dataclass(frozen=True)
class Programme:
    title: str
    timezone: str
    starts_at: datetime  # aware, UTC
    ends_at: datetime  # aware, UTC
    channel_id: str | None
    evaluation_form_url: str | None
    follow_up_days: int
    questions_need_approval: bool
    organisers: tuple[PersonRef, ...]
    chairs: tuple[PersonRef, ...]
    presenters: tuple[PersonRef, ...]
    housekeeping: tuple[str, ...]
    partners: tuple[str, ...]
    next_event: str | None
    segments: tuple[SegmentPlan, ...]
    prompts: tuple[PromptPlan, ...]  # all four themes, in ReflectionTheme order
    reminders: tuple[ReminderPlan, ...]  # in file order


@dataclass(frozen=True)
class Problem:
    where: str  # "file.toml: agenda[2].start", or "file.toml line 14" for TOML syntax errors
    message: str  # what is wrong and what would be valid

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ProgrammeError(Exception):
    """A programme file that cannot be used; `problems` lists everything found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the programme file"
        super().__init__("\n".join([heading + ":", *(f"  {problem}" for problem in problems)]))


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime  # aware, UTC
    kind: str  # "welcome", "segment", "prompt", "close" or "reminder"
    description: str


# --- times -------------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # ZoneInfo raises ValueError for strings that cannot be a key at all ("../x", "").
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/London' or 'America/New_York'"
        ) from None


def _parse_hhmm(text: str) -> time:
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time: write 24-hour HH:MM, e.g. '14:30'")
    return time(int(match.group(1)), int(match.group(2)))


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    """Whether a wall-clock time happens in a zone: a time skipped by the clocks going forward does not."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def _hhmm(moment: datetime | time) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def _local_to_utc(day: date, wall: time, zone: ZoneInfo, zone_name: str) -> datetime:
    naive = datetime.combine(day, wall)
    if not _exists(naive, zone):
        # Find the whole skipped stretch so the message can say which times would work.
        first = naive
        while not _exists(first - timedelta(minutes=1), zone):
            first -= timedelta(minutes=1)
        after = naive
        while not _exists(after, zone):
            after += timedelta(minutes=1)
        last = after - timedelta(minutes=1)
        raise ValueError(
            f"{_hhmm(wall)} does not exist on {_day_label(day)} in {zone_name}: the clocks go forward "
            f"and skip {_hhmm(first)}–{_hhmm(last)}; use a time before {_hhmm(first)} or from {_hhmm(after)}"
        )
    # fold=0 (the default): when the clocks go back and a time happens twice, take the first.
    return naive.replace(tzinfo=zone).astimezone(UTC)


def to_utc(day: date, hhmm: str, timezone: str) -> datetime:
    """The UTC instant of wall-clock `hhmm` on `day` in `timezone`.

    Raises ValueError for a malformed time, an unknown zone, or a time the clocks skip when they
    go forward (01:30 on 2024-03-31 in Europe/London). A time that happens twice when the clocks
    go back (01:30 on 2024-10-27 in Europe/London) is taken at its first occurrence (fold=0).
    """
    return _local_to_utc(day, _parse_hhmm(hhmm), _zone(timezone), timezone)


_RELATIVE = re.compile(r"^(\d+)\s+(hours?|hrs?|minutes?|mins?)\s+after(?:\s+(?:the\s+)?close)?$")
_NEXT_DAY = re.compile(r"^next\s+day\s+(?:at\s+)?(\S+)$")
_ABSOLUTE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s+|t)(\S+)$")


def resolve_reminder_time(when_spec: str, *, event_ends_at: datetime, timezone: str) -> tuple[datetime, str | None]:
    """When a reminder is due: (aware UTC instant, "HH:MM" if it is a per-recipient local time).

    Forms (case and spacing do not matter): "at close"; "N hours after" / "N minutes after"
    (the close; "after close" is accepted too); "next day HH:MM" (the day after the event's
    close, in the event's zone, and per recipient); "YYYY-MM-DD HH:MM" (in the event's zone).
    Raises ValueError naming the valid forms for anything else.
    """
    if event_ends_at.tzinfo is None:
        raise ValueError("event_ends_at must be timezone-aware")
    zone = _zone(timezone)
    spec = " ".join(when_spec.lower().split())
    if spec in ("at close", "close", "at the close"):
        return event_ends_at.astimezone(UTC), None
    if match := _RELATIVE.match(spec):
        amount = int(match.group(1))
        unit = timedelta(hours=1) if match.group(2).startswith("h") else timedelta(minutes=1)
        # Plain arithmetic on the UTC instant: "2 hours after" is two elapsed hours, DST or not.
        return event_ends_at.astimezone(UTC) + amount * unit, None
    if match := _NEXT_DAY.match(spec):
        wall = _parse_hhmm(match.group(1))
        next_day = event_ends_at.astimezone(zone).date() + timedelta(days=1)
        return _local_to_utc(next_day, wall, zone, timezone), _hhmm(wall)
    if match := _ABSOLUTE.match(spec):
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            raise ValueError(f"{match.group(1)!r} is not a real date: write YYYY-MM-DD") from None
        return _local_to_utc(day, _parse_hhmm(match.group(2)), zone, timezone), None
    raise ValueError(f"unknown reminder time {when_spec!r}: use {REMINDER_FORMS}")


def render_reminder_text(text: str, evaluation_form_url: str | None) -> str:
    """A reminder's text with {form_url} replaced by the evaluation form's address.

    ReminderPlan.text keeps the placeholder as written, so the caller chooses when the URL is
    filled in (at import, or at sending time if the form may still change).
    """
    return text.replace(FORM_URL_PLACEHOLDER, evaluation_form_url or "(no evaluation form set)")


# --- reading a file ----------------------------------------------------------------------------


def load_programme(path: Path) -> Programme:
    """Read and check a programme file. Raises ProgrammeError (a missing file is one too)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProgrammeError([Problem(source, "no such file")]) from None
    except IsADirectoryError:
        raise ProgrammeError([Problem(source, "is a directory, not a programme file")]) from None
    except UnicodeDecodeError as error:
        raise ProgrammeError([Problem(source, f"is not UTF-8 text ({error.reason} at byte {error.start})")]) from None
    except OSError as error:
        raise ProgrammeError([Problem(source, f"cannot be read: {error.strerror or error}")]) from None
    return parse_programme(text, source=source)


def parse_programme(text: str, *, source: str) -> Programme:
    """Check a programme's TOML text; `source` names it in problems. Raises ProgrammeError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProgrammeError([_syntax_problem(text, error, source)]) from None
    return _Parser(source).parse(data)


def _syntax_problem(text: str, error: tomllib.TOMLDecodeError, source: str) -> Problem:
    # tomllib (3.11) puts the position only in its message: keep the message whole and lift the
    # line number into `where`.
    message = str(error)
    match = _TOML_POSITION.search(message)
    if not match:
        return Problem(f"{source} end of file", f"TOML syntax error: {message}")
    line_number = int(match.group(1))
    lines = text.splitlines()
    line = lines[line_number - 1] if 0 < line_number <= len(lines) else ""
    hint = ""
    if _BARE_TIME_LINE.search(line):
        # TOML 1.0 needs seconds in a bare time; this is the commonest slip in these files.
        hint = '; write times in quotes ("14:30") or with seconds (14:30:00)'
    return Problem(f"{source} line {line_number}", f"TOML syntax error: {message}{hint}")


_Missing = object()
E = TypeVar("E", bound=Enum)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    return type(value).__name__


def _choices(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _day_label(day: date) -> str:
    # Built by hand, not strftime("%a %b"), so the output does not depend on the machine's locale.
    return f"{_WEEKDAYS[day.weekday()]} {day.day:02d} {_MONTHS[day.month - 1]} {day.year}"


class _Parser:
    """One pass over a decoded file, collecting every problem before deciding anything."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(f"{self.source}: {key}", message))

    # -- generic checks -----------------------------------------------------------------------

    def check_keys(self, table: Mapping[str, Any], valid: tuple[str, ...], prefix: str) -> None:
        for key in table:
            if key in valid:
                continue
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.problem(f"{prefix}{key}", f"unknown key{hint}; valid keys here: {_choices(valid)}")

    def string(
        self, table: Mapping[str, Any], key: str, where: str, *, required: bool, max_chars: int = MAX_TEXT_CHARS
    ) -> str | None:
        value = table.get(key, _Missing)
        if value is _Missing:
            if required:
                self.problem(where, "is required: a string")
            return None
        if not isinstance(value, str):
            self.problem(where, f"must be a string, not {_type_name(value)}")
            return None
        value = value.strip()
        if not value:
            self.problem(where, "must not be empty" + ("" if required else "; leave the key out instead"))
            return None
        if len(value) > max_chars:
            self.problem(where, f"is {len(value)} characters long; at most {max_chars} are allowed")
            return None
        return value

    def boolean(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem(where, f"must be true or false, not {_type_name(value)}")
            return default
        return value

    def string_list(self, table: Mapping[str, Any], key: str, where: str, *, max_chars: int) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list):
            hint = f' (write ["{value}"])' if isinstance(value, str) else ""
            self.problem(where, f"must be an array of strings, not {_type_name(value)}{hint}")
            return []
        items: list[str] = []
        for index, item in enumerate(value, start=1):
            item_where = f"{where}[{index}]"
            if not isinstance(item, str):
                self.problem(item_where, f"must be a string, not {_type_name(item)}")
            elif not item.strip():
                self.problem(item_where, "must not be empty")
            elif len(item.strip()) > max_chars:
                self.problem(item_where, f"is {len(item.strip())} characters long; at most {max_chars} are allowed")
            else:
                items.append(item.strip())
        return items

    def choice(self, table: Mapping[str, Any], key: str, where: str, options: Mapping[str, E], default: E | None) -> E | None:
        value = table.get(key, _Missing)
        if value is _Missing:
            if default is None:
                self.problem(where, f"is required: one of {_choices(options)}")
            return default
        if not isinstance(value, str):
            self.problem(where, f"must be a string, one of {_choices(options)}; not {_type_name(value)}")
            return None
        found = options.get(value.strip().lower())
        if found is None:
            self.problem(where, f"unknown value {value!r}; valid values: {_choices(options)}")
        return found

    def local_time(self, table: Mapping[str, Any], key: str, where: str, *, required: bool) -> time | None:
        """A wall-clock time: an "HH:MM" string or a TOML local time (14:30:00)."""
        value = table.get(key, _Missing)
        if value is _Missing:
            if required:
                self.problem(where, 'is required: a time, "HH:MM" (e.g. "14:30")')
            return None
        if isinstance(value, time):
            if value.second or value.microsecond:
                self.problem(where, f"{value.isoformat()} has seconds; times are to the minute, e.g. \"{_hhmm(value)}\"")
                return None
            return value
        if isinstance(value, str):
            try:
                return _parse_hhmm(value)
            except ValueError as error:
                self.problem(where, str(error))
                return None
        self.problem(where, f'must be a time, "HH:MM" (e.g. "14:30"), not {_type_name(value)}')
        return None

    def placed(self, day: date | None, wall: time | None, zone: tuple[ZoneInfo, str] | None, where: str) -> datetime | None:
        """A wall-clock time on the event's day as UTC, or None (with a problem if the time does not exist)."""
        if day is None or wall is None or zone is None:
            return None
        try:
            return _local_to_utc(day, wall, zone[0], zone[1])
        except ValueError as error:
            self.problem(where, str(error))
            return None

    def people(self, table: Mapping[str, Any], key: str, where: str) -> tuple[PersonRef, ...]:
        refs: list[PersonRef] = []
        seen: set[str] = set()
        for index, item in enumerate(self.string_list(table, key, where, max_chars=320), start=1):
            item_where = f"{where}[{index}]"
            if _SLACK_USER_ID.match(item):
                ref = PersonRef(slack_user_id=item, email=None)
            elif _EMAIL.match(item):
                ref = PersonRef(slack_user_id=None, email=item)
            else:
                self.problem(
                    item_where,
                    f"{item!r} is neither a Slack user ID (U or W then capital letters and digits, "
                    "e.g. 'U0123ABCD') nor an email address",
                )
                continue
            # Email addresses are compared without case, as Slack's lookup does.
            if item.casefold() in seen:
                self.problem(item_where, f"{item!r} is listed twice")
                continue
            seen.add(item.casefold())
            refs.append(ref)
        return tuple(refs)

    def array_of_tables(self, data: Mapping[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.problem(key, f"must be an array of tables: write each one under [[{key}]], not [{key}]")
            return []
        tables: list[tuple[str, dict[str, Any]]] = []
        for index, item in enumerate(value, start=1):
            where = f"{key}[{index}]"
            if isinstance(item, dict):
                tables.append((where, item))
            else:
                self.problem(where, f"must be a table (a [[{key}]] block), not {_type_name(item)}")
        return tables

    # -- the file -----------------------------------------------------------------------------

    def parse(self, data: dict[str, Any]) -> Programme:
        self.check_keys(data, TOP_LEVEL_KEYS, "")
        event = data.get("event", _Missing)
        if event is _Missing:
            self.problem("event", "the [event] table is required (title, date, start, end, …)")
            event = {}
        elif not isinstance(event, dict):
            self.problem("event", f"must be a table ([event]), not {_type_name(event)}")
            event = {}
        self.check_keys(event, EVENT_KEYS, "event.")

        title = self.string(event, "title", "event.title", required=True, max_chars=MAX_TITLE_CHARS)
        day = self.event_date(event)
        zone_name = event.get("timezone", DEFAULT_TIMEZONE)
        zone: tuple[ZoneInfo, str] | None = None
        if not isinstance(zone_name, str):
            self.problem("event.timezone", f"must be a string such as 'Europe/London', not {_type_name(zone_name)}")
        else:
            try:
                zone = (_zone(zone_name.strip()), zone_name.strip())
            except ValueError as error:
                self.problem("event.timezone", str(error))
        start_wall = self.local_time(event, "start", "event.start", required=True)
        end_wall = self.local_time(event, "end", "event.end", required=True)
        starts_at = self.placed(day, start_wall, zone, "event.start")
        ends_at = self.placed(day, end_wall, zone, "event.end")
        if starts_at and ends_at and ends_at <= starts_at:
            self.problem(
                "event.end",
                f"{_hhmm(end_wall or time())} is not after the start, {_hhmm(start_wall or time())}; "
                "an event starts and ends on the same day",
            )
            ends_at = None  # no window to check the rest against

        channel_id = self.string(event, "channel", "event.channel", required=False, max_chars=32)
        if channel_id and not _SLACK_CHANNEL_ID.match(channel_id):
            self.problem(
                "event.channel",
                f"{channel_id!r} is not a Slack channel ID: C or G then capital letters and digits, e.g. 'C0123ABCD' "
                "(a channel's ID, not its #name)",
            )
        form_url = self.string(event, "evaluation_form_url", "event.evaluation_form_url", required=False, max_chars=MAX_URL_CHARS)
        if form_url and not _is_web_url(form_url):
            self.problem("event.evaluation_form_url", f"{form_url!r} is not a web address: use an http:// or https:// URL")
        follow_up_days = self.follow_up_days(event)
        needs_approval = self.boolean(event, "questions_need_approval", "event.questions_need_approval", False)
        organisers = self.people(event, "organisers", "event.organisers")
        chairs = self.people(event, "chairs", "event.chairs")
        presenters = self.people(event, "presenters", "event.presenters")
        housekeeping = self.string_list(event, "housekeeping", "event.housekeeping", max_chars=MAX_TEXT_CHARS)
        partners = self.string_list(event, "partners", "event.partners", max_chars=MAX_TITLE_CHARS)
        next_event = self.string(event, "next_event", "event.next_event", required=False)

        segments = self.agenda(data, day, zone, starts_at, ends_at)
        prompts = self.prompts(data, day, zone, starts_at, ends_at)
        reminders = self.reminders(data, zone, starts_at, ends_at, form_url)

        if self.problems:
            raise ProgrammeError(self.problems)
        # With no problems every required value above was found and valid.
        assert title is not None and zone is not None and starts_at is not None and ends_at is not None
        return Programme(
            title=title,
            timezone=zone[1],
            starts_at=starts_at,
            ends_at=ends_at,
            channel_id=channel_id,
            evaluation_form_url=form_url,
            follow_up_days=follow_up_days,
            questions_need_approval=needs_approval,
            organisers=organisers,
            chairs=chairs,
            presenters=presenters,
            housekeeping=tuple(housekeeping),
            partners=tuple(partners),
            next_event=next_event,
            segments=tuple(segments),
            prompts=tuple(prompts),
            reminders=tuple(reminders),
        )

    def event_date(self, event: Mapping[str, Any]) -> date | None:
        value = event.get("date", _Missing)
        if value is _Missing:
            self.problem("event.date", "is required: a date, e.g. 2024-02-26")
            return None
        # A TOML date-time is a datetime, which is also a date: say where its time belongs.
        if isinstance(value, datetime):
            self.problem("event.date", "must be a date only, e.g. 2024-02-26; put the time in `start` and `end`")
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str) and _ISO_DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                self.problem("event.date", f"{value!r} is not a real date")
                return None
        self.problem("event.date", f"must be a date, e.g. 2024-02-26 (YYYY-MM-DD), not {value!r}")
        return None

    def follow_up_days(self, event: Mapping[str, Any]) -> int:
        value = event.get("follow_up_days", DEFAULT_FOLLOW_UP_DAYS)
        low, high = FOLLOW_UP_DAYS_RANGE
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem("event.follow_up_days", f"must be a whole number of days from {low} to {high}, not {_type_name(value)}")
            return DEFAULT_FOLLOW_UP_DAYS
        if not low <= value <= high:
            self.problem("event.follow_up_days", f"{value} is out of range: use {low} to {high} days")
            return DEFAULT_FOLLOW_UP_DAYS
        return value

    def agenda(
        self,
        data: Mapping[str, Any],
        day: date | None,
        zone: tuple[ZoneInfo, str] | None,
        starts_at: datetime | None,
        ends_at: datetime | None,
    ) -> list[SegmentPlan]:
        blocks = self.array_of_tables(data, "agenda")
        if data.get("agenda", []) == []:
            self.problem("agenda", "at least one [[agenda]] block is required (title, start, kind, speakers)")
        kinds = {kind.value: kind for kind in SegmentKind}
        segments: list[SegmentPlan] = []
        previous: tuple[str, datetime] | None = None
        for position, (where, block) in enumerate(blocks, start=1):
            self.check_keys(block, AGENDA_KEYS, f"{where}.")
            title = self.string(block, "title", f"{where}.title", required=True, max_chars=MAX_TITLE_CHARS)
            wall = self.local_time(block, "start", f"{where}.start", required=True)
            kind = self.choice(block, "kind", f"{where}.kind", kinds, SegmentKind.OTHER)
            speakers = self.string_list(block, "speakers", f"{where}.speakers", max_chars=MAX_TITLE_CHARS)
            at = self.placed(day, wall, zone, f"{where}.start")
            if at is None or wall is None:
                continue
            if starts_at and ends_at and not starts_at <= at < ends_at:
                self.problem(
                    f"{where}.start",
                    f"{_hhmm(wall)} is outside the event; an agenda item starts at or after the event's start "
                    f"({self.wall(starts_at, zone)}) and before its end ({self.wall(ends_at, zone)})",
                )
            if previous and at <= previous[1]:
                self.problem(
                    f"{where}.start",
                    f"{_hhmm(wall)} is not after the previous item's start ({previous[0]}); list the agenda in time order",
                )
            previous = (_hhmm(wall), at)
            if title is not None and kind is not None:
                segments.append(SegmentPlan(position, title, kind, tuple(speakers), at))
        return segments

    def prompts(
        self,
        data: Mapping[str, Any],
        day: date | None,
        zone: tuple[ZoneInfo, str] | None,
        starts_at: datetime | None,
        ends_at: datetime | None,
    ) -> list[PromptPlan]:
        themes = {theme.value: theme for theme in ReflectionTheme}
        written: dict[ReflectionTheme, PromptPlan] = {}
        for where, block in self.array_of_tables(data, "prompts"):
            self.check_keys(block, PROMPT_KEYS, f"{where}.")
            theme = self.choice(block, "theme", f"{where}.theme", themes, None)
            text = self.string(block, "text", f"{where}.text", required=False)
            wall = self.local_time(block, "at", f"{where}.at", required=False)
            at = self.placed(day, wall, zone, f"{where}.at")
            if at and starts_at and ends_at and not starts_at <= at <= ends_at:
                self.problem(
                    f"{where}.at",
                    f"{_hhmm(wall or time())} is outside the event; a prompt is posted between its start "
                    f"({self.wall(starts_at, zone)}) and end ({self.wall(ends_at, zone)}), "
                    "or leave `at` out for a chair to post it",
                )
            if theme is None:
                continue
            if theme in written:
                self.problem(f"{where}.theme", f"'{theme.value}' has a prompt already; each theme appears at most once")
                continue
            written[theme] = PromptPlan(theme, text or DEFAULT_PROMPTS[theme], at)
        # Every event has all four prompts: themes the file leaves out get the seed wording.
        return [written.get(theme) or PromptPlan(theme, DEFAULT_PROMPTS[theme], None) for theme in ReflectionTheme]

    def reminders(
        self,
        data: Mapping[str, Any],
        zone: tuple[ZoneInfo, str] | None,
        starts_at: datetime | None,
        ends_at: datetime | None,
        form_url: str | None,
    ) -> list[ReminderPlan]:
        plans: list[ReminderPlan] = []
        for where, block in self.array_of_tables(data, "reminders"):
            self.check_keys(block, REMINDER_KEYS, f"{where}.")
            when = self.string(block, "when", f"{where}.when", required=True, max_chars=255)
            audience = self.choice(block, "audience", f"{where}.audience", AUDIENCES, ReminderAudience.DIRECT_MESSAGE)
            # A channel post reaches everyone, so "only those who have not completed" means
            # nothing there: it defaults off for the channel and may not be switched on.
            is_channel = audience is ReminderAudience.CHANNEL
            only_incomplete = self.boolean(block, "only_incomplete", f"{where}.only_incomplete", not is_channel)
            if is_channel and only_incomplete:
                self.problem(
                    f"{where}.only_incomplete",
                    "applies only to DM reminders (audience = \"dm\"); a channel post reaches everyone, so leave it out",
                )
            text = self.string(block, "text", f"{where}.text", required=True)
            if text is not None:
                self.check_placeholders(text, f"{where}.text", form_url)
            grace_minutes = self.grace_minutes(block, f"{where}.grace_hours")

            due_at: datetime | None = None
            local_time: str | None = None
            if when is not None and (zone is None or ends_at is None):
                # The event's times are broken (reported already), but a misspelt `when` is still
                # worth reporting now: check its form against a stand-in close in UTC.
                try:
                    resolve_reminder_time(when, event_ends_at=datetime(2000, 1, 3, 12, tzinfo=UTC), timezone="UTC")
                except ValueError as error:
                    self.problem(f"{where}.when", str(error))
            if when is not None and zone is not None and ends_at is not None:
                try:
                    due_at, local_time = resolve_reminder_time(when, event_ends_at=ends_at, timezone=zone[1])
                except ValueError as error:
                    self.problem(f"{where}.when", str(error))
                if due_at is not None and starts_at is not None and due_at < starts_at:
                    self.problem(
                        f"{where}.when",
                        f"{when!r} is {self.wall(due_at, zone)}, before the event starts "
                        f"({self.wall(starts_at, zone)}); a reminder about the evaluation comes at or after the start",
                    )
            if is_channel:
                # A channel post happens once, at the event-zone time; per-recipient times are for DMs.
                local_time = None
            if when is None or audience is None or text is None or due_at is None:
                continue
            plans.append(ReminderPlan(when, audience, only_incomplete, text, grace_minutes, due_at, local_time))
        return plans

    def check_placeholders(self, text: str, where: str, form_url: str | None) -> None:
        for name in _PLACEHOLDER.findall(text):
            if "{" + name + "}" != FORM_URL_PLACEHOLDER:
                self.problem(where, f"unknown placeholder {{{name}}}; the only placeholder is {FORM_URL_PLACEHOLDER}")
        if FORM_URL_PLACEHOLDER in text and not form_url:
            self.problem(where, f"uses {FORM_URL_PLACEHOLDER} but the event has no evaluation_form_url; add one to [event]")

    def grace_minutes(self, block: Mapping[str, Any], where: str) -> int:
        value = block.get("grace_hours", DEFAULT_GRACE_HOURS)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(where, f"must be a number of hours, more than 0 and at most {MAX_GRACE_HOURS}, not {_type_name(value)}")
            return DEFAULT_GRACE_HOURS * 60
        if not 0 < value <= MAX_GRACE_HOURS:
            self.problem(where, f"{value} is out of range: use more than 0 and at most {MAX_GRACE_HOURS} hours")
            return DEFAULT_GRACE_HOURS * 60
        return max(1, round(value * 60))

    @staticmethod
    def wall(moment: datetime, zone: tuple[ZoneInfo, str] | None) -> str:
        """A UTC instant as the event's wall-clock time, for messages."""
        if zone is None:
            return _hhmm(moment)
        return _format_local(moment, zone[0])


def _is_web_url(text: str) -> bool:
    if any(character.isspace() for character in text):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "." in (parts.hostname or "")


# --- what the bot will do ----------------------------------------------------------------------


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
            entries.append(TimelineEntry(prompt.at, "prompt", f"Reflection prompt ({prompt.theme.value}): {prompt.text}"))

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


def _zone_label(moment: datetime) -> str:
    """'GMT', 'BST', 'EST'…; zones whose abbreviation is only a number ('-03') get 'UTC-03:00'."""
    name = moment.tzname() or ""
    if name.isalpha():
        return name
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _format_local(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{_day_label(local.date())} {_hhmm(local)} {_zone_label(local)}"


def format_plan(programme: Programme) -> str:
    """A human-readable plan: header, then one line per timeline entry in the event's local time."""
    zone = ZoneInfo(programme.timezone)
    start = programme.starts_at.astimezone(zone)
    end = programme.ends_at.astimezone(zone)
    if _zone_label(start) == _zone_label(end):
        hours = f"{_hhmm(start)}–{_hhmm(end)} {_zone_label(end)}"
    else:  # the clocks change during the session: label each end
        hours = f"{_hhmm(start)} {_zone_label(start)} – {_hhmm(end)} {_zone_label(end)}"
    lines = [
        programme.title,
        f"date: {_day_label(start.date())}, {hours}",
        f"time zone: {programme.timezone}",
        f"channel: {programme.channel_id or 'set with --channel on import'}",
        f"organisers: {_people(programme.organisers)}",
        f"chairs: {_people(programme.chairs)}",
        f"presenters: {_people(programme.presenters)}",
        f"evaluation form: {programme.evaluation_form_url or 'none'}",
        f"follow-up window: {programme.follow_up_days} days; "
        f"questions need a chair's approval: {'yes' if programme.questions_need_approval else 'no'}",
    ]
    if programme.partners:
        lines.append(f"partners: {', '.join(programme.partners)}")
    lines += ["", f"timeline (times in {programme.timezone}):"]
    for entry in timeline(programme):
        description = " ".join(entry.description.split())
        lines.append(f"  {_format_local(entry.at, zone)}  {entry.kind:<8}  {description}")
    unscheduled = [prompt for prompt in programme.prompts if prompt.at is None]
    if unscheduled:
        lines += ["", "posted when a chair asks:"]
        lines += [f"  reflection prompt ({prompt.theme.value}): {prompt.text}" for prompt in unscheduled]
    return "\n".join(lines) + "\n"


"""Programme files read and checked: TOML in, a `Programme` out, or every problem found at once.

Pure domain code (no Slack, no database): `eventbot event plan FILE` uses it to show what the bot
will post and when, and `eventbot event import FILE` stores the result. Times in a file are
wall-clock times in the event's own time zone; everything returned is timezone-aware UTC.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot import clock
from bot.clock import UTC, format_local, hhmm, local_to_utc, parse_hhmm
from bot.events.rules import DEFAULT_PROMPTS, FORM_LINK_RULE, THEME_WORDS, is_form_link, prompt_word
from bot.models import MAX_PROMPT_NAME_CHARS, ReflectionTheme, ReminderAudience, SegmentKind
from bot.programme.schema import (
    AGENDA_KEYS,
    AUDIENCES,
    DEFAULT_FOLLOW_UP_DAYS,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_TIMEZONE,
    EVENT_KEYS,
    FOLLOW_UP_DAYS_RANGE,
    MAX_CUSTOM_PROMPTS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    PROMPT_KEYS,
    REMINDER_KEYS,
    RETENTION_DAYS_RANGE,
    TOP_LEVEL_KEYS,
    PersonRef,
    Problem,
    Programme,
    ProgrammeError,
    PromptPlan,
    ReminderPlan,
    SegmentPlan,
)
from bot.reminders.timing import (
    DEFAULT_GRACE_HOURS,
    MAX_GRACE_HOURS,
    MAX_TEXT_CHARS,
    placeholder_problem,
    resolve_reminder_time,
)

# Slack user IDs: U… for ordinary users, W… for Enterprise Grid users; upper-case letters and
# digits. Channel IDs: C… for public channels, G… for older private channels.
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{8,31}$")
_SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{8,31}$")
# Deliberately loose: the importer looks the address up in Slack, which is the real check.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_BARE_TIME_LINE = re.compile(r"=\s*\d{1,2}:\d{2}\s*(#.*)?$")


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
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively, closed or not.
        too_deep = Problem(source, "arrays or tables are nested too deeply to be a programme file")
        raise ProgrammeError([too_deep]) from None
    return _Parser(source).parse(data)


def check_document(data: Mapping[str, Any], *, source: str, agenda_required: bool = True) -> Programme:
    """Check a programme already decoded into TOML's shapes (tables, arrays, strings).

    The programme editor in Slack builds such a document from what the organiser typed, so its
    values meet the very checks, and messages, that a file's do. A programme being built in Slack
    may have no agenda yet (`/event setup` makes none), hence `agenda_required`.
    """
    return _Parser(source, agenda_required=agenda_required).parse(data)


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


class _Parser:
    """One pass over a decoded file, collecting every problem before deciding anything."""

    def __init__(self, source: str, *, agenda_required: bool = True) -> None:
        self.source = source
        self.agenda_required = agenda_required
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(f"{self.source}: {key}", message, key=key))

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
                self.problem(where, f"{value.isoformat()} has seconds; times are to the minute, e.g. \"{hhmm(value)}\"")
                return None
            return value
        if isinstance(value, str):
            try:
                return parse_hhmm(value)
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
            return local_to_utc(day, wall, zone[0], zone[1])
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
                zone = (clock.zone(zone_name.strip()), zone_name.strip())
            except ValueError as error:
                self.problem("event.timezone", str(error))
        start_wall = self.local_time(event, "start", "event.start", required=True)
        end_wall = self.local_time(event, "end", "event.end", required=True)
        starts_at = self.placed(day, start_wall, zone, "event.start")
        ends_at = self.placed(day, end_wall, zone, "event.end")
        if starts_at and ends_at and ends_at <= starts_at:
            self.problem(
                "event.end",
                f"{hhmm(end_wall or time())} is not after the start, {hhmm(start_wall or time())}; "
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
        if form_url and not is_form_link(form_url):
            self.problem("event.evaluation_form_url", f"{form_url!r} is not accepted. {FORM_LINK_RULE}")
        follow_up_days = self.follow_up_days(event)
        retention_days = self.whole_days(event, "retention_days", DEFAULT_RETENTION_DAYS, RETENTION_DAYS_RANGE)
        if retention_days < follow_up_days:
            self.problem("event.retention_days", f"{retention_days} is shorter than follow_up_days ({follow_up_days}): "
                         "askers would not hear the answers given after the purge; use at least as many days")
        needs_approval = self.boolean(event, "questions_need_approval", "event.questions_need_approval", False)
        waits_for_chair = self.boolean(event, "waits_for_chair", "event.waits_for_chair", False)
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
            retention_days=retention_days,
            questions_need_approval=needs_approval,
            waits_for_chair=waits_for_chair,
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
        day: date | None = None
        if isinstance(value, date):
            day = value
        elif isinstance(value, str) and _ISO_DATE.match(value.strip()):
            try:
                day = date.fromisoformat(value.strip())
            except ValueError:
                self.problem("event.date", f"{value!r} is not a real date")
                return None
        else:
            self.problem("event.date", f"must be a date, e.g. 2024-02-26 (YYYY-MM-DD), not {value!r}")
            return None
        if not clock.FIRST_DAY <= day <= clock.LAST_DAY:
            # One problem here, rather than one for every time placed on that day.
            self.problem("event.date", f"{day.isoformat()} is outside the dates eventbot can handle: use a day from "
                         f"{clock.FIRST_DAY.isoformat()} to {clock.LAST_DAY.isoformat()}")
            return None
        return day

    def follow_up_days(self, event: Mapping[str, Any]) -> int:
        return self.whole_days(event, "follow_up_days", DEFAULT_FOLLOW_UP_DAYS, FOLLOW_UP_DAYS_RANGE)

    def whole_days(self, event: Mapping[str, Any], key: str, default: int, bounds: tuple[int, int]) -> int:
        value = event.get(key, default)
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"event.{key}", f"must be a whole number of days from {low} to {high}, not {_type_name(value)}")
            return default
        if not low <= value <= high:
            self.problem(f"event.{key}", f"{value} is out of range: use {low} to {high} days")
            return default
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
        if data.get("agenda", []) == [] and self.agenda_required:
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
                    f"{hhmm(wall)} is outside the event; an agenda item starts at or after the event's start "
                    f"({self.wall(starts_at, zone)}) and before its end ({self.wall(ends_at, zone)})",
                )
            if previous and at <= previous[1]:
                self.problem(
                    f"{where}.start",
                    f"{hhmm(wall)} is not after the previous item's start ({previous[0]}); list the agenda in time order",
                )
            previous = (hhmm(wall), at)
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
        custom: dict[str, PromptPlan] = {}
        for where, block in self.array_of_tables(data, "prompts"):
            self.check_keys(block, PROMPT_KEYS, f"{where}.")
            own = "name" in block
            if own and "theme" in block:
                self.problem(f"{where}.name", "give either `theme` (one of the four themes) or `name` (a prompt of "
                             "your own), not both")
                own = False
            if own:
                theme = None
                name = self.prompt_name(block, f"{where}.name")
                text = self.string(block, "text", f"{where}.text", required=False)
                if "text" not in block:
                    self.problem(f"{where}.text", "is required for a prompt of your own: the question to post")
            else:
                if "theme" not in block:
                    self.problem(f"{where}.theme", f"is required: one of {_choices(themes)}; or give a `name` "
                                 "(and `text`) for a prompt of your own")
                    theme = None
                else:
                    theme = self.choice(block, "theme", f"{where}.theme", themes, None)
                name = None
                text = self.string(block, "text", f"{where}.text", required=False)
            wall = self.local_time(block, "at", f"{where}.at", required=False)
            at = self.placed(day, wall, zone, f"{where}.at")
            if at and starts_at and ends_at and not starts_at <= at <= ends_at:
                self.problem(
                    f"{where}.at",
                    f"{hhmm(wall or time())} is outside the event; a prompt is posted between its start "
                    f"({self.wall(starts_at, zone)}) and end ({self.wall(ends_at, zone)}), "
                    "or leave `at` out for a chair to post it",
                )
            if name is not None:
                if prompt_word(name) in custom:
                    self.problem(f"{where}.name", f"{name!r} has a prompt already; each name appears at most once")
                elif len(custom) == MAX_CUSTOM_PROMPTS:
                    self.problem(f"{where}.name", f"an event has at most {MAX_CUSTOM_PROMPTS} prompts of its own "
                                 "beside the four themes")
                elif text is not None:
                    custom[prompt_word(name)] = PromptPlan(None, text, at, name=name)
                continue
            if theme is None:
                continue
            if theme in written:
                self.problem(f"{where}.theme", f"'{theme.value}' has a prompt already; each theme appears at most once")
                continue
            written[theme] = PromptPlan(theme, text or DEFAULT_PROMPTS[theme], at)
        # Every event has all four prompts: themes the file leaves out get the seed wording.
        themed = [written.get(theme) or PromptPlan(theme, DEFAULT_PROMPTS[theme], None) for theme in ReflectionTheme]
        return themed + list(custom.values())

    def prompt_name(self, block: Mapping[str, Any], where: str) -> str | None:
        """A custom prompt's name: one short line, and not a word `/event prompt` takes for a theme."""
        name = self.string(block, "name", where, required=True, max_chars=MAX_PROMPT_NAME_CHARS)
        if name is None:
            return None
        if any(not char.isprintable() for char in name):
            self.problem(where, "must be one line of plain text, with no tabs or line breaks")
            return None
        if prompt_word(name) in THEME_WORDS:
            theme = THEME_WORDS[prompt_word(name)]
            self.problem(where, f"{name!r} would be taken for the {theme.value} theme; use `theme = "
                         f"\"{theme.value}\"` to reword that prompt, or choose another name")
            return None
        return name

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
            include_team = self.boolean(block, "include_team", f"{where}.include_team", False)
            if is_channel and include_team:
                self.problem(f"{where}.include_team",
                             "applies only to DM reminders (audience = \"dm\"); a channel post reaches everyone")
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
            plans.append(ReminderPlan(when, audience, only_incomplete, text, grace_minutes, due_at, local_time,
                                      include_team=bool(include_team)))
        return plans

    def check_placeholders(self, text: str, where: str, form_url: str | None) -> None:
        problem = placeholder_problem(text, form_url)
        if problem:
            self.problem(where, problem)

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
            return hhmm(moment)
        return format_local(moment, zone[0])



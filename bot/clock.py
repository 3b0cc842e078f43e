"""Time arithmetic every domain shares: now in UTC, and wall-clock times in a zone as UTC instants.

Everything stored or compared is timezone-aware UTC; wall-clock times (what organisers type and
attendees read) are turned into instants here, once, so daylight-saving changes are dealt with in
one place: a time the clocks skip is refused with the times that would work, and a time that
happens twice is taken at its first occurrence.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

UTC = timezone.utc
# Days a wall-clock time may fall on. A year's room either side of what datetime can hold keeps
# the arithmetic done on event times (a reminder up to a year after the close, a grace window,
# the day after) inside its range, so no caller meets an OverflowError.
FIRST_DAY = date(2, 1, 1)
LAST_DAY = date(9998, 12, 31)

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def utcnow() -> datetime:
    return datetime.now(UTC)


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The zone named; ValueError with the valid form for anything else.

    Every name that comes from outside (a form, a programme file, a setting, a Slack profile) is
    checked here against the zone database's own list: ZoneInfo itself would try to read a folder
    of the database ("America") as a zone file and fail with an OSError.
    """
    if name not in _zone_names():
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/London' or 'America/New_York'"
        )
    return ZoneInfo(name)


def parse_hhmm(text: str) -> time:
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time: write 24-hour HH:MM, e.g. '14:30'")
    return time(int(match.group(1)), int(match.group(2)))


def exists(naive: datetime, in_zone: ZoneInfo) -> bool:
    """Whether a wall-clock time happens in a zone: a time skipped by the clocks going forward does not."""
    aware = naive.replace(tzinfo=in_zone)
    return aware.astimezone(UTC).astimezone(in_zone).replace(tzinfo=None) == naive


def hhmm(moment: datetime | time) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def day_label(day: date) -> str:
    # Built by hand, not strftime("%a %b"), so the output does not depend on the machine's locale.
    return f"{_WEEKDAYS[day.weekday()]} {day.day:02d} {_MONTHS[day.month - 1]} {day.year}"


def local_to_utc(day: date, wall: time, in_zone: ZoneInfo, zone_name: str) -> datetime:
    if not FIRST_DAY <= day <= LAST_DAY:
        # Checked before any arithmetic: near datetime's limits, converting to UTC overflows.
        raise ValueError(f"{day.isoformat()} {hhmm(wall)} in {zone_name} is outside the dates eventbot can handle "
                         f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})")
    naive = datetime.combine(day, wall)
    if not exists(naive, in_zone):
        # Find the whole skipped stretch so the message can say which times would work.
        first = naive
        while not exists(first - timedelta(minutes=1), in_zone):
            first -= timedelta(minutes=1)
        after = naive
        while not exists(after, in_zone):
            after += timedelta(minutes=1)
        last = after - timedelta(minutes=1)
        raise ValueError(
            f"{hhmm(wall)} does not exist on {day_label(day)} in {zone_name}: the clocks go forward "
            f"and skip {hhmm(first)}–{hhmm(last)}; use a time before {hhmm(first)} or from {hhmm(after)}"
        )
    # fold=0 (the default): when the clocks go back and a time happens twice, take the first.
    return naive.replace(tzinfo=in_zone).astimezone(UTC)


def wall_to_utc(wall: datetime, in_zone: ZoneInfo) -> datetime:
    """A naive wall-clock moment in `in_zone` as UTC, never refusing: a time the clocks skip is
    read with the offset before the change (so lands just after the gap), a repeated one at its
    first occurrence. For moving times already accepted, not for checking what a person typed."""
    return wall.replace(tzinfo=in_zone).astimezone(UTC)


def to_utc(day: date, wall_time: str, timezone_name: str) -> datetime:
    """The UTC instant of wall-clock `wall_time` ("HH:MM") on `day` in the named zone.

    Raises ValueError for a malformed time, an unknown zone, a day outside FIRST_DAY–LAST_DAY, or a
    time the clocks skip when they go forward (01:30 on 2024-03-31 in Europe/London). A time that
    happens twice when the clocks go back (01:30 on 2024-10-27 in Europe/London) is taken at its
    first occurrence (fold=0).
    """
    return local_to_utc(day, parse_hhmm(wall_time), zone(timezone_name), timezone_name)


def zone_label(moment: datetime) -> str:
    """'GMT', 'BST', 'EST'…; zones whose abbreviation is only a number ('-03') get 'UTC-03:00'."""
    name = moment.tzname() or ""
    if name.isalpha():
        return name
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_local(moment: datetime, in_zone: ZoneInfo) -> str:
    """'Mon 26 Feb 2024 14:00 GMT': an instant as a wall-clock time, for plain text."""
    local = moment.astimezone(in_zone)
    return f"{day_label(local.date())} {hhmm(local)} {zone_label(local)}"

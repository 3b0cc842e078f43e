"""The people of the seed event, as a Slack workspace the double plays (shared with the rehearsal)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from bot.rehearsal import (  # noqa: F401  (re-exported for the tests)
    ATTENDEE_ZONES,
    ATTENDEES,
    CHAIR,
    CHANNEL,
    ORGANISER,
    PRESENTERS,
    cast,
    seed_programme_text,
)
from tests.apprunner import BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, TEAM_ID
from tests.slackdouble import SlackDouble


def make_double() -> SlackDouble:
    return SlackDouble(team_id=TEAM_ID, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, bot_user_id=BOT_USER_ID)


def seed_programme(on: date, tmp_path: Path) -> Path:
    """The example programme file, moved to a given day (the file's own date is in the past)."""
    path = tmp_path / "programme.toml"
    path.write_text(seed_programme_text(on))
    return path


# The day the domain tests run the seed event on: a Monday in GMT, so London's wall clock is UTC
# (the session runs 14:30–16:00).
DAY = date(2031, 3, 3)


def at(hhmm: str, day: date = DAY) -> datetime:
    """A wall-clock time in London on `day` (GMT, so UTC)."""
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=timezone.utc)

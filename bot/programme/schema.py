"""Programme files: what a checked file becomes, and the keys and limits it is checked against.

A programme file describes one live event: the event itself, its agenda, the four reflection
prompts and any of the organiser's own, the evaluation reminders, partner organisations,
housekeeping notes and the next-event notice. `docs/programme-files.md` documents every key;
`examples/provider-collaboratives.toml` is a complete example. Everything here is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.models import ReflectionTheme, ReminderAudience, SegmentKind

DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_FOLLOW_UP_DAYS = 14

# Limits match the database columns the importer writes to (String(255), String(2000)) and
# Slack's 3,000-character limit on a section block's text.
MAX_TITLE_CHARS = 255
MAX_URL_CHARS = 2000
FOLLOW_UP_DAYS_RANGE = (1, 90)
# Personal data is kept this long after the close (bot/privacy); ten years is past any policy we know of.
DEFAULT_RETENTION_DAYS = 180
RETENTION_DAYS_RANGE = (1, 3650)

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
    "retention_days",
    "questions_need_approval",
    "waits_for_chair",
    "organisers",
    "chairs",
    "presenters",
    "housekeeping",
    "partners",
    "next_event",
)
TOP_LEVEL_KEYS = ("event", "agenda", "prompts", "reminders")
AGENDA_KEYS = ("title", "start", "kind", "speakers")
PROMPT_KEYS = ("theme", "name", "text", "at")
# Each custom prompt is a line in the editor and a group in every digest: a handful is plenty.
MAX_CUSTOM_PROMPTS = 10
REMINDER_KEYS = ("when", "audience", "only_incomplete", "include_team", "text", "grace_hours")

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
    theme: ReflectionTheme | None  # None for a custom prompt, which has a name instead
    text: str
    at: datetime | None  # aware, UTC; None: a chair posts it by command
    name: str | None = None

    @property
    def label(self) -> str:
        """As the plan and the editor show it: the theme's key, or the custom prompt's name."""
        return self.theme.value if self.theme is not None else self.name or ""


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
    include_team: bool = False  # DMs to the event's organisers, chairs and presenters too


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
    waits_for_chair: bool
    organisers: tuple[PersonRef, ...]
    chairs: tuple[PersonRef, ...]
    presenters: tuple[PersonRef, ...]
    housekeeping: tuple[str, ...]
    partners: tuple[str, ...]
    next_event: str | None
    segments: tuple[SegmentPlan, ...]
    prompts: tuple[PromptPlan, ...]  # all four themes, in ReflectionTheme order, then custom ones as written
    reminders: tuple[ReminderPlan, ...]  # in file order
    retention_days: int = DEFAULT_RETENTION_DAYS


@dataclass(frozen=True)
class Problem:
    where: str  # "file.toml: agenda[2].start", or "file.toml line 14" for TOML syntax errors
    message: str  # what is wrong and what would be valid
    key: str = ""  # "agenda[2].start": the key alone, for the editor to find the field it belongs to

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

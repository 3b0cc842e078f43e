"""The persistent domain: typed SQLAlchemy 2 models.

Every change here ships as an Alembic migration under `migrations/versions/`; the test suite
fails if the two disagree. Times are stored in UTC and come back timezone-aware on every
database (SQLite forgets offsets, so `UTCDateTime` puts them back).
"""

from __future__ import annotations

import enum
import re
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bot.clock import utcnow
from bot.tokens import EncryptedToken

# Named constraints let later migrations drop or alter them, and SQLite's batch mode needs names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Every primary key is an `Integer`: 4 bytes on PostgreSQL. A larger id names no row, and one past
# 2**63 is an error on both databases rather than nothing found, so ids read from outside are
# checked against this first.
MAX_ROW_ID = 2**31 - 1
# A Slack id (a team's, user's, channel's) as Slack writes it and as the String(32) columns hold it.
SLACK_ID = re.compile(r"[A-Z0-9]{1,32}")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous here; pass an aware datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(enum_class: type[enum.Enum], name: str) -> Enum:
    # Stored as short strings with a CHECK constraint: portable, readable in SQL, and a new
    # member is a migration that rewrites one constraint rather than a PostgreSQL ENUM type.
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class EventStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Role(str, enum.Enum):
    ORGANISER = "organiser"
    CHAIR = "chair"
    PRESENTER = "presenter"
    MODERATOR = "moderator"
    ATTENDEE = "attendee"


class SegmentKind(str, enum.Enum):
    WELCOME = "welcome"
    PRESENTATION = "presentation"
    QA = "qa"
    BREAK = "break"
    CLOSE = "close"
    OTHER = "other"


class ReflectionTheme(str, enum.Enum):
    IMPROVEMENT = "improvement"
    COLLABORATIVE_WORKING = "collaborative_working"
    EQUITY = "equity"
    NEXT_STEPS = "next_steps"


# A custom prompt's name is shown in digests and typed after `/event prompt`: short.
MAX_PROMPT_NAME_CHARS = 40


class ReflectionSource(str, enum.Enum):
    THREAD = "thread"
    MODAL = "modal"


class QuestionStatus(str, enum.Enum):
    AWAITING_APPROVAL = "awaiting_approval"
    OPEN = "open"
    ANSWERED_LIVE = "answered_live"
    ANSWERED = "answered"
    FOLLOW_UP = "follow_up"
    DISMISSED = "dismissed"
    MERGED = "merged"


class ReminderAudience(str, enum.Enum):
    CHANNEL = "channel"
    DIRECT_MESSAGE = "direct_message"


class ReminderStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    MISSED = "missed"


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


# --- workspaces -------------------------------------------------------------------------------


class Workspace(Base):
    """A Slack workspace (team) the app is installed in; every other row hangs off one."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(255))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    # Filled only for OAuth installs; a single-workspace deployment reads SLACK_BOT_TOKEN instead.
    # Encrypted at rest with EVENTBOT_TOKEN_KEY (bot/tokens.py).
    bot_token: Mapped[str | None] = mapped_column(EncryptedToken)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    people: Mapped[list[Person]] = relationship(back_populates="workspace")


class Person(Base):
    """A Slack user as the app knows them in one workspace."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("workspace_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    organisation: Mapped[str | None] = mapped_column(String(255))
    # IANA name from users.info, so reminders can land at a local hour for each reader.
    timezone: Mapped[str | None] = mapped_column(String(64))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    profile_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    workspace: Mapped[Workspace] = relationship(back_populates="people")


# --- events and their programme -----------------------------------------------------------------


class Event(Base):
    """One live session held in one channel."""

    __tablename__ = "events"
    __table_args__ = (
        # "A channel has at most one live event at a time": enforced by the database, not by hope.
        Index(
            "uq_events_one_current_per_channel",
            "workspace_id",
            "channel_id",
            unique=True,
            sqlite_where=text("status IN ('scheduled', 'live')"),
            postgresql_where=text("status IN ('scheduled', 'live')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus, "event_status"), default=EventStatus.SCHEDULED)
    evaluation_form_url: Mapped[str | None] = mapped_column(String(2000))
    next_event_notice: Mapped[str | None] = mapped_column(Text)
    housekeeping_notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    partner_organisations: Mapped[list[str]] = mapped_column(JSON, default=list)
    # How long presenters have to answer questions kept for follow-up.
    follow_up_days: Mapped[int] = mapped_column(Integer, default=14)
    # Questions wait for a chair's approval before they appear in the channel.
    questions_need_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    welcome_message_ts: Mapped[str | None] = mapped_column(String(32))
    # How far the chair's pace is ahead (negative) or behind the programme: later scheduled
    # posts move by this much, so a session that runs late is not interrupted by the plan.
    schedule_offset_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # The chair paused the scheduled posts at this moment; on resuming, the time held is added to
    # the offset above, so the programme carries on where it stopped.
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The organiser chose that the event waits for the chair's `/event start` instead of starting itself.
    waits_for_chair: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the organisers were told that eventbot was away while the event should have run.
    missed_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The chair's digest orders by votes while keeping organisations varied.
    fair_ordering: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Personal data is kept this many days after the close, then purged (and the organisers told).
    retention_days: Mapped[int] = mapped_column(Integer, default=180, server_default="180")
    personal_data_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_message_ts: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who answers questions not asked of a presenter after the event (the chairs when unset).
    follow_up_lead_slack_id: Mapped[str | None] = mapped_column(String(32))
    # When the follow-up ledger was opened (after the close), and when the close-out was posted.
    follow_ups_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_slack_user_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    segments: Mapped[list[AgendaSegment]] = relationship(
        back_populates="event", order_by="AgendaSegment.position", cascade="all, delete-orphan"
    )
    roles: Mapped[list[EventRole]] = relationship(back_populates="event", cascade="all, delete-orphan")
    prompts: Mapped[list[ReflectionPrompt]] = relationship(back_populates="event", cascade="all, delete-orphan")


class AgendaSegment(Base):
    __tablename__ = "agenda_segments"
    __table_args__ = (UniqueConstraint("event_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    kind: Mapped[SegmentKind] = mapped_column(_enum(SegmentKind, "segment_kind"), default=SegmentKind.OTHER)
    speakers: Mapped[list[str]] = mapped_column(JSON, default=list)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announcement_ts: Mapped[str | None] = mapped_column(String(32))
    # The chair whose `/event next` announced it; None when the schedule did.
    announced_by_slack_id: Mapped[str | None] = mapped_column(String(32))
    # Passed over while eventbot was away: never announced on its own, named in the next announcement.
    missed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    event: Mapped[Event] = relationship(back_populates="segments")


class EventRole(Base):
    """What a person is at one event; a person may hold several roles (a chair who presents)."""

    __tablename__ = "event_roles"
    __table_args__ = (UniqueConstraint("event_id", "person_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    organisation: Mapped[str | None] = mapped_column(String(255))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship(back_populates="roles")
    person: Mapped[Person] = relationship()


# --- reflections -----------------------------------------------------------------------------


class ReflectionPrompt(Base):
    __tablename__ = "reflection_prompts"
    # One of the four themes, or an organiser's own prompt under its name: NULLs are distinct in
    # a unique constraint, so each theme and each name appears once per event.
    __table_args__ = (UniqueConstraint("event_id", "theme"), UniqueConstraint("event_id", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    theme: Mapped[ReflectionTheme | None] = mapped_column(_enum(ReflectionTheme, "reflection_theme"))
    name: Mapped[str | None] = mapped_column(String(MAX_PROMPT_NAME_CHARS))
    text: Mapped[str] = mapped_column(Text)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Thread replies to this message are reflections.
    message_ts: Mapped[str | None] = mapped_column(String(32), index=True)

    event: Mapped[Event] = relationship(back_populates="prompts")

    @property
    def topic(self) -> str:
        """What reflections are grouped under: the theme (a str enum), or the custom prompt's name."""
        return self.theme if self.theme is not None else self.name or ""


class Reflection(Base):
    __tablename__ = "reflections"
    __table_args__ = (UniqueConstraint("prompt_id", "message_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("reflection_prompts.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[ReflectionSource] = mapped_column(_enum(ReflectionSource, "reflection_source"))
    # Set for thread replies, so edits and deletions in Slack find their row.
    message_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- questions ---------------------------------------------------------------------------------


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # Kept even when anonymous, so the asker can be told of the answer; never shown or exported.
    # None once the asker asked eventbot to forget them: the question stays as anonymous text.
    asker_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # An anonymous asker let the question count for their organisation (a named one always counts).
    organisation_shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    text: Mapped[str] = mapped_column(Text)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_segments.id", ondelete="SET NULL"))
    for_presenter_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    status: Mapped[QuestionStatus] = mapped_column(_enum(QuestionStatus, "question_status"), default=QuestionStatus.OPEN)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    # The message the question came from, when it was added with the message shortcut.
    source_message_ts: Mapped[str | None] = mapped_column(String(32))
    card_message_ts: Mapped[str | None] = mapped_column(String(32), index=True)
    answer_text: Mapped[str | None] = mapped_column(Text)
    # Where the written answer is in Slack (its thread reply), for the close-out's links.
    answer_permalink: Mapped[str | None] = mapped_column(String(500))
    answered_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dismissed_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Vote(Base):
    __tablename__ = "votes"
    # One vote per person per question, whatever a burst of clicks tries.
    __table_args__ = (UniqueConstraint("question_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VoteJournal(Base):
    """How far the clicks in one web process's journal file are written (bot/questions/journal.py).

    Updated in the transaction that writes them, so a journal read back after a crash applies
    exactly the clicks that were not: a click is a toggle, and applying one twice would undo it.
    """

    __tablename__ = "vote_journals"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    written_through: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowUp(Base):
    """A question kept to be answered after the event, and its answer once given."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), unique=True)
    assigned_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_text: Mapped[str | None] = mapped_column(Text)
    answered_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    asker_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The owner said they cannot answer it, and why (the askers are told the reason).
    declined_reason: Mapped[str | None] = mapped_column(Text)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Its owner was last reminded of it then; and reminded once it was overdue.
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventAffiliation(Base):
    """The organisation a person counts for at one event: chosen from its partners, or the Slack
    Connect workspace they come from. `organisation` None means they preferred not to say."""

    __tablename__ = "event_affiliations"
    __table_args__ = (UniqueConstraint("event_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    organisation: Mapped[str | None] = mapped_column(String(255))
    # "chosen" (from the prompt) or "slack_connect" (their own workspace).
    source: Mapped[str] = mapped_column(String(16))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpeakingQueueEntry(Base):
    """"Ask aloud": someone waiting for the chair to bring them in."""

    __tablename__ = "speaking_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    brought_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- reminders and evaluation ------------------------------------------------------------------


class Reminder(Base):
    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # The organiser's words ("2 hours after", "next day 10:00"), kept to show back to them.
    when_spec: Mapped[str] = mapped_column(String(255))
    # For a DM reminder at a local hour this is the earliest recipient's moment; each
    # delivery carries its own due time.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set when the time is a local wall-clock time for each recipient ("next day 10:00").
    local_time_for_recipient: Mapped[str | None] = mapped_column(String(5))
    audience: Mapped[ReminderAudience] = mapped_column(_enum(ReminderAudience, "reminder_audience"))
    only_incomplete: Mapped[bool] = mapped_column(Boolean, default=True)
    # DMs skip the event's own organisers, chairs and presenters unless the organiser includes them.
    include_team: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[ReminderStatus] = mapped_column(_enum(ReminderStatus, "reminder_status"), default=ReminderStatus.SCHEDULED)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=360)
    created_by_slack_user_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the organisers were told that some or all of it was missed (down past its grace window).
    organisers_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """The outbox: one row for each thing eventbot must say in Slack, sent exactly once.

    Every post that must happen is a row written in the same transaction as the change that
    calls for it (a question stored, an agenda item announced, a reminder due): a question card,
    a redraw of one, an answer in its thread, a run-of-show post, a DM. Senders claim rows, post
    them, and record the message's ts (bot/outbox.py, bot/slack/sender.py). `kind` says which
    domain renders and records it; reminder rows also name their reminder.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("reminder_id", "recipient_slack_id"),
        Index("ix_deliveries_claimable", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="reminder", server_default="reminder")
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id", ondelete="CASCADE"))
    # The domain row the post is about (a question, an agenda item, a prompt), for its kind to read.
    subject_id: Mapped[int | None] = mapped_column(Integer)
    # A user ID for DMs, a channel ID for a post in a channel.
    recipient_slack_id: Mapped[str] = mapped_column(String(32))
    # A message fixed when the row was written (notices, DMs); kinds that render at send time have none.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # One row per logical post ("card:17"): a repeated request to post it adds nothing.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # One *pending* row per coalesced post ("redraw:17"): cleared when the row is claimed, so a
    # change after the claim asks for a new redraw rather than being lost.
    coalesce_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    # A send may have reached Slack without us hearing back (the worker died, the connection
    # dropped, a 5xx): the next attempt looks for the message in Slack before sending again.
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchedulerLease(Base):
    """Who runs the scheduled jobs: one holder at a time, renewed while it lives (bot/lease.py)."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(255))
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EvaluationCompletion(Base):
    __tablename__ = "evaluation_completions"
    __table_args__ = (UniqueConstraint("event_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HomeTab(Base):
    """Someone who has opened eventbot's Home tab: only they get it republished when what it shows
    changes (a views.publish for each of 5,000 attendees who never look would be a storm), and the
    page of each of its lists they last turned to."""

    __tablename__ = "home_tabs"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # {"queue": 2, ...}: the page each list shows, so a republish keeps the person where they were.
    pages: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Whether they may set events up (a workspace admin, a named organiser), as Slack said when they
    # last opened it: the tab is redrawn without Slack, and its list of commands depends on it.
    may_organise: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# --- Slack plumbing ----------------------------------------------------------------------------


class ProcessedSlackEvent(Base):
    """Events API ids already handled: Slack redelivers when an ack is late, so handle each once."""

    __tablename__ = "processed_slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# --- OAuth installs ----------------------------------------------------------------------------
# slack_sdk's SQLAlchemy installation and state stores read and write these tables
# (bot/installations.py), with the columns those stores use. They are declared here rather than
# made by the stores' `create_tables`, so migrations own them like every other table, and every
# token column is encrypted at rest like `workspaces.bot_token`.

# A rotating token with its `xoxe.` prefix runs to about 200 characters; its ciphertext to 360.
SECRET_LENGTH = 500

slack_installations = Table(
    "slack_installations",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", EncryptedToken(SECRET_LENGTH)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", EncryptedToken(SECRET_LENGTH)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", EncryptedToken(SECRET_LENGTH)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", EncryptedToken(SECRET_LENGTH)),
    Column("user_token_expires_at", DateTime),
    # A webhook URL is a credential too: whoever has it can post in that channel.
    Column("incoming_webhook_url", EncryptedToken(SECRET_LENGTH)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    # Naive UTC, as the stores write it (slack_sdk.oauth.sqlalchemy_utils).
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

slack_bots = Table(
    "slack_bots",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", EncryptedToken(SECRET_LENGTH)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", EncryptedToken(SECRET_LENGTH)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

# The `state` of an install in progress: issued at /slack/install, used once at the redirect.
slack_oauth_states = Table(
    "slack_oauth_states",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)

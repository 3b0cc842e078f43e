"""The app removed from a workspace: its token forgotten, what waited to go out there stopped, and
nothing more scheduled for it; other workspaces carry on."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from slack_bolt import BoltContext
from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import Database, unit_of_work
from bot.events import people
from bot.models import (
    Delivery,
    DeliveryStatus,
    Event,
    EventStatus,
    Reminder,
    ReminderAudience,
    ReminderStatus,
    Workspace,
)
from bot.reminders import slack as reminders_slack
from bot.reminders.rules import Stopped
from bot.run_of_show import slack as run_of_show_slack
from bot.workspaces import ensure_workspace, is_installed, mark_uninstalled
from handlers import uninstalling
from tests.cast import ATTENDEES, CHANNEL, ORGANISER, at
from tests.posting import deliver
from tests.reminder_world import plan
from tests.slackdouble import SlackDouble

GONE = "T0GONE"


@pytest.fixture(autouse=True)
def token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """OAuth installs keep their tokens encrypted (bot/tokens.py): without a key none would be stored."""
    monkeypatch.setenv("EVENTBOT_TOKEN_KEY", Fernet.generate_key().decode())

STAYS = "T0STAYS"
NOW = at("18:00")


def _event(database: Database, *, team_id: str, channel_id: str = CHANNEL, status: EventStatus = EventStatus.CLOSED,
           starts_at: datetime = at("14:30"), ends_at: datetime = at("16:00")) -> int:
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id=team_id)
        workspace.bot_token = f"xoxb-{team_id}"
        event = Event(workspace_id=workspace.id, channel_id=channel_id, title=f"Learning event in {team_id}",
                      starts_at=starts_at, ends_at=ends_at, status=status, created_by_slack_user_id=ORGANISER)
        session.add(event)
        session.flush()
        people.add_attendees(session, event=event, slack_user_ids=ATTENDEES[:2])
        return event.id


def _reminder(database: Database, event_id: int, *, status: ReminderStatus = ReminderStatus.SCHEDULED,
              due_at: datetime = at("17:00"), deliveries: tuple[tuple[str, DeliveryStatus, str | None], ...] = ()) -> int:
    """A DM reminder; `deliveries`: (recipient, status, claimed_by) rows already fanned out."""
    with unit_of_work(database) as session:
        # At a date and time: a reminder counted from the close would wait for a live event's close.
        when = due_at.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M")
        reminder = Reminder(event_id=event_id, when_spec=when, due_at=due_at, text="The form, please.",
                            audience=ReminderAudience.DIRECT_MESSAGE, status=status,
                            fanned_out_at=due_at if deliveries else None)
        session.add(reminder)
        session.flush()
        for recipient, delivery_status, claimed_by in deliveries:
            session.add(Delivery(reminder_id=reminder.id, event_id=reminder.event_id,
                                 workspace_id=session.get_one(Event, reminder.event_id).workspace_id,
                                 recipient_slack_id=recipient, due_at=due_at,
                                 next_attempt_at=due_at, status=delivery_status, claimed_by=claimed_by,
                                 claimed_until=NOW + timedelta(minutes=1) if claimed_by else None))
        return reminder.id


def _workspace_with_work(database: Database, team_id: str) -> tuple[int, int]:
    """A reminder waiting for later, and one half sent: one DM out, one waiting, one being sent now."""
    event_id = _event(database, team_id=team_id)
    waiting = _reminder(database, event_id, due_at=NOW + timedelta(hours=16))
    sending = _reminder(database, event_id, status=ReminderStatus.SENDING, deliveries=(
        (ATTENDEES[0], DeliveryStatus.SENT, None),
        (ATTENDEES[1], DeliveryStatus.PENDING, None),
        (ORGANISER, DeliveryStatus.PENDING, "worker-1#1"),
    ))
    return waiting, sending


def _state(database: Database, reminder_ids: tuple[int, ...]) -> list[tuple[object, ...]]:
    with unit_of_work(database) as session:
        statuses = [session.get_one(Reminder, rid).status for rid in reminder_ids]
        rows = session.execute(select(Delivery.recipient_slack_id, Delivery.status, Delivery.last_error,
                                      Delivery.claimed_by).where(Delivery.reminder_id.in_(reminder_ids))
                               .order_by(Delivery.id)).all()
        return [*statuses, *map(tuple, rows)]


def _workspace(database: Database, team_id: str) -> Workspace:
    with unit_of_work(database) as session:
        return session.scalars(select(Workspace).where(Workspace.team_id == team_id)).one()


def test_uninstalling_stops_what_waited_to_go_out_in_that_workspace_only(database: Database) -> None:
    gone = _workspace_with_work(database, GONE)
    stays = _workspace_with_work(database, STAYS)
    untouched = _state(database, stays)

    assert reminders_slack.stop_after_uninstall(database, team_id=GONE, now=NOW) == Stopped(reminders=2, deliveries=2)

    assert _state(database, gone) == [
        ReminderStatus.CANCELLED, ReminderStatus.CANCELLED,
        (ATTENDEES[0], DeliveryStatus.SENT, None, None),
        (ATTENDEES[1], DeliveryStatus.SKIPPED, "uninstalled", None),
        # Being sent right now: skipped, and the sender's claim kept so it can still record a send.
        (ORGANISER, DeliveryStatus.SKIPPED, "uninstalled", "worker-1#1"),
    ]
    assert _state(database, stays) == untouched
    assert untouched[:2] == [ReminderStatus.SCHEDULED, ReminderStatus.SENDING]
    workspace = _workspace(database, GONE)
    assert (workspace.uninstalled_at, workspace.bot_token) == (NOW, None)
    assert (_workspace(database, STAYS).uninstalled_at, _workspace(database, STAYS).bot_token) == (None, "xoxb-T0STAYS")


def test_uninstalling_again_changes_nothing(database: Database) -> None:
    gone = _workspace_with_work(database, GONE)
    reminders_slack.stop_after_uninstall(database, team_id=GONE, now=NOW)
    after_first = _state(database, gone)

    # Slack sends tokens_revoked and app_uninstalled for one removal, and may redeliver either.
    assert reminders_slack.stop_after_uninstall(database, team_id=GONE, now=NOW + timedelta(minutes=5)) == Stopped(
        reminders=0, deliveries=0)

    assert _state(database, gone) == after_first
    assert _workspace(database, GONE).uninstalled_at == NOW


def test_is_installed_until_uninstalled(database: Database) -> None:
    _event(database, team_id=STAYS)
    with unit_of_work(database) as session:
        mark_uninstalled(session, team_id=GONE, now=NOW)
    with unit_of_work(database) as session:
        assert is_installed(session, team_id=STAYS)
        assert not is_installed(session, team_id=GONE)
        # A workspace never seen is a new install (its first request creates it).
        assert is_installed(session, team_id="T0NEWCOMER")


def test_the_scheduler_posts_and_reminds_nothing_for_an_uninstalled_workspace(
    database: Database, client: WebClient, slack: SlackDouble
) -> None:
    for channel_id in ("C0GONEDUE", "C0GONELIVE"):
        slack.add_channel(channel_id, channel_id.lower(), members=[ORGANISER, *ATTENDEES[:2]])
    # In the uninstalled workspace: an event due to start, one due to close, a reminder due and a
    # missed one whose organisers were never told. Only the workspace is marked (nothing cancelled),
    # so this is the scheduler's own queries at work.
    gone_due = _event(database, team_id=GONE, channel_id="C0GONEDUE", status=EventStatus.SCHEDULED,
                      starts_at=NOW - timedelta(minutes=1), ends_at=NOW + timedelta(hours=1))
    gone_live = _event(database, team_id=GONE, channel_id="C0GONELIVE", status=EventStatus.LIVE,
                       starts_at=NOW - timedelta(hours=2), ends_at=NOW - timedelta(minutes=1))
    gone_reminder = _reminder(database, gone_live, due_at=NOW - timedelta(minutes=1))
    gone_missed = _reminder(database, gone_live, status=ReminderStatus.MISSED, due_at=NOW - timedelta(days=1))
    # The same in a workspace that still has the app.
    stays_due = _event(database, team_id=STAYS, status=EventStatus.SCHEDULED,
                       starts_at=NOW - timedelta(minutes=1), ends_at=NOW + timedelta(hours=1))
    stays_reminder = _reminder(database, stays_due, due_at=NOW - timedelta(minutes=1))
    stays_missed = _reminder(database, stays_due, status=ReminderStatus.MISSED, due_at=NOW - timedelta(days=1))
    with unit_of_work(database) as session:
        mark_uninstalled(session, team_id=GONE, now=NOW - timedelta(minutes=30))

    run_of_show_slack.run_due_work(database, client, now=NOW)
    planned = plan(database, client, NOW)
    deliver(database, client, NOW)

    with unit_of_work(database) as session:
        assert session.get_one(Event, gone_due).status == EventStatus.SCHEDULED
        assert session.get_one(Event, gone_live).status == EventStatus.LIVE
        assert session.get_one(Event, stays_due).status == EventStatus.LIVE
        assert session.get_one(Reminder, gone_reminder).status == ReminderStatus.SCHEDULED
    assert slack.messages("C0GONEDUE") == [] and slack.messages("C0GONELIVE") == []
    assert slack.messages(CHANNEL)  # the welcome, in the workspace that has the app
    assert (planned.fanned_out, planned.told) == ([stays_reminder], [stays_missed])
    assert gone_missed not in planned.told


def test_only_the_bots_revoked_token_counts(database: Database) -> None:
    _workspace_with_work(database, GONE)
    context = BoltContext(database=database, team_id=GONE)

    # People revoking their own user tokens: eventbot holds none, so nothing changes.
    uninstalling.tokens_revoked({"type": "tokens_revoked", "tokens": {"oauth": [ORGANISER], "bot": []}}, context)
    assert _workspace(database, GONE).uninstalled_at is None

    uninstalling.tokens_revoked({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0EVENTBOT"]}}, context)
    assert _workspace(database, GONE).uninstalled_at is not None
    assert _workspace(database, GONE).bot_token is None


def test_app_uninstalled_on_its_own_stops_the_workspace(database: Database) -> None:
    waiting, _ = _workspace_with_work(database, GONE)
    # Either event may come first, or alone.
    uninstalling.app_uninstalled(BoltContext(database=database, team_id=GONE))
    assert _state(database, (waiting,)) == [ReminderStatus.CANCELLED]
    assert _workspace(database, GONE).uninstalled_at is not None

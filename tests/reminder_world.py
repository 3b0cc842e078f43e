"""A small event with attendees, for reminder and delivery tests (domain and scenario alike)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.db import Database, unit_of_work
from bot.events import people
from bot.events.rules import EventDetails, create_event
from bot.models import (
    Delivery,
    Event,
    EventStatus,
    Reminder,
    ReminderAudience,
    ReminderStatus,
)
from bot.reminders import slack as reminders_slack
from bot.workspaces import ensure_workspace
from tests.apprunner import BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, TEAM_ID
from tests.posting import deliver  # noqa: F401  (re-exported for the reminder tests)
from tests.slackdouble import SlackDouble

CHANNEL = "C0REMINDER"
ORGANISER = "U0ORGANISE"
FORM = "https://forms.example.org/evaluation?a=1&b=2"


def double() -> SlackDouble:
    return SlackDouble(team_id=TEAM_ID, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, bot_user_id=BOT_USER_ID)


def attendee_ids(count: int, prefix: str = "U0PEOPLE") -> list[str]:
    return [f"{prefix}{n:04d}" for n in range(count)]


def populate(slack: SlackDouble, attendees: list[str], *, zones: dict[str, str] | None = None,
             extra_members: tuple[str, ...] = ()) -> None:
    slack.add_user(ORGANISER, "organiser", tz="Europe/London")
    for n, user_id in enumerate(attendees):
        slack.add_user(user_id, f"person{n}", tz=(zones or {}).get(user_id, "Europe/London"))
    slack.add_channel(CHANNEL, "evaluation", members=[ORGANISER, *attendees, *extra_members])


def make_event(database: Database, *, attendees: list[str], ends_at: datetime,
               status: EventStatus = EventStatus.CLOSED, form_url: str | None = FORM,
               timezone_name: str = "Europe/London", title: str = "Evaluation rehearsal") -> int:
    """An event that ran (or runs) in CHANNEL, with the organiser and `attendees` enrolled."""
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id=TEAM_ID)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=ORGANISER,
                             details=EventDetails(title=title, starts_at=ends_at - timedelta(hours=1), ends_at=ends_at,
                                                  timezone=timezone_name, evaluation_form_url=form_url, chairs=(),
                                                  presenters=()))
        people.add_attendees(session, event=event, slack_user_ids=attendees)
        event.status = status
        if status == EventStatus.CLOSED:
            event.closed_at = ends_at
        return event.id


def add_reminder(database: Database, event_id: int, *, due_at: datetime, when_spec: str = "at close",
                 audience: ReminderAudience = ReminderAudience.DIRECT_MESSAGE, only_incomplete: bool = True,
                 local_time: str | None = None, grace_minutes: int = 360,
                 text: str = "Please fill in the evaluation form: " + FORM) -> int:
    """A reminder as the programme importer writes one."""
    with unit_of_work(database) as session:
        reminder = Reminder(event_id=event_id, when_spec=when_spec, due_at=due_at, local_time_for_recipient=local_time,
                            audience=audience, only_incomplete=only_incomplete, text=text, grace_minutes=grace_minutes,
                            status=ReminderStatus.SCHEDULED)
        session.add(reminder)
        session.flush()
        return reminder.id


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def plan(database: Database, client, now: datetime) -> reminders_slack.PlanRun:  # type: ignore[no-untyped-def]
    return reminders_slack.plan_reminders(database, client, now=now, bot_user_id=BOT_USER_ID)



def rows(database: Database, reminder_id: int | None = None) -> list[Delivery]:
    with unit_of_work(database) as session:
        query = session.query(Delivery).order_by(Delivery.id)
        if reminder_id is not None:
            query = query.filter(Delivery.reminder_id == reminder_id)
        return list(query)


def reminder_status(database: Database, reminder_id: int) -> ReminderStatus:
    with unit_of_work(database) as session:
        return session.get_one(Reminder, reminder_id).status


def event_of(database: Database, event_id: int) -> Event:
    with unit_of_work(database) as session:
        return session.get_one(Event, event_id)

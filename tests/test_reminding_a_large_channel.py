"""A national webinar: thousands in one channel. Enrolled a page at a time, their zones read from
pages of users.list (or kept fresh by `user_change`), not one users.info per person."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, func, select

from bot.app import outbox_kinds
from bot.config import ConfigError, load_settings
from bot.db import Database, unit_of_work
from bot.events import slack as events_slack
from bot.events.people import BULK_ROWS
from bot.models import EventRole, Person, Role
from bot.slack.client import make_web_client
from bot.slack.sender import Sender
from tests.apprunner import BOT_TOKEN, BOT_USER_ID
from tests.databases import counting_queries
from tests.reminder_world import (
    CHANNEL,
    add_reminder,
    attendee_ids,
    double,
    make_event,
    plan,
    populate,
    rows,
    utc,
)
from tests.slackdouble import SlackDouble

CLOSED_AT = utc(2026, 11, 19, 17, 0)
ZONES = ["Europe/London", "America/New_York", "Asia/Tokyo", "Asia/Kolkata"]
BOT_ATTENDEE, GONE = "U0ABOT0001", "U0GONE0001"


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    """An empty workspace: each test fills the channel it needs."""
    with double() as slack:
        yield slack
        assert slack.internal_errors == []


@pytest.fixture
def client(slack: SlackDouble) -> WebClient:
    return make_web_client(token=BOT_TOKEN, base_url=slack.api_url)


def fill(slack: SlackDouble, count: int) -> list[str]:
    """A channel of `count` people spread over four zones, a bot and a deactivated account among them."""
    attendees = attendee_ids(count)
    slack.add_user(BOT_ATTENDEE, "helperbot", is_bot=True)
    slack.add_user(GONE, "gone", deleted=True)
    populate(slack, attendees, zones={a: ZONES[n % len(ZONES)] for n, a in enumerate(attendees)},
             extra_members=(BOT_ATTENDEE, GONE))
    return attendees


def attendees_of(database: Database, event_id: int) -> list[str]:
    with unit_of_work(database) as session:
        return list(session.scalars(select(Person.slack_user_id).join(EventRole, EventRole.person_id == Person.id)
                                    .where(EventRole.event_id == event_id, EventRole.role == Role.ATTENDEE)))


def test_a_large_channel_is_enrolled_a_page_at_a_time_in_a_few_statements(
    slack: SlackDouble, client: WebClient, database: Database, engine: Engine
) -> None:
    attendees = fill(slack, 1_234)
    event_id = make_event(database, attendees=attendees[1:3], ends_at=CLOSED_AT)
    with unit_of_work(database) as session:  # known before, from a programme file: kept as it is
        known = session.scalar(select(Person).where(Person.slack_user_id == attendees[1]))
        assert known is not None
        known.display_name, known.timezone = "Dr Known", "Asia/Tokyo"

    with counting_queries(engine) as statements:
        events_slack.enrol_channel_members(database, client, event_id=event_id, channel_id=CHANNEL,
                                          exclude=frozenset({BOT_USER_ID}))

    pages = slack.calls_to("conversations.members")
    assert [call.args.get("limit") for call in pages] == ["500"] * 3  # 1,238 members, 500 a page
    writes = [s for s in statements if "people" in s or "event_roles" in s]
    # A people insert, a read of their ids, a roles insert: per BULK_ROWS members, not per member.
    assert len(writes) == 3 * math.ceil(1_237 / BULK_ROWS)
    assert len(statements) < 20
    enrolled = attendees_of(database, event_id)
    assert sorted(enrolled) == sorted({*attendees, BOT_ATTENDEE, GONE, "U0ORGANISE"})
    assert len(enrolled) == len(set(enrolled))  # those enrolled before are not enrolled twice
    with unit_of_work(database) as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 1_237
        known = session.scalar(select(Person).where(Person.slack_user_id == attendees[1]))
        assert known is not None and (known.display_name, known.timezone) == ("Dr Known", "Asia/Tokyo")

    slack.add_user("U0LATECOMER", "late")
    slack.add_member(CHANNEL, "U0LATECOMER")
    events_slack.enrol_channel_members(database, client, event_id=event_id, channel_id=CHANNEL,
                                      exclude=frozenset({BOT_USER_ID}))
    assert len(attendees_of(database, event_id)) == 1_238  # again: the newcomer only


def test_a_reminder_to_a_large_channel_reads_zones_from_pages_of_users_list(
    slack: SlackDouble, client: WebClient, database: Database
) -> None:
    attendees = fill(slack, 1_100)
    event_id = make_event(database, attendees=[*attendees, BOT_ATTENDEE, GONE], ends_at=CLOSED_AT)
    reminder_id = add_reminder(database, event_id, due_at=CLOSED_AT, when_spec="next day 10:00", local_time="10:00")

    run = plan(database, client, CLOSED_AT + timedelta(minutes=1))

    assert run.fanned_out == [reminder_id]
    assert slack.calls_to("users.info") == []
    assert [call.args.get("limit") for call in slack.calls_to("users.list")] == ["500"] * 3
    due = {row.recipient_slack_id: row.due_at for row in rows(database, reminder_id)}
    assert sorted(due) == attendees  # not the bots, not the deactivated, not the organisers (no team)
    for n, attendee in enumerate(attendees):
        zone = ZoneInfo(ZONES[n % len(ZONES)])
        local = due[attendee].astimezone(zone)
        day_after_close = CLOSED_AT.astimezone(zone).date() + timedelta(days=1)  # 21 November in Tokyo
        assert (local.date(), local.hour, local.minute) == (day_after_close, 10, 0), attendee


def test_profiles_kept_fresh_by_user_change_need_no_lookup_at_all(
    slack: SlackDouble, client: WebClient, database: Database
) -> None:
    attendees = fill(slack, 120)
    event_id = make_event(database, attendees=[*attendees, BOT_ATTENDEE, GONE], ends_at=CLOSED_AT)
    reminder_id = add_reminder(database, event_id, due_at=CLOSED_AT, when_spec="next day 10:00", local_time="10:00")
    with unit_of_work(database) as session:
        workspace_id = session.scalars(select(Person.workspace_id)).first()
    assert workspace_id is not None
    moved = attendees[0]
    for user in client.users_list(limit=500)["members"]:  # what each person's `user_change` carries
        if user["id"] == moved:
            user["tz"] = "Pacific/Auckland"
        events_slack.profile_changed(database, workspace_id=workspace_id, user=user, now=CLOSED_AT)
    calls_before = len(slack.calls)

    plan(database, client, CLOSED_AT + timedelta(minutes=1))

    assert [c.method for c in slack.calls[calls_before:] if c.method.startswith("users.")] == []
    due = {row.recipient_slack_id: row.due_at for row in rows(database, reminder_id)}
    assert len(due) == 120 and BOT_ATTENDEE not in due and GONE not in due
    assert due[moved].astimezone(ZoneInfo("Pacific/Auckland")).hour == 10
    assert due[attendees[2]].astimezone(ZoneInfo("Asia/Tokyo")).hour == 10


@pytest.mark.parametrize("failure", ["error", "drop"])
def test_when_users_list_fails_the_audience_is_read_with_users_info(
    slack: SlackDouble, client: WebClient, database: Database, failure: str
) -> None:
    attendees = fill(slack, 60)
    event_id = make_event(database, attendees=[*attendees, BOT_ATTENDEE, GONE], ends_at=CLOSED_AT)
    reminder_id = add_reminder(database, event_id, due_at=CLOSED_AT, when_spec="next day 10:00", local_time="10:00")
    # An error Slack names, or a connection dropped every time the client tries (it retries three times).
    slack.fail_next("users.list", 1 if failure == "error" else 4, mode=failure, error="fatal_error")  # type: ignore[arg-type]

    plan(database, client, CLOSED_AT + timedelta(minutes=1))

    assert len(slack.calls_to("users.info")) == 62  # the 60, the bot, the deactivated
    due = {row.recipient_slack_id: row.due_at for row in rows(database, reminder_id)}
    assert len(due) == 60 and due[attendees[3]].astimezone(ZoneInfo("Asia/Kolkata")).hour == 10


def test_a_small_audience_is_still_read_with_users_info(
    slack: SlackDouble, client: WebClient, database: Database
) -> None:
    attendees = fill(slack, 12)
    event_id = make_event(database, attendees=[*attendees, BOT_ATTENDEE, GONE], ends_at=CLOSED_AT)
    reminder_id = add_reminder(database, event_id, due_at=CLOSED_AT, when_spec="next day 10:00", local_time="10:00")

    plan(database, client, CLOSED_AT + timedelta(minutes=1))

    assert slack.calls_to("users.list") == [] and len(slack.calls_to("users.info")) == 14
    assert len(rows(database, reminder_id)) == 12


def test_the_sender_paces_a_large_fan_out_under_the_workspace_limit_instead_of_meeting_429s(
    slack: SlackDouble, client: WebClient, database: Database
) -> None:
    attendees = fill(slack, 45)
    event_id = make_event(database, attendees=attendees, ends_at=CLOSED_AT)
    reminder_id = add_reminder(database, event_id, due_at=CLOSED_AT)
    slack.rate_limit("chat.postMessage", per="workspace", calls=10, period=1)
    plan(database, client, CLOSED_AT)
    # Paced a little under Slack's limit, as README advises when posts must not meet a 429.
    sender = Sender(database, client, outbox_kinds(), clock=lambda: CLOSED_AT, posts_per_minute=8 * 60)

    started = time.monotonic()
    run = sender.deliver_due()
    elapsed = time.monotonic() - started

    assert run.sent == len(rows(database, reminder_id)) == 45
    # Posts waited for their turn rather than being refused (unpaced, eight threads meet a 429 at
    # once: tests/test_deliveries.py); at most one when a post held up on a busy machine reaches
    # Slack together with the next ones.
    assert sender.pacer.post_waits >= 25
    assert len([c for c in slack.calls_to("chat.postMessage") if c.status == 429]) <= 1
    assert elapsed >= (45 - 7) / 8 - 0.2  # seven at once, then eight a second


@pytest.mark.parametrize("value", ["0", "-5", "ten", "60001"])
def test_a_pace_that_is_not_a_number_of_posts_a_minute_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="EVENTBOT_POSTS_PER_MINUTE"):
        load_settings({"EVENTBOT_POSTS_PER_MINUTE": value})
    assert load_settings({"EVENTBOT_POSTS_PER_MINUTE": "300"}).posts_per_minute == 300
    assert load_settings({}).posts_per_minute == 600

"""Evaluation reminders at the domain level: who gets them, at whose 10:00, completions, missed ones, the forms."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from slack_sdk import WebClient

from bot import outbox
from bot.app import outbox_kinds
from bot.db import Database, unit_of_work
from bot.events.people import NotAllowed
from bot.events.rules import FormProblems
from bot.models import (
    DeliveryStatus,
    Event,
    EventStatus,
    Person,
    Reflection,
    ReflectionSource,
    ReminderAudience,
    ReminderStatus,
)
from bot.reminders import blocks as reminder_blocks
from bot.reminders import rules as reminders
from bot.reminders import slack as reminders_slack
from bot.reminders.rules import ReminderError, ReminderForm
from bot.run_of_show import slack as run_of_show_slack
from bot.slack.messages import Message
from bot.slack.sender import Sender
from tests.apprunner import BOT_USER_ID
from tests.cast import (
    ATTENDEES,
    CHAIR,
    CHANNEL,
    DAY,
    ORGANISER,
    PRESENTERS,
    at,
)
from tests.reminder_world import deliver, plan, reminder_status, rows
from tests.slackdouble import SlackDouble

TOKYO = "U0TOKYO001"
LEFT_EARLY = "U0LEFTEARLY"


@pytest.fixture
def slack(slack: SlackDouble) -> SlackDouble:
    """The seed workspace, with someone in Tokyo, someone who left early and a deactivated account."""
    double = slack
    double.add_user(TOKYO, "tokyo", tz="Asia/Tokyo")
    double.add_member(CHANNEL, TOKYO)
    double.add_user(LEFT_EARLY, "leftearly", tz="America/Los_Angeles")
    double.add_user("U0DEACTIVE", "gone", deleted=True)
    double.add_member(CHANNEL, "U0DEACTIVE")
    return double


@pytest.fixture
def event_id(event_id: int, database: Database, client: WebClient) -> int:
    """The seed event, started, one reflection from someone who then left, closed."""
    run_of_show_slack.run_due_work(database, client, now=at("14:30"), exclude_from_attendees=frozenset({BOT_USER_ID}))
    deliver(database, client, at("14:30"))
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        someone = Person(workspace_id=event.workspace_id, slack_user_id=LEFT_EARLY)
        session.add(someone)
        session.flush()
        session.add(Reflection(prompt_id=event.prompts[0].id, person_id=someone.id, text="Took part, then left",
                               source=ReflectionSource.MODAL))
    run_of_show_slack.close_event(database, event_id=event_id, now=at("16:00"))
    deliver(database, client, at("16:00"))
    return event_id


def dm_count(slack: SlackDouble, user: str) -> int:
    return len(slack.dms(user))


def form(**changes: object) -> ReminderForm:
    values: dict[str, object] = {"when": "next day 10:00", "audience": "dm", "only_incomplete": True,
                                 "text": "Please fill in the evaluation form: {form_url}"}
    values.update(changes)
    return ReminderForm(**values)  # type: ignore[arg-type]


# --- the right people, at their own 10:00 ----------------------------------------------------------


def test_programme_reminders_reach_the_right_people_at_their_own_local_minute(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    channel_posts = len(slack.messages(CHANNEL))
    run = plan(database, client, at("16:00"))
    assert len(run.fanned_out) == 2  # the close's channel post, and the next-day DMs (waiting for each hour)
    deliver(database, client, at("16:00"))
    assert len(slack.messages(CHANNEL)) == channel_posts + 1
    assert "complete the evaluation form" in slack.messages(CHANNEL)[-1]["text"]

    dm_rows = [r for r in rows(database) if r.reminder_id is not None and r.recipient_slack_id != CHANNEL]
    recipients = {r.recipient_slack_id for r in dm_rows}
    # Channel members during the event, and a person who reflected and then left; not the bots,
    # not a deactivated account, not the app itself, and not the event's own team (not included).
    assert set(ATTENDEES) | {TOKYO, LEFT_EARLY} <= recipients
    assert not recipients & {"U0OTHERBOT", "U0DEACTIVE", BOT_USER_ID, CHAIR, ORGANISER, *PRESENTERS.values()}
    with unit_of_work(database) as session:
        zones = {p.slack_user_id: p.timezone for p in session.query(Person)}
    assert zones[ATTENDEES[3]] == "America/New_York" and zones[TOKYO] == "Asia/Tokyo"  # cached from users.info

    london, dublin, new_york = ATTENDEES[0], ATTENDEES[1], ATTENDEES[3]
    next_day = DAY + timedelta(days=1)
    expected = {
        london: at("10:00", next_day),  # GMT
        dublin: at("10:00", next_day),  # GMT in March
        new_york: at("15:00", next_day),  # 10:00 EST
        LEFT_EARLY: at("18:00", next_day),  # 10:00 PST
        TOKYO: at("01:00", next_day + timedelta(days=1)),  # the close is already Tuesday 01:00 in Tokyo
    }
    for person, due in expected.items():
        row = next(r for r in dm_rows if r.recipient_slack_id == person)
        assert row.due_at == due, person

    for due in sorted(set(expected.values())):
        now_due = [person for person, when in expected.items() if when == due]
        deliver(database, client, due - timedelta(seconds=1))
        assert [dm_count(slack, person) for person in now_due] == [0] * len(now_due), due
        deliver(database, client, due)
        assert [dm_count(slack, person) for person in now_due] == [1] * len(now_due), due
    assert slack.dms(TOKYO)[0]["text"].startswith("Thank you for attending Provider collaboratives")
    deliver(database, client, at("12:00", next_day + timedelta(days=1)))
    assert all(r.status == DeliveryStatus.SENT for r in rows(database))
    assert all(dm_count(slack, person) == 1 for person in recipients)
    plan(database, client, at("12:00", next_day + timedelta(days=1)))
    with unit_of_work(database) as session:
        summary = reminders.event_reminders(session, event=session.get_one(Event, event_id))
    assert [r.status for r in summary.reminders] == [ReminderStatus.SENT, ReminderStatus.SENT]
    assert summary.reminders[1].sent == len(recipients)


def test_local_due_uses_the_recipients_zone_and_survives_a_clock_change(database: Database) -> None:
    event = Event(ends_at=at("16:00", date(2031, 3, 29)), timezone="Europe/London")
    # 01:30 does not happen in London on Sunday 30 March 2031: it lands just after the gap.
    assert reminders.local_due(event, "01:30", "Europe/London") == at("01:30", date(2031, 3, 30))
    assert reminders.local_due(event, "10:00", "Europe/London") == at("09:00", date(2031, 3, 30))  # BST
    assert reminders.local_due(event, "10:00", "Not/AZone") == at("09:00", date(2031, 3, 30))
    assert reminders.local_due(event, "10:00", None) == at("09:00", date(2031, 3, 30))


# --- completions --------------------------------------------------------------------------------


def test_completing_the_form_stops_later_reminders_and_the_organiser_sees_it(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    workspace_id = _workspace(database, event_id)
    done_early, done_later = ATTENDEES[0], ATTENDEES[2]
    first = reminders_slack.record_completion(database, workspace_id=workspace_id, event_id=event_id,
                                        slack_user_id=done_early, now=at("16:05"))
    again = reminders_slack.record_completion(database, workspace_id=workspace_id, event_id=event_id,
                                        slack_user_id=done_early, now=at("16:06"))
    assert (first.first_time, again.first_time, again.completed) == (True, False, 1)

    plan(database, client, at("16:10"))  # fans out the next-day DMs, without the one who completed
    recipients = {r.recipient_slack_id for r in rows(database)}
    assert done_early not in recipients and done_later in recipients
    later = reminders_slack.record_completion(database, workspace_id=workspace_id, event_id=event_id,
                                        slack_user_id=done_later, now=at("20:00"))
    assert later.stopped == 1  # their pending DM will not go

    deliver(database, client, at("10:00", DAY + timedelta(days=1)))
    assert dm_count(slack, done_early) == 0 and dm_count(slack, done_later) == 0
    assert dm_count(slack, ATTENDEES[4]) == 1
    with unit_of_work(database) as session:
        summary = reminders.event_reminders(session, event=session.get_one(Event, event_id))
    assert summary.completed == 2
    dm_summary = next(r for r in summary.reminders if r.audience == ReminderAudience.DIRECT_MESSAGE)
    assert dm_summary.skipped_completed == 1
    listing = reminder_blocks.reminder_list(summary)
    assert "*2* of" in str(listing.blocks) and "not needed (form completed)" in str(listing.blocks)


def test_a_completion_between_claim_and_send_is_respected(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    plan(database, client, at("16:10"))
    due = at("10:00", DAY + timedelta(days=1))
    with unit_of_work(database) as session:
        items = outbox.claim(session, worker="w", now=due, limit=50)
    item = next(i for i in items if i.recipient == ATTENDEES[5])
    reminders_slack.record_completion(database, workspace_id=item.workspace_id, event_id=event_id,
                                slack_user_id=ATTENDEES[5], now=due)
    with unit_of_work(database) as session:
        [again] = [i for i in outbox.claim(session, worker="w", now=due + timedelta(minutes=2), limit=50)
                   if i.recipient == ATTENDEES[5]]
    assert Sender(database, client, outbox_kinds(), clock=lambda: due).process(again) == "skipped"
    assert dm_count(slack, ATTENDEES[5]) == 0


def test_a_fan_out_cut_short_is_resumed_without_duplicates(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Killed(Exception):
        pass

    calls: list[int] = []

    def rows_written() -> None:
        calls.append(1)
        if len(calls) == 2:  # the channel post's one row, then the first five DM rows: the process dies
            raise Killed

    monkeypatch.setattr(reminders_slack, "FAN_OUT_CHUNK", 5)
    with pytest.raises(Killed):
        reminders_slack.plan_reminders(database, client, now=at("16:10"), bot_user_id=BOT_USER_ID, on_rows=rows_written)
    dm_reminder = rows(database)[-1].reminder_id
    assert len(rows(database, dm_reminder)) == 5
    assert reminder_status(database, dm_reminder) == ReminderStatus.SENDING  # but not fanned out: not finished

    run = plan(database, client, at("16:11"))
    assert run.fanned_out == [dm_reminder] and dm_reminder not in run.finished
    recipients = [r.recipient_slack_id for r in rows(database, dm_reminder)]
    assert len(recipients) == len(set(recipients)) == 14  # resumed: everyone, nobody twice
    for moment in (at("10:00", DAY + timedelta(days=1)), at("15:00", DAY + timedelta(days=1)),
                   at("18:00", DAY + timedelta(days=1)), at("01:00", DAY + timedelta(days=2))):
        deliver(database, client, moment)
    assert [dm_count(slack, person) for person in recipients] == [1] * 14


# --- downtime --------------------------------------------------------------------------------------


def test_after_downtime_a_reminder_within_its_grace_window_still_goes_out(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    channel_posts = len(slack.messages(CHANNEL))
    plan(database, client, at("21:59"))  # "at close" (16:00), with the default 6 hours' grace
    deliver(database, client, at("21:59"))
    assert len(slack.messages(CHANNEL)) == channel_posts + 1
    assert dm_count(slack, ORGANISER) == 0  # nothing to tell


def test_beyond_its_grace_window_a_reminder_is_marked_missed_and_organisers_are_told_once(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    channel_posts = len(slack.messages(CHANNEL))
    run = plan(database, client, at("22:01"))
    assert len(run.missed) == 1 and len(run.told) == 1
    deliver(database, client, at("22:01"))
    assert len(slack.messages(CHANNEL)) == channel_posts  # not posted out of context
    assert reminder_status(database, run.missed[0]) == ReminderStatus.MISSED
    [notice] = slack.dms(ORGANISER)
    assert "was not sent" in notice["blocks"][0]["text"]["text"] and "more than 6 hours" in notice["blocks"][0]["text"]["text"]
    plan(database, client, at("22:10"))
    deliver(database, client, at("22:10"))
    assert dm_count(slack, ORGANISER) == 1  # told once


def test_a_local_time_reminder_partly_missed_after_downtime(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    # Nothing ran from the close until Tuesday 16:30 UTC: London's 10:00 DMs (grace to 16:00) are
    # missed; New York's (15:00 UTC, grace to 21:00) and Tokyo's (Wednesday) still go.
    back = at("16:30", DAY + timedelta(days=1))
    plan(database, client, back)
    deliver(database, client, back)
    assert dm_count(slack, ATTENDEES[0]) == 0 and dm_count(slack, ATTENDEES[3]) == 1 and dm_count(slack, TOKYO) == 0
    deliver(database, client, at("02:00", DAY + timedelta(days=2)))
    assert dm_count(slack, TOKYO) == 1
    plan(database, client, at("02:00", DAY + timedelta(days=2)))
    deliver(database, client, at("02:00", DAY + timedelta(days=2)))
    notices = [n["blocks"][0]["text"]["text"] for n in slack.dms(ORGANISER)]
    assert len(notices) == 2  # the close's channel post was missed whole, the DMs in part
    assert "was not sent to the channel" in notices[0]
    # London's and Dublin's 9 were missed, and so was Los Angeles' (18:00 UTC, grace to midnight,
    # and nothing ran until 02:00): New York's three and Tokyo's went. The event's team is left out.
    assert "reached 4 people but was not sent to 10 others" in notices[1]
    with unit_of_work(database) as session:
        summary = reminders.event_reminders(session, event=session.get_one(Event, event_id))
    dm = next(r for r in summary.reminders if r.audience == ReminderAudience.DIRECT_MESSAGE)
    assert dm.status == ReminderStatus.SENT and dm.skipped_missed > 0 and dm.sent > 0


# --- scheduling from Slack ---------------------------------------------------------------------------


def test_the_remind_form_checks_what_is_typed(
    database: Database, client: WebClient, event_id: int
) -> None:
    workspace_id = _workspace(database, event_id)

    def save(now: datetime = at("16:30"), **changes: object) -> reminders.Saved:
        return reminders_slack.save_form(database, workspace_id=workspace_id, event_id=event_id, reminder_id=None,
                                   slack_user_id=ORGANISER, form=form(**changes), now=now)

    with pytest.raises(FormProblems) as bad:
        save(when="tomorrow-ish", text="Fill in {form} please", audience="pigeon")
    assert set(bad.value.problems) == {"when", "text", "audience"}
    with pytest.raises(FormProblems) as early:
        save(when="2031-03-03 09:00")
    assert "before the event starts" in early.value.problems["when"]
    with pytest.raises(FormProblems) as late:
        save(when="at close", now=at("23:00"))
    assert "more than 6 hours ago" in late.value.problems["when"]

    saved = save(when="2 hours after", audience="channel", only_incomplete=True)
    assert "a post in the channel" in saved.description and "2 hours after" in saved.description
    with unit_of_work(database) as session:
        summary = reminders.event_reminders(session, event=session.get_one(Event, event_id))
    made = next(r for r in summary.reminders if r.reminder_id == saved.reminder_id)
    assert made.due_at == at("18:00") and not made.only_incomplete  # a channel post reaches everyone
    assert "https://forms.example.org/provider-collaboratives-evaluation" in made.text
    with pytest.raises(NotAllowed):
        reminders_slack.save_form(database, workspace_id=workspace_id, event_id=event_id, reminder_id=None,
                            slack_user_id=ATTENDEES[0], form=form(), now=at("16:30"))


def test_change_and_cancel_until_it_goes_out(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    workspace_id = _workspace(database, event_id)
    saved = reminders_slack.save_form(database, workspace_id=workspace_id, event_id=event_id, reminder_id=None,
                                slack_user_id=ORGANISER, form=form(when="3 hours after"), now=at("16:30"))
    # Changed before it is due: it follows the new time.
    reminders_slack.save_form(database, workspace_id=workspace_id, event_id=event_id, reminder_id=saved.reminder_id,
                        slack_user_id=CHAIR, form=form(when="next day 09:00"), now=at("16:40"))
    plan(database, client, at("19:00"))  # fanned out (its DMs wait for 09:00 in each zone)
    assert rows(database, saved.reminder_id)
    # Fanned out but nothing attempted: it can still be changed, and its rows are made again.
    reminders_slack.save_form(database, workspace_id=workspace_id, event_id=event_id, reminder_id=saved.reminder_id,
                        slack_user_id=ORGANISER, form=form(when="next day 11:00"), now=at("19:05"))
    assert rows(database, saved.reminder_id) == []
    assert reminder_status(database, saved.reminder_id) == ReminderStatus.SCHEDULED
    plan(database, client, at("19:10"))
    assert {r.due_at for r in rows(database, saved.reminder_id)} >= {at("11:00", DAY + timedelta(days=1))}

    deliver(database, client, at("11:00", DAY + timedelta(days=1)))  # London's have gone
    with pytest.raises(ReminderError, match="started going out"):
        reminders_slack.save_form(database, workspace_id=workspace_id, event_id=event_id, reminder_id=saved.reminder_id,
                            slack_user_id=ORGANISER, form=form(when="next day 12:00"), now=at("11:01", DAY + timedelta(days=1)))
    with pytest.raises(NotAllowed):
        reminders_slack.cancel(database, workspace_id=workspace_id, reminder_id=saved.reminder_id,
                         slack_user_id=ATTENDEES[0], now=at("11:02", DAY + timedelta(days=1)))
    stopped = reminders_slack.cancel(database, workspace_id=workspace_id, reminder_id=saved.reminder_id,
                               slack_user_id=ORGANISER, now=at("11:02", DAY + timedelta(days=1)))
    assert stopped > 0  # New York, Los Angeles and Tokyo will not get it
    deliver(database, client, at("12:00", DAY + timedelta(days=2)))
    assert dm_count(slack, ATTENDEES[3]) == 0 and dm_count(slack, TOKYO) == 0
    with pytest.raises(ReminderError, match="nothing left to cancel"):
        reminders_slack.cancel(database, workspace_id=workspace_id, reminder_id=saved.reminder_id,
                         slack_user_id=ORGANISER, now=at("12:00", DAY + timedelta(days=2)))


def test_the_organisers_list_fits_slack_and_shows_failures(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    workspace_id = _workspace(database, event_id)
    for n in range(15):
        reminders_slack.save_form(database, workspace_id=workspace_id, event_id=event_id, reminder_id=None,
                            slack_user_id=ORGANISER, now=at("16:30"),
                            form=form(when=f"{n + 1} hours after", text="<!channel> " + "x" * 2900))
    plan(database, client, at("16:30"))
    slack.fail_next("chat.postMessage", 1, mode="error", error="account_inactive")
    deliver(database, client, at("16:30"), threads=1)
    state = reminders_slack.reminders_for_channel(database, workspace_id=workspace_id, channel_id=CHANNEL,
                                            slack_user_id=CHAIR)
    assert state.more == 17 - reminders.SHOWN_REMINDERS
    listing = reminder_blocks.reminder_list(state)
    assert len(listing.blocks) <= 50
    assert "account_inactive" in str(listing.blocks) and "<!channel>" not in str(listing.blocks)
    _post_ok(client, listing)


def _post_ok(client: WebClient, message: Message) -> None:
    """Slack (the double, as strict as Slack) accepts the blocks."""
    assert client.chat_postMessage(channel=CHANNEL, **message.as_post())["ok"]


def _workspace(database: Database, event_id: int) -> int:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        assert event.status == EventStatus.CLOSED
        return event.workspace_id

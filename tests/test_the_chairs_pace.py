"""The room follows the chair, and the clock behaves (issue #12): every case with a chosen clock.

The seed event (14:30-16:00 London, GMT on DAY) with its five agenda items, four timed prompts
(improvement 15:00, collaborative working 15:25, equity 15:40, next steps 15:52) and its two
reminders ("at close" in the channel, "next day 10:00" by DM). Each tick runs what the scheduler
runs at that moment (programmes, reminders following the close, reminder fan-out) and then the
outbox's sender, all with the clock stopped there: nothing waits on real time.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import Database, unit_of_work
from bot.events import slack as events_slack
from bot.events.rules import EventDetails, FormProblems, details_from_form
from bot.models import AgendaSegment, Delivery, Event, EventStatus, Person, ReflectionPrompt, Reminder, ReminderAudience
from bot.reminders import blocks as reminder_blocks
from bot.reminders import slack as reminders_slack
from bot.reminders.rules import ReminderForm, create_reminder
from bot.run_of_show import blocks as run_of_show_blocks
from bot.run_of_show import slack as run_of_show_slack
from bot.run_of_show.rules import RunOfShowError, run_state
from tests.apprunner import BOT_USER_ID
from tests.cast import CHAIR, CHANNEL, DAY, ORGANISER, at
from tests.posting import deliver
from tests.slackdouble import SlackDouble

ALL = frozenset({BOT_USER_ID})


# When each channel post was made, by the stopped clock: (tick time, text), in posting order.
TIMELINE: dict[int, list[tuple[datetime, str]]] = {}


def tick(database: Database, client: WebClient, now: datetime) -> None:
    slack = _double_of(client)
    before = len(slack.messages(CHANNEL))
    run_of_show_slack.run_due_work(database, client, now=now, exclude_from_attendees=ALL)
    reminders_slack.follow_closes(database, since=now - timedelta(days=1))
    reminders_slack.plan_reminders(database, client, now=now, bot_user_id=BOT_USER_ID)
    deliver(database, client, now)
    timeline = TIMELINE.setdefault(id(slack), [])
    timeline.extend((now, m["text"]) for m in slack.messages(CHANNEL)[before:])


_DOUBLES: dict[str, SlackDouble] = {}


def _double_of(client: WebClient) -> SlackDouble:
    return _DOUBLES[client.base_url]


@pytest.fixture(autouse=True)
def _timeline(slack: SlackDouble, client: WebClient) -> None:
    _DOUBLES[client.base_url] = slack
    TIMELINE.pop(id(slack), None)


def ticks(database: Database, client: WebClient, start: datetime, end: datetime, *, every: int = 60) -> None:
    """A scheduler ticking every `every` seconds from start to end, inclusive."""
    now = start
    while now <= end:
        tick(database, client, now)
        now += timedelta(seconds=every)


def texts(slack: SlackDouble) -> list[str]:
    return [m["text"] for m in slack.messages(CHANNEL)]


def posted_at(slack: SlackDouble, prefix: str) -> list[datetime]:
    """When (by the stopped clock of the tick that sent it) each post starting with `prefix` was made."""
    return [when for when, text in TIMELINE.get(id(slack), []) if text.startswith(prefix)]


def event_of(database: Database, event_id: int) -> Event:
    with unit_of_work(database) as session:
        return session.get_one(Event, event_id)


def waits_for_chair(database: Database, event_id: int) -> None:
    with unit_of_work(database) as session:
        session.get_one(Event, event_id).waits_for_chair = True


# --- rescheduling moves everything ------------------------------------------------------------------


def test_an_event_moved_by_a_week_sends_nothing_at_the_old_dates(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    week = timedelta(days=7)
    before = {r.when_spec: r.due_at for r in _reminders(database, event_id)}
    details = EventDetails(title="Provider collaboratives: improving equitably", starts_at=at("14:30") + week,
                           ends_at=at("16:00") + week, timezone="Europe/London",
                           evaluation_form_url="https://forms.example.org/provider-collaboratives-evaluation",
                           chairs=(CHAIR,), presenters=())
    events_slack.save_setup(database, workspace_id=event_of(database, event_id).workspace_id, channel_id=CHANNEL,
                            event_id=event_id, slack_user_id=ORGANISER, details=details, now=at("09:00"))
    reminders_slack.follow_close(database, event_id=event_id)

    after = {r.when_spec: r.due_at for r in _reminders(database, event_id)}
    assert after == {spec: due + week for spec, due in before.items()}
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        assert [s.scheduled_at for s in event.segments][0] == at("14:30") + week
        assert all(p.scheduled_at >= at("15:00") + week for p in event.prompts if p.scheduled_at)

    # The old day, and the old "next day 10:00" in every attendee's zone: nothing at all.
    ticks(database, client, at("14:29"), at("16:10"))
    for moment in (at("10:00", DAY + timedelta(days=1)), at("18:00", DAY + timedelta(days=1))):
        tick(database, client, moment)
    assert texts(slack) == []
    assert not any(slack.dms(person) for person in _attendee_ids(database, event_id))
    with unit_of_work(database) as session:
        assert session.scalar(select(Delivery.id).where(Delivery.event_id == event_id)) is None

    # The new day: the welcome at the new start.
    tick(database, client, at("14:30") + week)
    assert texts(slack)[0].startswith("Welcome to Provider collaboratives")


def _reminders(database: Database, event_id: int) -> list[Reminder]:
    with unit_of_work(database) as session:
        return list(session.scalars(select(Reminder).where(Reminder.event_id == event_id).order_by(Reminder.id)))


def _attendee_ids(database: Database, event_id: int) -> list[str]:
    with unit_of_work(database) as session:
        return [p.slack_user_id for p in session.scalars(select(Person))]


def test_the_setup_form_refuses_an_event_that_has_ended_on_the_field_it_is_about() -> None:
    def problems(date: str, start: str, end: str, now: datetime) -> dict[str, str]:
        from bot.events.rules import moving_problems
        try:
            details = details_from_form(title="Next", date=date, start=start, end=end, timezone="Europe/London",
                                        evaluation_form_url=None)
        except FormProblems as caught:
            return caught.problems
        return moving_problems(None, details, now=now)

    assert set(problems("2031-03-02", "14:30", "16:00", now=at("09:00"))) == {"date"}  # yesterday
    assert set(problems("2031-03-03", "08:00", "08:30", now=at("09:00"))) == {"end"}  # earlier today
    assert problems("2031-03-03", "08:30", "10:00", now=at("09:00")) == {}  # under way: set up late is fine
    assert problems("2031-03-10", "14:30", "16:00", now=at("09:00")) == {}
    # The end's own problem is said on the end, not on the start.
    skipped = problems("2031-03-30", "00:30", "01:30", now=at("09:00"))
    assert set(skipped) == {"end"} and "01:30 does not exist" in skipped["end"]


def test_a_live_session_cannot_move_its_start_and_is_told_how_to_take_more_time(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    tick(database, client, at("14:30"))
    details = EventDetails(title="Moved", starts_at=at("15:00"), ends_at=at("16:30"), timezone="Europe/London",
                           evaluation_form_url=None, chairs=(CHAIR,), presenters=())
    with pytest.raises(FormProblems) as caught:
        events_slack.save_setup(database, workspace_id=event_of(database, event_id).workspace_id, channel_id=CHANNEL,
                                event_id=event_id, slack_user_id=ORGANISER, details=details, now=at("14:35"))
    assert set(caught.value.problems) == {"start"} and "/event extend" in caught.value.problems["start"]
    assert event_of(database, event_id).title == "Provider collaboratives: improving equitably"  # nothing half-saved


# --- catching up after downtime ----------------------------------------------------------------------


def test_a_restart_during_the_event_announces_only_the_current_item_and_keeps_the_prompts_in_order(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("14:31"))
    assert texts(slack)[1] == "Now: Welcome and introduction"
    # The prompts' programme order is not the order they were written in: equity moves first.
    with unit_of_work(database) as session:
        for prompt in session.scalars(select(ReflectionPrompt).where(ReflectionPrompt.event_id == event_id)):
            if prompt.theme.value == "equity":
                prompt.scheduled_at = at("14:50")
    # Down from 14:31 to 15:35: presentations one and two, and three prompts, fell due meanwhile.
    tick(database, client, at("15:35"))
    tick(database, client, at("15:35") + timedelta(seconds=5))
    now_posts = [t for t in texts(slack) if t.startswith("Now:")]
    assert now_posts == ["Now: Welcome and introduction", "Now: Interactive Q&amp;A"]
    current = slack.messages(CHANNEL)[2]
    assert "Presentation one" in str(current["blocks"]) and "Presentation two" in str(current["blocks"])
    assert "while eventbot was unavailable" in str(current["blocks"])
    prompts = [t for t in texts(slack) if t.startswith("Reflection:")]
    assert prompts == ["Reflection: What are you hearing that relates to equity?",
                       "Reflection: What are you hearing that relates to improvement?",
                       "Reflection: What are you hearing that relates to collaborative working?"]
    # The chair's next moves on from where the room is, not from a missed item.
    outcome = run_of_show_slack.announce_next_segment(database, event_id=event_id, now=at("15:40"), by_chair=CHAIR)
    assert outcome.segment is not None and outcome.segment.title == "Summary and close"


@pytest.mark.parametrize("started", [True, False])
def test_a_restart_after_the_event_posts_nothing_and_tells_the_organisers(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int, started: bool
) -> None:
    if started:
        ticks(database, client, at("14:30"), at("14:31"))
    before = texts(slack)
    tick(database, client, at("17:00"))  # down from 14:31 (or all day) to 17:00
    tick(database, client, at("17:00") + timedelta(seconds=5))
    # No prompt, no item, no welcome, no close, long after the audience left. The evaluation form's
    # "at close" reminder still goes, an hour late, within its grace window, as after any downtime.
    assert texts(slack)[:len(before)] == before
    assert [t[:40] for t in texts(slack)[len(before):]] == ["Thank you for joining us. Please take a "]
    event = event_of(database, event_id)
    assert event.status == EventStatus.CLOSED and event.closed_at == at("16:00")
    told = [m for m in slack.dms(ORGANISER) if "ended while eventbot was away" in m["text"]]
    assert len(told) == 1
    body = str(told[0]["blocks"])
    assert "the close" in body and "equity prompt" in body
    assert ("the welcome" in body) is (not started)
    tick(database, client, at("17:05"))
    assert len([m for m in slack.dms(ORGANISER) if "ended while eventbot was away" in m["text"]]) == 1


def test_a_close_a_tick_late_is_still_posted(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("15:59"), every=300)
    tick(database, client, at("16:02"))  # two minutes late: the room is still there
    assert texts(slack)[-1].startswith("Thank you for joining")


# --- following the chair's pace ----------------------------------------------------------------------


def test_a_chair_starting_20_minutes_late_moves_every_later_item_prompt_the_close_and_at_close_reminders(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    waits_for_chair(database, event_id)
    ticks(database, client, at("14:25"), at("14:49"))
    assert texts(slack) == []  # the event waits for its chair
    assert run_of_show_slack.start_event(database, client, event_id=event_id, now=at("14:50"), by_chair=True,
                                         exclude_from_attendees=ALL)
    reminders_slack.follow_close(database, event_id=event_id)
    ticks(database, client, at("14:50"), at("16:30"))

    late = timedelta(minutes=20)
    assert posted_at(slack, "Now: Welcome") == [at("14:50")]
    assert posted_at(slack, "Now: Presentation one") == [at("14:40") + late]
    assert posted_at(slack, "Now: Presentation two") == [at("15:05") + late]
    assert posted_at(slack, "Now: Summary") == [at("15:50") + late]
    assert posted_at(slack, "Reflection: What are you hearing that relates to improvement") == [at("15:00") + late]
    assert posted_at(slack, "Reflection: What actions") == [at("15:52") + late]
    # The "at close" reminder comes with the close it follows, after the last prompt.
    assert posted_at(slack, "Thank you for joining") == [at("16:00") + late] * 2
    assert texts(slack)[-2].startswith("Thank you for joining Provider")  # the close, then the reminder
    assert posted_at(slack, "Reflection: What actions")[0] < posted_at(slack, "Thank you for joining")[0]


def test_extend_10_moves_the_current_item_everything_after_it_and_the_close(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("15:44"))
    pace = run_of_show_slack.extend_event(database, event_id=event_id, now=at("15:45"), minutes=10)
    assert pace.state.closes_at == at("16:10") and pace.state.next_segment_due == at("16:00")
    reply = str(run_of_show_blocks.pace_changed(pace.state, what="Extended").blocks)
    assert "Summary and close" in reply and "The close at" in reply and "next steps prompt" in reply
    ticks(database, client, at("15:45"), at("16:20"))
    assert posted_at(slack, "Now: Summary") == [at("16:00")]
    assert posted_at(slack, "Reflection: What actions") == [at("16:02")]
    assert posted_at(slack, "Thank you for joining Provider") == [at("16:10")]
    assert event_of(database, event_id).closed_at == at("16:10")
    with pytest.raises(RunOfShowError, match="from 1 to 180"):
        run_of_show_slack.extend_event(database, event_id=event_id, now=at("16:11"), minutes=0)


def test_hold_stops_the_posts_until_the_chair_resumes(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("14:44"))
    run_of_show_slack.hold_event(database, event_id=event_id, now=at("14:45"))
    with pytest.raises(RunOfShowError, match="already on hold"):
        run_of_show_slack.hold_event(database, event_id=event_id, now=at("14:46"))
    before = texts(slack)
    ticks(database, client, at("14:45"), at("16:30"))  # long past the planned close
    assert texts(slack) == before
    assert event_of(database, event_id).status == EventStatus.LIVE
    with unit_of_work(database) as session:
        status = str(run_of_show_blocks.status(run_state(session, event=session.get_one(Event, event_id))).blocks)
    assert "On hold since" in status

    pace = run_of_show_slack.resume_event(database, event_id=event_id, now=at("16:30"))
    assert pace.moved_by_seconds == 105 * 60
    assert pace.state.next_segment_due == at("15:05") + timedelta(minutes=105)
    ticks(database, client, at("16:30"), at("17:50"))
    assert posted_at(slack, "Now: Presentation two") == [at("16:50")]
    assert posted_at(slack, "Thank you for joining Provider") == [at("17:45")]


def test_a_chairs_next_during_a_hold_ends_it(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("14:44"))
    run_of_show_slack.hold_event(database, event_id=event_id, now=at("14:45"))
    outcome = run_of_show_slack.announce_next_segment(database, event_id=event_id, now=at("14:50"), by_chair=CHAIR)
    assert outcome.resumed and outcome.segment is not None
    assert "The hold is over" in run_of_show_blocks.next_item_reply(outcome).text
    assert event_of(database, event_id).held_at is None


# --- simultaneous presses -----------------------------------------------------------------------------


def test_the_press_that_loses_a_race_is_told_what_the_other_chair_did(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("14:31"))
    first = run_of_show_slack.announce_next_segment(database, event_id=event_id, now=at("14:35"), by_chair=CHAIR)
    second = run_of_show_slack.announce_next_segment(database, event_id=event_id,
                                                     now=at("14:35") + timedelta(seconds=2), by_chair=ORGANISER)
    assert first.segment is not None and second.segment is None
    reply = run_of_show_blocks.next_item_reply(second).text
    assert reply.startswith("Presentation one: Delivering the Equity agenda through Quality Improvement was just "
                            f"announced by <@{CHAIR}>")
    assert "Presentation two" in reply  # what pressing again would do; nothing invites an early close
    assert "Every agenda item" not in reply
    # Pressing again, on purpose, moves on.
    again = run_of_show_slack.announce_next_segment(database, event_id=event_id,
                                                    now=at("14:35") + timedelta(seconds=15), by_chair=ORGANISER)
    assert again.segment is not None and again.segment.title.startswith("Presentation two")


def test_two_chairs_pressing_at_the_same_moment_announce_once(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("14:31"))
    outcomes = {}
    gate = threading.Barrier(2)

    def press(chair: str) -> None:
        gate.wait()
        outcomes[chair] = run_of_show_slack.announce_next_segment(database, event_id=event_id, now=at("14:35"),
                                                                  by_chair=chair)

    threads = [threading.Thread(target=press, args=(who,)) for who in (CHAIR, ORGANISER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [who for who, outcome in outcomes.items() if outcome.segment is not None]
    assert len(winners) == 1
    loser = outcomes[ORGANISER if winners == [CHAIR] else CHAIR]
    assert loser.earlier is not None and loser.earlier.announced_by_slack_id == winners[0]
    deliver(database, client, at("14:35"))
    assert [t for t in texts(slack) if t.startswith("Now:")] == [
        "Now: Welcome and introduction", "Now: Presentation one: Delivering the Equity agenda through Quality Improvement"]


# --- times that say what they mean ------------------------------------------------------------------------


def test_status_and_reminder_descriptions_show_the_times_that_will_happen(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("14:31"))
    run_of_show_slack.extend_event(database, event_id=event_id, now=at("14:35"), minutes=10)
    with unit_of_work(database) as session:
        state = run_state(session, event=session.get_one(Event, event_id))
    status = str(run_of_show_blocks.status(state).blocks)
    # Slack date tokens (shown in the reader's zone) of the moved times, not the planned ones.
    assert f"<!date^{int(at('16:10').timestamp())}^" in status
    assert f"<!date^{int(at('15:10').timestamp())}^" in status  # the improvement prompt, 10 minutes on
    assert f"<!date^{int(at('16:00').timestamp())}^" not in status
    description = reminder_blocks.describe_reminder(
        when_spec="next day 10:00", due_at=at("10:00", DAY + timedelta(days=1)), local_time="10:00",
        audience=ReminderAudience.DIRECT_MESSAGE, only_incomplete=True, timezone="Europe/London")
    assert "event's zone" not in description and "<!date" not in description
    assert "Tue 4 Mar 2031" in description


def test_the_next_day_grace_check_is_made_for_each_recipients_zone(database: Database, event_id: int) -> None:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        event.status, event.closed_at = EventStatus.CLOSED, at("16:00")
        workspace_id = event.workspace_id
    form = ReminderForm(when="next day 10:00", audience="dm", only_incomplete=True, text="Please: {form_url}")
    evening = at("17:00", DAY + timedelta(days=1))  # 10:00 London was 7 hours ago: beyond the 6-hour grace
    with unit_of_work(database) as session, pytest.raises(FormProblems, match="for every attendee"):
        create_reminder(session, event=session.get_one(Event, event_id), created_by=ORGANISER, form=form, now=evening)
    with unit_of_work(database) as session:
        # An attendee in California: their 10:00 is 18:00 in London, still to come.
        session.add(Person(workspace_id=workspace_id, slack_user_id="U0CALIFORNIA", timezone="America/Los_Angeles"))
        session.flush()
        from bot.events import people
        from bot.models import Role
        people.grant(session, event=session.get_one(Event, event_id),
                     person=session.scalar(select(Person).where(Person.slack_user_id == "U0CALIFORNIA")),
                     role=Role.ATTENDEE)
    with unit_of_work(database) as session:
        reminder = create_reminder(session, event=session.get_one(Event, event_id), created_by=ORGANISER, form=form,
                                   now=evening)
        assert reminder.local_time_for_recipient == "10:00"


def test_segments_marked_missed_are_never_announced_later(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    ticks(database, client, at("14:30"), at("14:31"))
    tick(database, client, at("15:10"))
    ticks(database, client, at("15:10"), at("15:59"))
    with unit_of_work(database) as session:
        missed = [s.title for s in session.scalars(select(AgendaSegment).where(
            AgendaSegment.event_id == event_id, AgendaSegment.missed.is_(True)))]
    assert missed == ["Presentation one: Delivering the Equity agenda through Quality Improvement"]
    assert not any(t.startswith("Now: Presentation one") for t in texts(slack))

"""After the event: a session closes with 8 open questions (2 anonymous) for 3 presenters and the chairs.

Against the Slack double, with chosen clocks: the right DMs go to the right owners, answers land in
the right threads, askers and upvoters are told (anonymous askers too, named nowhere), nudges stop
once a question is answered and never come at night, and the close-out's numbers are right.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import Database, unit_of_work
from bot.events.people import NotAllowed
from bot.models import Event, FollowUp, Question
from bot.questions import follow_ups
from bot.questions import rules as questions
from bot.questions import slack as questions_slack
from bot.run_of_show import slack as run_of_show_slack
from tests.apprunner import BOT_USER_ID
from tests.cast import ATTENDEES, CHAIR, CHANNEL, PRESENTERS, at
from tests.posting import deliver
from tests.slackdouble import SlackDouble

MINARA = PRESENTERS["minara.chowdhury@example.org"]
ALI = PRESENTERS["ali.bolton@example.org"]
EMMA = PRESENTERS["emma.rowan@example.org"]
LINDSEY = PRESENTERS["lindsey.mclean@example.org"]
CLOSED = at("16:00")
DUE = CLOSED + timedelta(days=14)  # the seed event's follow-up window


def workspace_of(database: Database, event_id: int) -> int:
    with unit_of_work(database) as session:
        return session.get_one(Event, event_id).workspace_id


def ask(database: Database, event_id: int, asker: str, text: str, *, presenter: str | None = None,
        anonymous: bool = False) -> int:
    return questions_slack.ask(database, workspace_id=workspace_of(database, event_id), channel_id=CHANNEL,
                               asker_slack_id=asker, text=text, anonymous=anonymous, for_presenter_slack_id=presenter,
                               now=at("15:00")).id


def vote(database: Database, event_id: int, question_id: int, voters: list[str]) -> None:
    workspace_id = workspace_of(database, event_id)  # outside: on SQLite a transaction in a transaction waits
    with unit_of_work(database) as session:
        for voter in voters:
            questions.toggle_vote(session, workspace_id=workspace_id, question_id=question_id,
                                  voter_slack_id=voter, now=at("15:10"))


def card_ts(database: Database, question_id: int) -> str:
    with unit_of_work(database) as session:
        return session.get_one(Question, question_id).card_message_ts or ""


def texts(messages: list[dict]) -> str:
    return json.dumps([[m.get("text"), m.get("blocks")] for m in messages])


@pytest.fixture
def session_with_questions(database: Database, client: WebClient, slack: SlackDouble,
                           event_id: int) -> dict[str, int]:
    """The seed event run to its close, with 8 questions left open and 3 settled during the session."""
    run_of_show_slack.run_due_work(database, client, now=at("14:30"), exclude_from_attendees=frozenset({BOT_USER_ID}))
    q = {
        "scale": ask(database, event_id, ATTENDEES[0], "How do we scale this across four trusts?", presenter=MINARA),
        "data": ask(database, event_id, ATTENDEES[1], "Who owns the improvement data?", presenter=MINARA),
        "quiet": ask(database, event_id, ATTENDEES[2], "Is it safe to name our gaps?", presenter=MINARA,
                     anonymous=True),
        "funding": ask(database, event_id, ATTENDEES[3], "Where did the funding come from?", presenter=ALI),
        "staff": ask(database, event_id, ATTENDEES[4], "How were staff released for QI?", presenter=ALI,
                     anonymous=True),
        "doors": ask(database, event_id, ATTENDEES[5], "What did open-door mean in practice?", presenter=EMMA),
        "measure": ask(database, event_id, ATTENDEES[6], "Which measure moved first?", presenter=EMMA),
        "next": ask(database, event_id, ATTENDEES[7], "When is the next session?"),
        "live": ask(database, event_id, ATTENDEES[8], "Answered aloud?"),
        "written": ask(database, event_id, ATTENDEES[9], "Answered in writing?"),
        "off": ask(database, event_id, ATTENDEES[10], "Off topic?"),
    }
    vote(database, event_id, q["data"], ATTENDEES[3:8])  # the most voted of Minara's
    vote(database, event_id, q["quiet"], ATTENDEES[9:11])
    workspace_id = workspace_of(database, event_id)
    with unit_of_work(database) as session:
        questions.mark_answered_live(session, workspace_id=workspace_id, question_id=q["live"], by_slack_id=CHAIR,
                                     now=at("15:40"))
    questions_slack.answer(database, workspace_id=workspace_id, question_id=q["written"], by_slack_id=CHAIR,
                           text="Yes, in its thread.", now=at("15:45"))
    questions_slack.dismiss(database, workspace_id=workspace_id, question_id=q["off"], by_slack_id=CHAIR,
                            reason="Off topic", now=at("15:46"))
    deliver(database, client, at("15:50"))
    run_of_show_slack.close_event(database, event_id=event_id, now=CLOSED)
    questions_slack.open_follow_up_ledgers(database, now=CLOSED)
    deliver(database, client, CLOSED)
    return q


def test_at_close_each_owner_gets_one_dm_listing_their_questions_most_voted_first(
    database: Database, slack: SlackDouble, session_with_questions: dict[str, int]
) -> None:
    [minara] = slack.dms(MINARA)
    shown = texts([minara])
    order = [shown.index(words) for words in ("Who owns the improvement data", "Is it safe to name our gaps",
                                              "How do we scale this")]
    assert order == sorted(order)  # most voted first
    assert "Where did the funding" not in shown and "When is the next session" not in shown
    assert all(button in shown for button in ("Answer", "Hand over to", "Can't answer"))
    assert "Is it safe to name our gaps" in shown and ATTENDEES[2] not in shown  # anonymous stays anonymous
    assert len(slack.dms(ALI)) == 1 and "How were staff released" in texts(slack.dms(ALI))
    assert len(slack.dms(EMMA)) == 1 and "Which measure moved first" in texts(slack.dms(EMMA))
    assert slack.dms(LINDSEY) == []
    [chairs] = [m for m in slack.dms(CHAIR) if "question_answer_in_thread" in json.dumps(m["blocks"])]
    assert "When is the next session" in texts([chairs]) and "the chairs'" in texts([chairs])
    with unit_of_work(database) as session:
        kept = session.scalars(select(FollowUp)).all()
    assert len(kept) == 8 and {f.due_at for f in kept} == {DUE}
    # Nothing more at a second look: the ledger opens once.
    questions_slack.open_follow_up_ledgers(database, now=CLOSED + timedelta(minutes=1))
    assert len(slack.dms(MINARA)) == 1


def test_an_answer_lands_in_its_thread_and_reaches_askers_and_upvoters_naming_no_anonymous_asker(
    database: Database, client: WebClient, slack: SlackDouble, session_with_questions: dict[str, int], event_id: int
) -> None:
    q = session_with_questions
    later = CLOSED + timedelta(days=2)
    questions_slack.answer(database, workspace_id=workspace_of(database, event_id), question_id=q["quiet"],
                           by_slack_id=MINARA, text="Yes: naming gaps is how improvement starts.", now=later)
    deliver(database, client, later)
    [answer] = slack.replies(CHANNEL, card_ts(database, q["quiet"]))
    assert "naming gaps is how improvement starts" in texts([answer])
    told = texts(slack.dms(ATTENDEES[2]))  # the anonymous asker
    assert "Is it safe to name our gaps" in told and "naming gaps is how improvement starts" in told
    for voter in ATTENDEES[9:11]:
        assert "A question you upvoted has been answered" in texts(slack.dms(voter))
    everything_public = texts(slack.messages(CHANNEL, include_replies=True))
    assert ATTENDEES[2] not in everything_public
    # Someone without a role cannot answer it.
    with pytest.raises(NotAllowed):
        questions_slack.answer(database, workspace_id=workspace_of(database, event_id), question_id=q["data"],
                               by_slack_id=ATTENDEES[11], text="Me!", now=later)


def test_nudges_come_by_day_at_most_daily_and_stop_once_answered(
    database: Database, client: WebClient, slack: SlackDouble, session_with_questions: dict[str, int], event_id: int
) -> None:
    q = session_with_questions
    night = datetime(DUE.year, DUE.month, DUE.day - 2, 3, 0, tzinfo=DUE.tzinfo)  # 03:00 in London (GMT)
    assert questions_slack.nudge_owners(database, client, now=night) == []
    morning = night.replace(hour=10)
    nudged = {n.owner_slack_id for n in questions_slack.nudge_owners(database, client, now=morning)}
    assert nudged == {MINARA, ALI, EMMA, None}
    deliver(database, client, morning)
    assert "A reminder" in texts(slack.dms(MINARA)[-1:])
    assert questions_slack.nudge_owners(database, client, now=morning + timedelta(hours=3)) == []  # once a day
    for key in ("funding", "staff"):
        questions_slack.answer(database, workspace_id=workspace_of(database, event_id), question_id=q[key],
                               by_slack_id=ALI, text="Answered.", now=morning + timedelta(hours=4))
    next_morning = morning + timedelta(days=1)
    assert ALI not in {n.owner_slack_id for n in questions_slack.nudge_owners(database, client, now=next_morning)}
    overdue = DUE + timedelta(hours=1)
    nudges = questions_slack.nudge_owners(database, client, now=overdue)
    assert {n.owner_slack_id for n in nudges if n.overdue} == {MINARA, EMMA, None}
    assert questions_slack.nudge_owners(database, client, now=overdue + timedelta(days=1)) == []  # once overdue


def test_a_deactivated_owner_s_questions_go_back_to_the_chairs(
    database: Database, client: WebClient, slack: SlackDouble, session_with_questions: dict[str, int]
) -> None:
    slack.deactivate_user(EMMA)
    morning = (DUE - timedelta(days=2)).replace(hour=10)
    questions_slack.nudge_owners(database, client, now=morning)
    deliver(database, client, morning)
    assert len(slack.dms(EMMA)) == 1  # only the list at the close, never a nudge
    with unit_of_work(database) as session:
        rows = follow_ups.ledger(session, event_id=session.scalars(select(Event.id)).one())
    assert {r.owner_slack_id for r in rows if "measure" in r.text or "open-door" in r.text} == {None}
    assert "Which measure moved first" in texts(slack.dms(CHAIR)[-1:])


def test_handing_over_declining_and_the_close_out_numbers(
    database: Database, client: WebClient, slack: SlackDouble, session_with_questions: dict[str, int], event_id: int
) -> None:
    q = session_with_questions
    workspace_id = workspace_of(database, event_id)
    later = CLOSED + timedelta(days=3)
    with pytest.raises(NotAllowed):  # only its owner or a chair hands it over
        questions_slack.hand_over(database, workspace_id=workspace_id, question_id=q["next"], by_slack_id=MINARA,
                                  to_slack_id=LINDSEY, now=later)
    questions_slack.hand_over(database, workspace_id=workspace_id, question_id=q["next"], by_slack_id=CHAIR,
                              to_slack_id=LINDSEY, now=later)
    questions_slack.decline(database, workspace_id=workspace_id, question_id=q["measure"], by_slack_id=EMMA,
                            reason="We did not measure it then.", now=later)
    deliver(database, client, later)
    assert "When is the next session" in texts(slack.dms(LINDSEY))
    assert "We did not measure it then" in texts(slack.dms(ATTENDEES[6]))
    assert questions_slack.close_out_events(database, now=later) == []  # six still open
    for key, owner in (("scale", MINARA), ("data", MINARA), ("quiet", MINARA), ("funding", ALI), ("staff", ALI),
                       ("next", LINDSEY)):
        questions_slack.answer(database, workspace_id=workspace_id, question_id=q[key], by_slack_id=owner,
                               text=f"Answer to {key}.", now=later + timedelta(hours=1))
    assert questions_slack.close_out_events(database, now=later + timedelta(hours=1)) == []  # "doors" is open
    done = later + timedelta(days=20)  # the window has ended
    assert questions_slack.close_out_events(database, now=done) == [event_id]
    deliver(database, client, done)
    close_out = texts(slack.messages(CHANNEL)[-1:])
    assert "11 questions" not in close_out  # the dismissed one is not counted
    for line in ("10 questions", "1 answered live", "1 answered in writing during the session",
                 "6 answered after the event", "2 not answered"):
        assert line in close_out, line
    assert questions_slack.close_out_events(database, now=done + timedelta(days=1)) == []  # once
    with unit_of_work(database) as session:
        counted = follow_ups.outcomes(session, event_id=event_id)
    assert len([link for _, link in counted.answers_after if link]) == 6  # each links to its answer


def test_nobody_else_sees_the_ledger(database: Database, session_with_questions: dict[str, int],
                                     event_id: int) -> None:
    workspace_id = workspace_of(database, event_id)
    _, rows, everything = questions_slack.follow_up_ledger(database, workspace_id=workspace_id, channel_id=CHANNEL,
                                                           slack_user_id=CHAIR)
    assert everything and len(rows) == 8
    _, own, everything = questions_slack.follow_up_ledger(database, workspace_id=workspace_id, channel_id=CHANNEL,
                                                          slack_user_id=ALI)
    assert not everything and {r.owner_slack_id for r in own} == {ALI}
    with pytest.raises(NotAllowed):
        questions_slack.follow_up_ledger(database, workspace_id=workspace_id, channel_id=CHANNEL,
                                         slack_user_id=ATTENDEES[0])


# --- reminders after the close ---------------------------------------------------------------------


def test_reminders_skip_the_team_unless_included_and_follow_the_actual_close(
    database: Database, client: WebClient, event_id: int
) -> None:
    from bot.models import Reminder, ReminderAudience, ReminderStatus
    from bot.reminders import rules as reminders
    from bot.reminders import slack as reminders_slack

    run_of_show_slack.run_due_work(database, client, now=at("14:30"), exclude_from_attendees=frozenset({BOT_USER_ID}))
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        everyone = {p.slack_user_id for p in reminders.audience_people(session, event=event, include_team=True)}
        attendees_only = {p.slack_user_id for p in reminders.audience_people(session, event=event)}
    assert {CHAIR, *PRESENTERS.values()} <= everyone
    assert not {CHAIR, *PRESENTERS.values()} & attendees_only and set(ATTENDEES) <= attendees_only

    # The chair closes 40 minutes early: "at close" and "2 hours after" move with the close.
    with unit_of_work(database) as session:
        for when in ("at close", "2 hours after", "2031-03-10 10:00"):
            session.add(Reminder(event_id=event_id, when_spec=when, due_at=reminders.resolve_reminder_time(
                when, event_ends_at=at("16:00"), timezone="Europe/London")[0], audience=ReminderAudience.CHANNEL,
                text="The form", status=ReminderStatus.SCHEDULED))
    run_of_show_slack.close_event(database, event_id=event_id, now=at("15:20"))
    assert reminders_slack.follow_closes(database, since=at("15:00")) >= 2  # the programme's own too
    with unit_of_work(database) as session:
        due = {r.when_spec: r.due_at for r in session.scalars(select(Reminder))}
    assert due["at close"] == at("15:20") and due["2 hours after"] == at("17:20")
    assert due["2031-03-10 10:00"] == datetime(2031, 3, 10, 10, tzinfo=at("10:00").tzinfo)
    assert reminders_slack.follow_closes(database, since=at("15:00")) == 0


def test_the_report_counts_what_happened_and_draws_it(
    database: Database, client: WebClient, slack: SlackDouble, session_with_questions: dict[str, int], event_id: int
) -> None:
    from bot.reports import slack as reports_slack
    from bot.reports.chart import chart_png

    q = session_with_questions
    workspace_id = workspace_of(database, event_id)
    with pytest.raises(NotAllowed):
        reports_slack.report_for(database, workspace_id=workspace_id, channel_id=CHANNEL, slack_user_id=ATTENDEES[0])
    questions_slack.answer(database, workspace_id=workspace_id, question_id=q["data"], by_slack_id=MINARA,
                           text="On time.", now=CLOSED + timedelta(days=1))
    questions_slack.answer(database, workspace_id=workspace_id, question_id=q["doors"], by_slack_id=EMMA,
                           text="Late.", now=DUE + timedelta(days=1))
    found = reports_slack.report_for(database, workspace_id=workspace_id, channel_id=CHANNEL, slack_user_id=CHAIR)
    assert (found.asked, found.voted) == (11, 7)  # eleven askers; ATTENDEES[3:8] and [9:11] voted
    assert found.attendees >= len(ATTENDEES)
    o = found.outcomes
    assert (o.answered_live, o.answered_in_session, o.answered_after, o.not_answered) == (1, 1, 2, 6)
    assert (found.follow_ups, found.answered_on_time, found.answered_late) == (8, 1, 1)
    assert sum(slot.votes for slot in found.slots) == 7  # every vote falls in a slot of the session
    assert chart_png(found).startswith(b"\x89PNG")
    reports_slack.send_exports(client, found=found, user_id=CHAIR)
    names = [f["filename"] for f in slack.uploaded_files[-3:]]
    assert names == [f"report-event-{event_id}.png", f"report-event-{event_id}.md", f"report-event-{event_id}.csv"]
    assert "follow-ups answered on time,1" in slack.uploaded_files[-1]["content"].decode()

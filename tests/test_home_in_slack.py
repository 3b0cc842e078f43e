"""The Home tab as people meet it in Slack: each role's own lists, kept up to date as things change,
moderation from it, a page at a time, and buttons that are out of date answered plainly."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import db
from bot.db import unit_of_work
from bot.events import people
from bot.models import (
    Event,
    EventRole,
    EventStatus,
    FollowUp,
    HomeTab,
    Question,
    QuestionStatus,
    Role,
)
from tests.apprunner import TEAM_ID, RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, PRESENTERS, seed_programme
from tests.slackdouble import SlackDouble
from tests.test_bad_input import FORM, signed_headers
from tests.test_qa_in_slack import ask, card_text, cards, moderate
from tests.test_running_a_session import chair, channel_texts, run_cli

MINARA = PRESENTERS["minara.chowdhury@example.org"]


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    programme = seed_programme(date.today() + timedelta(days=2), tmp_path)
    result = run_cli("event", "import", str(programme), "--channel", CHANNEL, slack=slack, database_url=database_url,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    chair(slack, "start")
    slack.wait_for(lambda: "Now: Welcome and introduction" in channel_texts(slack), timeout=15)
    yield running
    running.stop()


@pytest.fixture
def sessions(database_url: str) -> Iterator[db.Database]:
    engine = db.make_engine(database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def open_home(slack: SlackDouble, user: str) -> dict:
    before = len(slack.calls_to("views.publish"))
    assert slack.send_event({"type": "app_home_opened", "user": user, "tab": "home"}).status == 200
    slack.wait_for(lambda: len([c for c in slack.calls_to("views.publish")[before:] if c.status == 200]), timeout=10)
    return slack.home_views[user]


def home_text(slack: SlackDouble, user: str) -> str:
    view = slack.home_views.get(user)
    return json.dumps(view["blocks"]) if view else ""


def wait_for_home(slack: SlackDouble, user: str, predicate, timeout: float = 15):  # type: ignore[no-untyped-def]
    return slack.wait_for(lambda: predicate(home_text(slack, user)), timeout=timeout)


def home_button(slack: SlackDouble, user: str, action_id: str) -> dict:
    for block in slack.home_views[user]["blocks"]:
        for element in block.get("elements", []) + ([block["accessory"]] if "accessory" in block else []):
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} on {user}'s Home")


def click_home(slack: SlackDouble, user: str, action_id: str, **extra) -> None:  # type: ignore[no-untyped-def]
    element = home_button(slack, user, action_id)
    response = slack.send_block_action(user_id=user, action_id=action_id, view_id=slack.home_views[user]["id"],
                                       value=element.get("value") if element["type"] == "button" else None, **extra)
    assert response.status == 200


def tampered_click(slack: SlackDouble, user: str, action_id: str, value: str) -> None:
    """A Home button's click as a broken or hostile client could send it: any value at all."""
    payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": TEAM_ID}, "api_app_id": "A0EVENTBOT",
               "trigger_id": "1.2.3", "container": {"type": "view", "view_id": "V0HOME"},
               "view": {"id": "V0HOME", "type": "home"},
               "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value,
                            "action_ts": f"{time.time():.6f}"}]}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    assert slack.send_raw(body, signed_headers(body, FORM)).status == 200


def dm_texts(slack: SlackDouble, user: str) -> list[str]:
    return [m["text"] for m in slack.dms(user)]


def home_publishes(slack: SlackDouble, user: str) -> int:
    return len([c for c in slack.calls_to("views.publish") if c.status == 200 and c.args.get("user_id") == user])


def test_an_attendees_home_follows_their_question_until_it_is_answered(app: RunningApp, slack: SlackDouble) -> None:
    asker = ATTENDEES[0]
    assert "You have not asked a question yet" in json.dumps(open_home(slack, asker)["blocks"])
    assert ask(slack, asker, "How did Wye Valley free up time?")["text"]
    wait_for_home(slack, asker, lambda text: "How did Wye Valley free up time?" in text)
    card = slack.wait_for(lambda: cards(slack), timeout=10)[0]

    moderate(slack, CHAIR, card, "answer")
    form = slack.wait_for(lambda: slack.open_views(CHAIR), timeout=10)[-1]
    assert slack.submit_view(form["id"], user_id=CHAIR, values={"answer": {
        "value": "By protecting one afternoon a week."}}).status == 200
    # Never opened again: the tab follows the answer by itself.
    shown = wait_for_home(slack, asker, lambda text: "protecting one afternoon a week" in text and
                          "Answered in the thread" in text)
    assert shown
    # Someone who never opened Home gets no views.publish, however much happens.
    assert home_publishes(slack, ATTENDEES[5]) == 0


def test_a_chair_moderates_from_home_and_the_card_and_home_follow(app: RunningApp, slack: SlackDouble) -> None:
    home = json.dumps(open_home(slack, CHAIR)["blocks"])
    # The live event, what comes next in it, and what the chair can do from here.
    assert "Your events" in home and ":red_circle: Live" in home and "Next agenda:" in home
    for label in ("Edit the programme", "Next agenda item", "Question digest"):
        assert label in home
    assert "No question is waiting for you" in home
    editor = home_button(slack, CHAIR, "programme_open_editor")
    event_id = json.loads(editor["value"])["event_id"]
    assert isinstance(event_id, int)

    ask(slack, ATTENDEES[1], "Is the data shared across sites?")
    wait_for_home(slack, CHAIR, lambda text: "Is the data shared across sites?" in text)
    card = slack.wait_for(lambda: cards(slack), timeout=10)[0]
    menu = home_button(slack, CHAIR, "question_more")
    choice = next(o["value"] for o in menu["options"] if o["value"].startswith("answered_live:"))
    click_home(slack, CHAIR, "question_more", selected_option=choice)

    slack.wait_for(lambda: "Answered live" in card_text(cards(slack)[0]), timeout=15)
    wait_for_home(slack, CHAIR, lambda text: "No question is waiting for you" in text)
    assert card["ts"] == cards(slack)[0]["ts"]
    # The asker's own Home was never opened, so nothing was published for them.
    assert home_publishes(slack, ATTENDEES[1]) == 0

    # Run the session from Home: the next agenda item, answered to the chair in the channel.
    before = len(channel_texts(slack))
    click_home(slack, CHAIR, "home_run_session")
    slack.wait_for(lambda: len(channel_texts(slack)) > before, timeout=15)
    assert slack.wait_for(lambda: slack.ephemeral(CHANNEL, CHAIR), timeout=10)
    # And the digest, as `/event questions` shows it.
    seen = len(slack.ephemeral(CHANNEL, CHAIR))
    click_home(slack, CHAIR, "home_question_digest")
    digest = slack.wait_for(lambda: slack.ephemeral(CHANNEL, CHAIR)[seen:], timeout=10)[-1]
    by_command = chair(slack, "questions")
    assert digest["text"] in by_command


def test_an_attendee_cannot_moderate_or_run_from_a_forged_home_button(app: RunningApp, slack: SlackDouble,
                                                                     sessions: db.Database) -> None:
    outsider = ATTENDEES[2]
    open_home(slack, outsider)
    assert "question_more" not in home_text(slack, outsider) and "home_run_session" not in home_text(slack, outsider)

    def tabs() -> list:
        with unit_of_work(sessions) as session:
            return list(session.scalars(select(HomeTab.pages)).all())

    # Home is shown first and recorded after, so the record may land just after the view.
    pages_before = slack.wait_for(tabs, timeout=10)
    with unit_of_work(sessions) as session:
        event_id = session.scalar(select(Event.id).where(Event.channel_id == CHANNEL))
    for action_id, value, answer in [
        ("home_page_next", "not json", "out of date"),
        ("home_page_next", json.dumps({"list": "queue", "page": -1}), "out of date"),
        ("home_page_previous", json.dumps({"list": "everything", "page": 2}), "out of date"),
        ("home_run_session", json.dumps({"event_id": "1; drop table events"}), "out of date"),
        ("home_run_session", json.dumps({"event_id": 2**31 - 2}), "no longer there"),
        ("home_run_session", json.dumps({"event_id": event_id}), "Only a chair or organiser"),
        ("home_report", json.dumps({"event_id": event_id}), "Only a chair or organiser"),
    ]:
        before = len(slack.dms(outsider))
        tampered_click(slack, outsider, action_id, value)
        told = slack.wait_for(lambda: dm_texts(slack, outsider)[before:], timeout=10)[-1]
        assert answer in told, (action_id, value, told)
    with unit_of_work(sessions) as session:
        assert session.scalars(select(HomeTab.pages)).all() == pages_before
        assert session.get_one(Event, event_id).status == EventStatus.LIVE
    before = len(channel_texts(slack))
    time.sleep(0.5)
    assert len(channel_texts(slack)) == before, "a forged button moved the session on"


def test_150_of_everything_is_paged_within_slacks_limits(app: RunningApp, slack: SlackDouble,
                                                         sessions: db.Database) -> None:
    """150 questions in the chair's queue and by one attendee, 150 follow-ups for a presenter from an
    earlier event, each Home published (the double checks every view against Block Kit's limits)."""
    asker = ATTENDEES[3]
    for who in (CHAIR, asker, MINARA):
        open_home(slack, who)
    now = datetime.now(timezone.utc)
    with unit_of_work(sessions) as session:
        live = session.scalars(select(Event).where(Event.channel_id == CHANNEL)).one()
        person = people.person(session, workspace_id=live.workspace_id, slack_user_id=asker)
        presenter = people.person(session, workspace_id=live.workspace_id, slack_user_id=MINARA)
        earlier = Event(workspace_id=live.workspace_id, channel_id="C0EARLIER", title="Last month's session",
                        timezone="Europe/London", starts_at=now - timedelta(days=30), ends_at=now - timedelta(days=30),
                        status=EventStatus.CLOSED, closed_at=now - timedelta(days=30),
                        follow_ups_opened_at=now - timedelta(days=30), closed_out_at=now - timedelta(days=1),
                        evaluation_form_url="https://forms.example/earlier")
        session.add(earlier)
        session.flush()
        session.add(EventRole(event_id=earlier.id, person_id=person.id, role=Role.ATTENDEE))
        for n in range(150):
            session.add(Question(event_id=live.id, asker_person_id=person.id, text=f"Question {n} <b>?",
                                 status=QuestionStatus.OPEN))
            old = Question(event_id=earlier.id, asker_person_id=person.id, text=f"Left over {n}?",
                           for_presenter_person_id=presenter.id, status=QuestionStatus.FOLLOW_UP)
            session.add(old)
            session.flush()
            session.add(FollowUp(question_id=old.id, assigned_person_id=presenter.id, due_at=now + timedelta(days=3)))
    for who, title, pages in [(CHAIR, "Questions to moderate* (150)", "Page 1 of 15"),
                              (asker, "Your questions* (300)", "Page 1 of 38"),
                              (MINARA, "Your follow-ups* (150)", "Page 1 of 30")]:
        shown = json.dumps(open_home(slack, who)["blocks"])
        assert title in shown and pages in shown, (who, shown[:500])
    assert "Last month" in home_text(slack, asker) and "evaluation_completed" in home_text(slack, asker)

    # Next and Previous keep their place; the view stays valid on every page.
    click_home(slack, CHAIR, "home_page_next")
    wait_for_home(slack, CHAIR, lambda text: "Page 2 of 15" in text)
    click_home(slack, CHAIR, "home_page_previous")
    wait_for_home(slack, CHAIR, lambda text: "Page 1 of 15" in text)
    assert all(c.status == 200 for c in slack.calls_to("views.publish"))

    # "I've completed it" from Home: recorded, and the form leaves the tab.
    click_home(slack, asker, "evaluation_completed")
    wait_for_home(slack, asker, lambda text: "evaluation_completed" not in text)
    with unit_of_work(sessions) as session:
        assert session.scalar(select(func.count()).select_from(HomeTab)) == 3


def test_a_question_awaiting_approval_is_approved_from_home(app: RunningApp, slack: SlackDouble) -> None:
    assert "approval" in chair(slack, "approval on").lower()
    open_home(slack, CHAIR)
    ask(slack, ATTENDEES[4], "Can we see the slides afterwards?")
    wait_for_home(slack, CHAIR, lambda text: "Can we see the slides afterwards?" in text and "approval" in text)
    assert not cards(slack), "a question awaiting approval has no card yet"
    menu = home_button(slack, CHAIR, "question_more")
    assert [o["value"].partition(":")[0] for o in menu["options"]] == ["approve", "dismiss"]
    before = len(slack.dms(CHAIR))
    click_home(slack, CHAIR, "question_more", selected_option=menu["options"][0]["value"])
    card = slack.wait_for(lambda: cards(slack), timeout=15)[0]
    assert "slides afterwards" in card_text(card)
    # Answered by DM (Home has nowhere else to answer), and the queue shows it open now.
    assert "Approved by" in slack.wait_for(lambda: dm_texts(slack, CHAIR)[before:], timeout=10)[-1]
    wait_for_home(slack, CHAIR, lambda text: "answered_live:" in text)

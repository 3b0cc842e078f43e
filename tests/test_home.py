"""Home at the domain level: what each person's tab holds, its pages, its size, and who gets it redrawn."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select

from bot import home_tabs
from bot.capabilities import CAPABILITIES
from bot.db import Database, unit_of_work
from bot.events import people
from bot.events.rules import EventDetails, create_event
from bot.home import blocks as home_blocks
from bot.home import posts as home_posts
from bot.home import rules as home
from bot.home.rules import (
    PAGE_SIZES,
    AskedItem,
    EventLine,
    FollowUpItem,
    FormToDo,
    Home,
    HomeError,
    MyQuestion,
    MyReflection,
    NextUp,
    Page,
    QueueItem,
)
from bot.models import (
    Delivery,
    DeliveryStatus,
    EventStatus,
    FollowUp,
    Question,
    QuestionStatus,
    ReflectionTheme,
)
from bot.questions import rules as questions
from bot.workspaces import ensure_workspace
from tests.cast import ATTENDEES
from tests.slackdouble.blockkit import validate_view

CHANNEL = "C0HOME"
CHAIR, PRESENTER, ALICE, BOB = "U0CHAIR", "U0PRESENT", "U0ALICE", "U0BOB"
NOW = datetime(2031, 3, 3, 15, 0, tzinfo=timezone.utc)
ALICE_IN_DOUBLE = ATTENDEES[0]  # a person the local Slack knows


@pytest.fixture
def world(database: Database) -> tuple[int, int]:
    """A live event chaired by CHAIR with PRESENTER presenting: (workspace id, event id)."""
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id="T0HOME")
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=CHAIR,
                             details=EventDetails(title="Home <b>&", starts_at=NOW - timedelta(hours=1),
                                                  ends_at=NOW + timedelta(hours=1), timezone="Europe/London",
                                                  evaluation_form_url="https://forms.example/eval", chairs=(CHAIR,),
                                                  presenters=(PRESENTER,)))
        event.status = EventStatus.LIVE
        session.flush()
        return workspace.id, event.id


def ask(database: Database, workspace_id: int, text: str, *, by: str = ALICE, **kwargs) -> int:  # type: ignore[no-untyped-def]
    with unit_of_work(database) as session:
        question = questions.ask(session, workspace_id=workspace_id, channel_id=CHANNEL, asker_slack_id=by,
                                 text=text, **kwargs)
        questions.request_card(session, question=question, now=NOW)
        return question.id


def open_home(database: Database, workspace_id: int, slack_id: str) -> None:
    with unit_of_work(database) as session:
        home.opened(session, workspace_id=workspace_id, slack_user_id=slack_id, now=NOW)


def home_of(database: Database, workspace_id: int, slack_id: str) -> Home:
    with unit_of_work(database) as session:
        person = home.person_of(session, workspace_id=workspace_id, slack_user_id=slack_id)
        assert person is not None
        return home.home_of(session, person=person, now=NOW)


def view_of(database: Database, workspace_id: int, slack_id: str) -> dict:
    with unit_of_work(database) as session:
        return home_posts.render(session, workspace_id=workspace_id, slack_user_id=slack_id, now=NOW)


def valid(view: dict) -> dict:
    assert validate_view(view) == [], validate_view(view)[:3]
    assert len(view["blocks"]) <= 100
    return view


def pending_homes(database: Database) -> dict[str, int]:
    with unit_of_work(database) as session:
        rows = session.execute(select(Delivery.recipient_slack_id, func.count()).where(
            Delivery.kind == home_tabs.HOME, Delivery.status == DeliveryStatus.PENDING)
            .group_by(Delivery.recipient_slack_id)).all()
    return dict(rows)


def test_every_list_at_its_fullest_fits_one_home_tab() -> None:
    """The page sizes are chosen against Slack's 100 blocks: every list full, long texts, every command."""
    long = "<&>" * 400
    def page(items):  # type: ignore[no-untyped-def]
        return Page(tuple(items), 2, 3, 999)
    full = Home(
        slack_user_id=ALICE, runs_events=True, moderates=True, presents=True,
        events=page(EventLine(event_id=n + 1, title=long[:255], channel_id=CHANNEL, status=EventStatus.LIVE,
                              starts_at=NOW, timezone="Europe/London", held=True,
                              next_up=(NextUp("Agenda", long, NOW), NextUp("Prompt", long, NOW),
                                       NextUp("Close", "The close", NOW), NextUp("Reminder", long, None)))
                    for n in range(PAGE_SIZES["events"])),
        queue=page(QueueItem(question_id=n + 1, event_title=long, text=long, status=QuestionStatus.OPEN, votes=n,
                             asker_slack_id=BOB, presenter_slack_id=PRESENTER) for n in range(PAGE_SIZES["queue"])),
        asked=page(AskedItem(question_id=n + 1, event_title=long, text=long, status=QuestionStatus.OPEN, votes=1)
                   for n in range(PAGE_SIZES["asked"])),
        follow_ups=page(FollowUpItem(question_id=n + 1, event_title=long, text=long, votes=2, asker_slack_id=None,
                                     due_at=NOW, timezone="Europe/London") for n in range(PAGE_SIZES["follow_ups"])),
        questions=page(MyQuestion(question_id=n + 1, event_title=long, text=long, status=QuestionStatus.ANSWERED,
                                  votes=3, answer_text=long, declined_reason=None)
                       for n in range(PAGE_SIZES["questions"])),
        reflections=page(MyReflection(event_title=long, theme=ReflectionTheme.EQUITY, text=long, anonymous=True)
                         for _ in range(PAGE_SIZES["reflections"])),
        forms=page(FormToDo(event_id=n + 1, event_title=long, form_url="https://forms.example/x")
                   for n in range(PAGE_SIZES["forms"])),
    )
    blocks_needed = sum(PAGE_SIZES[name] * home_blocks.BLOCKS_PER_ITEM[name] + home_blocks.BLOCKS_PER_LIST
                        for name in PAGE_SIZES)
    view = valid(home_blocks.home_view(full, CAPABILITIES))
    assert any("What you can do with eventbot" in str(b) for b in view["blocks"][-6:]), "the help was cut"
    assert blocks_needed + 10 <= 100
    assert "&lt;&amp;&gt;" in str(view["blocks"]) and "<&>" not in str(view["blocks"])


def test_a_chairs_queue_at_0_1_and_150_questions(database: Database, world: tuple[int, int]) -> None:
    workspace_id, event_id = world
    open_home(database, workspace_id, CHAIR)
    empty = valid(view_of(database, workspace_id, CHAIR))
    assert "No question is waiting for you" in str(empty["blocks"])
    # The programme editor's button, as agreed with it: its action id and the event in a JSON value.
    editor = [e for b in empty["blocks"] if b["type"] == "actions" for e in b["elements"]
              if e["action_id"] == "programme_open_editor"]
    assert [json.loads(e["value"]) for e in editor] == [{"event_id": event_id}]

    first = ask(database, workspace_id, "The first one?")
    one = valid(view_of(database, workspace_id, CHAIR))
    menus = [b["accessory"] for b in one["blocks"] if b.get("accessory", {}).get("action_id") == "question_more"]
    assert [o["value"] for o in menus[0]["options"]][:1] == [f"answered_live:{first}"]

    for n in range(149):
        ask(database, workspace_id, f"Question number {n}?", by=BOB if n % 2 else ALICE)
    many = home_of(database, workspace_id, CHAIR)
    assert many.queue.total == 150 and len(many.queue.items) == PAGE_SIZES["queue"] and many.queue.pages == 15
    view = valid(view_of(database, workspace_id, CHAIR))
    assert "Page 1 of 15" in str(view["blocks"])

    with unit_of_work(database) as session:
        home.turn_page(session, workspace_id=workspace_id, slack_user_id=CHAIR, name="queue", page=99, now=NOW)
    last = home_of(database, workspace_id, CHAIR)
    assert last.queue.number == 15 and len(last.queue.items) == 150 - 14 * PAGE_SIZES["queue"]
    valid(view_of(database, workspace_id, CHAIR))


def test_an_attendees_questions_at_0_1_and_150(database: Database, world: tuple[int, int]) -> None:
    workspace_id, _ = world
    open_home(database, workspace_id, ALICE)
    assert "You have not asked a question yet" in str(valid(view_of(database, workspace_id, ALICE)))
    ask(database, workspace_id, "Mine <@U0CHAIR>?")
    one = home_of(database, workspace_id, ALICE)
    assert [q.text for q in one.questions.items] == ["Mine <@U0CHAIR>?"]
    assert "Mine &lt;@U0CHAIR&gt;?" in str(valid(view_of(database, workspace_id, ALICE)))
    assert not one.moderates and not one.runs_events
    for n in range(149):
        ask(database, workspace_id, f"Another {n}?")
    many = home_of(database, workspace_id, ALICE)
    assert many.questions.total == 150 and many.questions.pages == 150 // PAGE_SIZES["questions"] + 1
    view = valid(view_of(database, workspace_id, ALICE))
    assert "question_more" not in str(view), "an attendee sees no moderation"


def test_a_presenters_follow_ups_at_0_1_and_150(database: Database, world: tuple[int, int]) -> None:
    workspace_id, event_id = world
    open_home(database, workspace_id, PRESENTER)
    assert "No question is waiting for your answer" in str(valid(view_of(database, workspace_id, PRESENTER)))
    with unit_of_work(database) as session:
        presenter = people.person(session, workspace_id=workspace_id, slack_user_id=PRESENTER)
        asker = people.person(session, workspace_id=workspace_id, slack_user_id=ALICE)
        from bot.models import Event
        event = session.get_one(Event, event_id)
        event.status, event.closed_at, event.follow_ups_opened_at = EventStatus.CLOSED, NOW, NOW
        for n in range(150):
            question = Question(event_id=event_id, asker_person_id=asker.id, text=f"Later {n}?",
                                for_presenter_person_id=presenter.id, status=QuestionStatus.FOLLOW_UP)
            session.add(question)
            session.flush()
            session.add(FollowUp(question_id=question.id, assigned_person_id=presenter.id,
                                 due_at=NOW + timedelta(days=14)))
            if n == 0:
                session.flush()
                one = home.home_of(session, person=presenter, now=NOW)
                assert one.follow_ups.total == 1 and one.asked.total == 1
    many = home_of(database, workspace_id, PRESENTER)
    assert many.follow_ups.total == 150 and len(many.follow_ups.items) == PAGE_SIZES["follow_ups"]
    view = valid(view_of(database, workspace_id, PRESENTER))
    for action in ("question_answer_in_thread", "follow_up_hand_over", "follow_up_decline"):
        assert action in str(view)


def test_only_people_who_opened_home_get_it_redrawn_once_per_burst(database: Database,
                                                                     world: tuple[int, int]) -> None:
    workspace_id, _ = world
    ask(database, workspace_id, "Before anyone looked?")
    assert pending_homes(database) == {}
    open_home(database, workspace_id, CHAIR)
    open_home(database, workspace_id, ALICE)
    for n in range(5):
        ask(database, workspace_id, f"Burst {n}?")
    # The chair (queue) and Alice (her questions) once each; Bob asked nothing and never looked.
    assert pending_homes(database) == {CHAIR: 1, ALICE: 1}


@pytest.mark.parametrize("value", [None, "x", {"list": "nope", "page": 1}, {"list": "queue", "page": 0},
                                   {"list": "queue", "page": True}, {"list": "queue", "page": "2"},
                                   {"list": "queue", "page": 10**9}])
def test_a_page_button_not_as_eventbot_made_it_is_refused(value: object) -> None:
    with pytest.raises(HomeError, match="out of date"):
        home.check_page_request(value)


def test_the_slack_double_holds_a_home_tab_to_slacks_limits(client) -> None:  # type: ignore[no-untyped-def]
    """What the scenario tests rely on: views.publish refuses a Home Slack would refuse."""
    def section(n: int) -> dict:
        return {"type": "section", "text": {"type": "mrkdwn", "text": f"line {n}"}}
    assert client.views_publish(user_id=ALICE_IN_DOUBLE, view={"type": "home",
                                                               "blocks": [section(n) for n in range(100)]})["ok"]
    too_many = {"type": "home", "blocks": [section(n) for n in range(101)]}
    twin_buttons = {"type": "home", "blocks": [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "A"}, "action_id": "same"},
        {"type": "button", "text": {"type": "plain_text", "text": "B"}, "action_id": "same"}]}]}
    long_text = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]}
    for view in (too_many, twin_buttons, long_text):
        with pytest.raises(SlackApiError) as refused:
            client.views_publish(user_id=ALICE_IN_DOUBLE, view=view)
        assert refused.value.response["error"] == "invalid_arguments"

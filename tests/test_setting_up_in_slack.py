"""`/event setup` in Slack: who may open it, the channel it needs, and what saving it changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot import db
from bot.db import unit_of_work
from bot.events.rules import FORM_LINK_RULE
from bot.models import Event
from tests.apprunner import BOT_USER_ID, RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, ORGANISER
from tests.slackdouble import SlackDouble

ADMIN, GROUPIE = "U0ADMIN01", "U0GROUPIE"
GROUP = "S0ORGANISE"
CHANNEL = "C0NEWEVENT"
GOOD_FORM: dict[str, Any] = {
    "title": {"value": "Next session"}, "date": {"value": "2031-03-28"}, "start": {"value": "14:30"},
    "end": {"value": "16:00"}, "timezone": {"value": "Europe/London"},
    "evaluation_form_url": {"value": "https://forms.example.org/eval"},
}


@pytest.fixture
def slack(slack: SlackDouble) -> SlackDouble:
    slack.add_user(ADMIN, "admin", is_admin=True)
    slack.add_user(GROUPIE, "groupie")
    slack.add_usergroup(GROUP, "event-organisers", members=[GROUPIE])
    slack.add_channel(CHANNEL, "new-event", members=[ORGANISER, ADMIN, GROUPIE, CHAIR, ATTENDEES[0]])
    return slack


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path,
                             EVENTBOT_ORGANISER_GROUP=GROUP)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


def run_setup(slack: SlackDouble, user: str, channel: str = CHANNEL) -> dict[str, Any] | str:
    """/event setup: the form it opened, or the text of the private answer instead."""
    views_before = len(slack.calls_to("views.open"))
    replies_before = len(slack.response_url_posts)
    assert slack.send_slash_command("/event", "setup", user_id=user, channel_id=channel).status == 200
    slack.wait_for(lambda: len(slack.calls_to("views.open")) > views_before
                   or len(slack.response_url_posts) > replies_before, timeout=10)
    if len(slack.response_url_posts) > replies_before:
        return slack.response_url_posts[-1]["text"]
    return slack.open_views(user)[-1]


def save(slack: SlackDouble, view: dict[str, Any], user: str, **changes: Any) -> dict[str, Any] | None:
    """Press Save; the field errors shown, or None when the form closed."""
    response = slack.submit_view(view["id"], user_id=user, values={**GOOD_FORM, **changes})
    assert response.status == 200 and response.slack_error is None
    if response.json:
        assert response.json["response_action"] == "errors"
        return response.json["errors"]
    return None


def events_in(database_url: str, channel: str) -> list[str]:
    engine = db.make_engine(database_url)
    try:
        with unit_of_work(db.make_session_factory(engine)) as session:
            return [e.title for e in session.query(Event).filter_by(channel_id=channel)]
    finally:
        engine.dispose()


def confirmation(slack: SlackDouble, user: str, channel: str = CHANNEL) -> str:
    return slack.wait_for(lambda: slack.ephemeral(channel_id=channel, user_id=user), timeout=10)[-1]["text"]


def test_someone_who_may_not_set_events_up_is_told_whom_to_ask(app: RunningApp, slack: SlackDouble) -> None:
    answer = run_setup(slack, ATTENDEES[0])
    assert answer == (
        "Only workspace admins, owners and the organisers named by your Slack admin (the <!subteam^S0ORGANISE> "
        f"group) can set up events. Ask one of them: <@{ORGANISER}> or <@{GROUPIE}>."
    )
    assert slack.calls_to("views.open") == []


@pytest.mark.parametrize("organiser", [ORGANISER, ADMIN, GROUPIE], ids=["named", "admin", "in-the-group"])
def test_the_named_admins_and_the_groups_members_set_events_up(
    app: RunningApp, slack: SlackDouble, database_url: str, organiser: str
) -> None:
    view = run_setup(slack, organiser)
    assert isinstance(view, dict) and view["callback_id"] == "event_setup"
    assert save(slack, view, organiser) is None
    assert "*Next session* is set up for this channel" in confirmation(slack, organiser)
    assert events_in(database_url, CHANNEL) == ["Next session"]


def test_a_public_channel_is_joined_and_an_http_link_refused(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    slack.add_channel("C0PUBLIC", "public", members=[ORGANISER], bot_is_member=False)
    view = run_setup(slack, ORGANISER, "C0PUBLIC")
    assert isinstance(view, dict)
    errors = save(slack, view, ORGANISER, evaluation_form_url={"value": "http://forms.example.org/eval"})
    assert errors == {"evaluation_form_url": FORM_LINK_RULE}
    assert slack.calls_to("conversations.join") == []  # nothing is done for a form that cannot be saved
    assert save(slack, view, ORGANISER) is None
    assert [c.args["channel"] for c in slack.calls_to("conversations.join")] == ["C0PUBLIC"]
    assert "is set up for this channel" in confirmation(slack, ORGANISER, "C0PUBLIC")
    assert events_in(database_url, "C0PUBLIC") == ["Next session"]


def test_a_private_channel_needs_an_invitation_and_the_form_keeps_what_was_typed(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    slack.add_channel("G0PRIVATE", "private", members=[ORGANISER], is_private=True, bot_is_member=False)
    view = run_setup(slack, ORGANISER, "G0PRIVATE")
    assert isinstance(view, dict)
    errors = save(slack, view, ORGANISER)
    assert errors == {"title": "I cannot see this channel: if it is private, type `/invite @eventbot` in it, "
                               "then try again."}
    assert slack.open_views(ORGANISER)[-1]["id"] == view["id"]
    assert events_in(database_url, "G0PRIVATE") == []

    slack.add_member("G0PRIVATE", BOT_USER_ID)  # /invite @eventbot
    assert save(slack, view, ORGANISER) is None
    assert "is set up for this channel" in confirmation(slack, ORGANISER, "G0PRIVATE")
    assert events_in(database_url, "G0PRIVATE") == ["Next session"]


def test_taking_a_chair_out_of_the_form_takes_the_chair_away(app: RunningApp, slack: SlackDouble) -> None:
    view = run_setup(slack, ORGANISER)
    assert isinstance(view, dict) and save(slack, view, ORGANISER, chairs={"value": [CHAIR]}) is None
    chairs_form = run_setup(slack, CHAIR)
    assert isinstance(chairs_form, dict)  # a chair may change the event
    assert chairs_form["title"]["text"] == "Change this event"

    change = run_setup(slack, ORGANISER)
    assert isinstance(change, dict)
    assert save(slack, change, ORGANISER, chairs={"value": []}) is None
    assert run_setup(slack, CHAIR) == "Only a chair or organiser of this event can change this event."
    assert isinstance(run_setup(slack, ORGANISER), dict)  # who set it up still may


def test_when_slack_is_slow_the_form_stays_open_and_nothing_is_saved(
    app: RunningApp, slack: SlackDouble, client: WebClient, database_url: str
) -> None:
    view = run_setup(slack, ORGANISER)
    assert isinstance(view, dict)
    slack.rate_limit("conversations.info", calls=1, period=30)
    client.conversations_info(channel=CHANNEL)  # the minute's allowance, used up
    errors = save(slack, view, ORGANISER)
    assert errors == {"title": "Slack is slow to answer just now, so nothing was saved yet: "
                               "press Save again in a moment."}
    assert events_in(database_url, CHANNEL) == []
    slack.clear_rate_limits()
    assert save(slack, view, ORGANISER) is None
    assert events_in(database_url, CHANNEL) == ["Next session"]


def test_an_event_that_waits_for_its_chair_and_a_day_that_has_passed(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    view = run_setup(slack, ORGANISER)
    assert isinstance(view, dict)
    # A day already gone is refused on the date; the form keeps everything else.
    errors = save(slack, view, ORGANISER, date={"value": "2020-01-06"})
    assert errors is not None and set(errors) == {"date"} and "That day has passed" in errors["date"]
    assert events_in(database_url, CHANNEL) == []
    assert save(slack, view, ORGANISER, waits_for_chair={"value": ["yes"]}) is None
    engine = db.make_engine(database_url)
    try:
        with unit_of_work(db.make_session_factory(engine)) as session:
            assert session.query(Event).filter_by(channel_id=CHANNEL).one().waits_for_chair is True
    finally:
        engine.dispose()
    again = run_setup(slack, ORGANISER)
    assert isinstance(again, dict)
    waits = next(b for b in again["blocks"] if b.get("block_id") == "waits_for_chair")
    assert waits["element"]["initial_options"][0]["value"] == "yes"  # the form shows what was chosen

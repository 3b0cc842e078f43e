"""An organiser builds the seed event's whole programme in Slack, with no file, and exports it.

`/event setup` makes the event; `/event programme` opens the editor, whose forms are driven here
through block actions and view submissions against the local Slack; the export is a programme
file that means what examples/provider-collaboratives.toml means, and imports into a fresh database.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot import db
from bot.db import unit_of_work
from bot.models import AgendaSegment, Event, Reminder
from bot.programme import rules as programme
from bot.programme.importing import import_programme
from bot.programme.parsing import parse_programme
from bot.programme.plan import timeline
from tests.apprunner import RunningApp, migrate, start_eventbot
from tests.cast import CHAIR, CHANNEL, DAY, ORGANISER, PRESENTERS, seed_programme_text
from tests.conftest import make_web_client
from tests.slackdouble import SlackDouble

EXAMPLE = tomllib.loads(seed_programme_text(DAY))


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


@contextmanager
def unit_of_work_at(database_url: str) -> Iterator[Session]:
    engine = db.make_engine(database_url)
    try:
        with unit_of_work(db.make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _top_view(slack: SlackDouble, user: str, count: int) -> dict[str, Any]:
    return slack.wait_for(lambda: len(slack.open_views(user)) == count and slack.open_views(user)[-1], timeout=10)


def set_up(slack: SlackDouble) -> None:
    event = EXAMPLE["event"]
    assert slack.send_slash_command("/event", "setup", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    form = _top_view(slack, ORGANISER, 1)
    response = slack.submit_view(form["id"], user_id=ORGANISER, values={
        "title": {"value": event["title"]}, "date": {"value": DAY.isoformat()}, "start": {"value": event["start"]},
        "end": {"value": event["end"]}, "timezone": {"value": event["timezone"]},
        "evaluation_form_url": {"value": event["evaluation_form_url"]},
        "chairs": {"value": [CHAIR]}, "presenters": {"value": list(PRESENTERS.values())},
    })
    assert response.status == 200 and not response.json


def open_editor(slack: SlackDouble) -> dict[str, Any]:
    assert slack.send_slash_command("/event", "programme", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    editor = _top_view(slack, ORGANISER, 1)
    assert editor["callback_id"] == "programme_editor"
    return editor


def press(slack: SlackDouble, editor: dict[str, Any], action_id: str, *, block_id: str | None = None,
          option: str | None = None) -> dict[str, Any]:
    """A button or menu in the editor; the form it pushes."""
    slack.send_block_action(user_id=ORGANISER, view_id=editor["id"], action_id=action_id, block_id=block_id,
                            selected_option=option)
    return _top_view(slack, ORGANISER, 2)


def save(slack: SlackDouble, form: dict[str, Any], values: dict[str, Any]) -> dict[str, str] | None:
    """Save a pushed form: its field errors, or None when it closed (and the editor was redrawn)."""
    updates = len(slack.calls_to("views.update"))
    response = slack.submit_view(form["id"], user_id=ORGANISER,
                                 values={block_id: {"value": value} for block_id, value in values.items()})
    assert response.status == 200 and response.slack_error is None
    if response.json:
        assert response.json["response_action"] == "errors"
        return response.json["errors"]
    slack.wait_for(lambda: len(slack.calls_to("views.update")) > updates, timeout=10)
    return None


def agenda_values(item: dict[str, Any]) -> dict[str, Any]:
    return {"title": item["title"], "start": item["start"], "kind": item["kind"],
            "speakers": "\n".join(item.get("speakers", []))}


def build_the_seed_programme(slack: SlackDouble) -> dict[str, Any]:
    editor = open_editor(slack)
    for item in EXAMPLE["agenda"]:
        assert save(slack, press(slack, editor, "programme_add_item"), agenda_values(item)) is None
    for prompt in EXAMPLE["prompts"]:
        form = press(slack, editor, "programme_prompt", block_id=f"prompt-{prompt['theme']}")
        text = next(b for b in form["blocks"] if b["block_id"] == "text")["element"]["initial_value"]
        assert save(slack, form, {"text": text, "at": prompt["at"]}) is None
    event = EXAMPLE["event"]
    assert save(slack, press(slack, editor, "programme_notes"), {
        "housekeeping": "\n".join(event["housekeeping"]), "partners": "\n".join(event["partners"]),
        "next_event": event["next_event"]}) is None
    at_close, next_day = EXAMPLE["reminders"]
    assert save(slack, press(slack, editor, "programme_add_reminder"), {
        "when": "at close", "audience": "channel", "only_incomplete": [], "include_team": [],
        "text": at_close["text"], "grace_hours": "6"}) is None
    assert save(slack, press(slack, editor, "programme_add_reminder"), {
        "when": "next day 10:00", "audience": "dm", "only_incomplete": ["only_incomplete"], "include_team": [],
        "text": next_day["text"], "grace_hours": str(next_day["grace_hours"])}) is None
    return editor


def export(slack: SlackDouble) -> str:
    uploads = len(slack.uploaded_files)
    assert slack.send_slash_command("/event", "programme export", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: len(slack.uploaded_files) > uploads, timeout=10)
    upload = slack.uploaded_files[-1]
    assert upload["filename"] == f"programme-{DAY.isoformat()}.toml"
    return upload["content"].decode()


def without_people(parsed: Any) -> Any:
    return replace(parsed, organisers=(), chairs=(), presenters=(), channel_id=None)


def test_an_organiser_builds_the_seed_programme_in_slack_and_its_export_means_the_same(
    app: RunningApp, slack: SlackDouble, database_url: str, tmp_path: Path
) -> None:
    set_up(slack)
    editor = build_the_seed_programme(slack)
    shown = slack.open_views(ORGANISER)[-1]
    assert shown["id"] == editor["id"] and len(shown["blocks"]) <= 100
    assert "Interactive Q&amp;A" in str(shown["blocks"])

    exported = export(slack)
    original = parse_programme(seed_programme_text(DAY), source="example.toml")
    again = parse_programme(exported, source="export.toml")
    assert without_people(again) == without_people(original)
    assert set(map(str, again.presenters)) == set(PRESENTERS.values())
    assert list(map(str, again.chairs)) == [CHAIR] and list(map(str, again.organisers)) == [ORGANISER]
    assert timeline(again) == timeline(original)

    # It runs: imported into a fresh database, it is the same programme, and exports the same file.
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    db.upgrade(fresh)
    engine = db.make_engine(fresh)
    try:
        database = db.make_session_factory(engine)
        client: WebClient = make_web_client(token=slack.bot_token, base_url=slack.api_url)
        imported = import_programme(database, client, again, channel_id=None,
                                    now=datetime(2031, 3, 3, 9, tzinfo=timezone.utc))
        with unit_of_work(database) as session:
            event = session.get_one(Event, imported.event_id)
            assert programme.to_toml(programme.editable(session, event=event).document, title=event.title) == exported
    finally:
        engine.dispose()


def test_bad_input_shows_the_files_messages_on_the_fields_and_changes_nothing(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    set_up(slack)
    editor = open_editor(slack)
    first = EXAMPLE["agenda"][0]
    assert save(slack, press(slack, editor, "programme_add_item"), agenda_values(first)) is None
    form = press(slack, editor, "programme_add_item")
    errors = save(slack, form, {**agenda_values(first), "title": "   ", "start": "16:30"})
    assert errors == {
        "title": "must not be empty",
        "start": "16:30 is outside the event; an agenda item starts at or after the event's start "
                 "(Mon 03 Mar 2031 14:30 GMT) and before its end (Mon 03 Mar 2031 16:00 GMT)",
    }
    errors = save(slack, form, {**agenda_values(first), "title": "Same time as the welcome"})
    assert errors == {"start": "14:30 is not after the previous item's start (14:30); "
                               "list the agenda in time order"}
    assert save(slack, form, {**agenda_values(first), "title": "Fifteen minutes later", "start": "14:45"}) is None
    reminder = press(slack, editor, "programme_add_reminder")
    errors = save(slack, reminder, {"when": "picked", "audience": "dm", "only_incomplete": [], "include_team": [],
                                    "text": "Please fill in {form}", "grace_hours": "a week"})
    assert errors == {"when_at": "pick the date and time, or choose another time above"}
    picked = int(datetime(2031, 3, 3, 12, tzinfo=timezone.utc).timestamp())  # before the start
    errors = save(slack, reminder, {"when": "picked", "when_at": picked, "audience": "dm", "only_incomplete": [],
                                    "include_team": [], "text": "Please fill in {form}", "grace_hours": "a week"})
    assert errors is not None and set(errors) == {"when", "text", "grace_hours"}
    assert "'2031-03-03 12:00' is Mon 03 Mar 2031 12:00 GMT, before the event starts" in errors["when"]
    assert errors["text"].startswith("{form} is not a placeholder")

    engine = db.make_engine(database_url)
    try:
        with unit_of_work(db.make_session_factory(engine)) as session:
            assert [s.title for s in session.query(AgendaSegment).order_by(AgendaSegment.position)] == [
                first["title"], "Fifteen minutes later"]
            assert session.query(Reminder).count() == 0
    finally:
        engine.dispose()


def test_items_are_reordered_and_removed_and_only_organisers_open_the_editor_from_home_or_the_channel(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    set_up(slack)
    editor = open_editor(slack)
    for item in EXAMPLE["agenda"][:3]:
        assert save(slack, press(slack, editor, "programme_add_item"), agenda_values(item)) is None

    def agenda() -> list[tuple[str, str]]:
        shown = slack.open_views(ORGANISER)[-1]
        return [(b["text"]["text"].split("*")[1], b["text"]["text"].split("  ")[1][:12])
                for b in shown["blocks"] if b.get("block_id", "").startswith("item-")]

    def choose(block_id: str, option: str) -> None:
        updates = len(slack.calls_to("views.update"))
        slack.send_block_action(user_id=ORGANISER, view_id=editor["id"], action_id="programme_agenda_item",
                                block_id=block_id, selected_option=option)
        slack.wait_for(lambda: len(slack.calls_to("views.update")) > updates, timeout=10)

    assert agenda() == [("14:30", "Welcome and "), ("14:40", "Presentation"), ("15:05", "Presentation")]
    choose("item-0", "down:0")  # the items trade places; the times stay
    assert agenda() == [("14:30", "Presentation"), ("14:40", "Welcome and "), ("15:05", "Presentation")]
    choose("item-1", "remove:1")
    assert [title for _, title in agenda()] == ["Presentation", "Presentation"]

    # The chair runs the event but does not organise it: refused, in the channel and from Home.
    assert slack.send_slash_command("/event", "programme", user_id=CHAIR, channel_id=CHANNEL).status == 200
    refusal = slack.wait_for(lambda: slack.response_url_posts, timeout=10)[-1]["text"]
    assert "Only an organiser of Provider collaboratives: improving equitably can change its programme." in refusal
    with unit_of_work_at(database_url) as session:
        event_id = session.query(Event).one().id
    client = make_web_client(token=slack.bot_token, base_url=slack.api_url)
    for user in (CHAIR, ORGANISER):
        client.views_publish(user_id=user, view={"type": "home", "blocks": [{"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Edit the programme"},
            "action_id": "programme_open_editor", "value": f'{{"event_id": {event_id}}}'}]}]})
    home = slack.calls_to("views.publish")[-2].response["view"]["id"]
    slack.send_block_action(user_id=CHAIR, view_id=home, action_id="programme_open_editor")
    notice = _top_view(slack, CHAIR, 1)
    assert "Only an organiser of" in str(notice["blocks"]) and not notice.get("submit")
    home = slack.calls_to("views.publish")[-1].response["view"]["id"]
    opened = len(slack.calls_to("views.open"))
    slack.send_block_action(user_id=ORGANISER, view_id=home, action_id="programme_open_editor")
    slack.wait_for(lambda: len(slack.calls_to("views.open")) > opened, timeout=10)
    assert slack.calls_to("views.open")[-1].args["view"]["callback_id"] == "programme_editor"


def test_once_the_session_has_started_what_was_announced_stays_and_the_editor_says_so(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    set_up(slack)
    editor = open_editor(slack)
    for item in EXAMPLE["agenda"][:3]:
        assert save(slack, press(slack, editor, "programme_add_item"), agenda_values(item)) is None
    assert slack.send_slash_command("/event", "start", user_id=CHAIR, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: any(m["text"].startswith("Now:") for m in slack.messages(CHANNEL)), timeout=15)

    # The editor was open before the start: its menu on the first item is out of date.
    updates = len(slack.calls_to("views.update"))
    slack.send_block_action(user_id=ORGANISER, view_id=editor["id"], action_id="programme_agenda_item",
                            block_id="item-0", selected_option="remove:0")
    slack.wait_for(lambda: len(slack.calls_to("views.update")) > updates, timeout=10)
    shown = slack.open_views(ORGANISER)[-1]
    texts = [b["text"]["text"] for b in shown["blocks"] if b.get("type") == "section"]
    assert any("Nothing was changed: Agenda item 1 has been announced, so it stays in the programme." in t
               for t in texts)
    first = next(b for b in shown["blocks"] if "Welcome and introduction" in b.get("text", {}).get("text", ""))
    assert "_announced_" in first["text"]["text"] and "accessory" not in first
    # What is still to come changes, and its announcement will say so.
    form = press(slack, shown, "programme_agenda_item", block_id="item-1", option="edit:1")
    assert save(slack, form, {**agenda_values(EXAMPLE["agenda"][1]), "title": "Presentation one, retitled"}) is None
    with unit_of_work_at(database_url) as session:
        rows = session.query(AgendaSegment).order_by(AgendaSegment.position).all()
        assert [(row.title, row.announced_at is not None) for row in rows] == [
            ("Welcome and introduction", True), ("Presentation one, retitled", False),
            ("Presentation two: Open-Door Collaboration", False)]

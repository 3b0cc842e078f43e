"""The programme as a document: what the editor in Slack changes, checked as a programme file is."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.db import Database, unit_of_work
from bot.models import AgendaSegment, Event, ReflectionPrompt, ReflectionTheme, Reminder, ReminderStatus
from bot.programme import blocks
from bot.programme import rules as programme
from bot.programme.parsing import load_programme, parse_programme
from bot.run_of_show import slack as run_of_show_slack
from tests.apprunner import BOT_USER_ID
from tests.cast import CHANNEL, DAY, at, seed_programme
from tests.posting import deliver
from tests.slackdouble import SlackDouble
from tests.slackdouble.blockkit import validate_view


def _editable(database: Database, event_id: int) -> programme.Editable:
    with unit_of_work(database) as session:
        return programme.editable(session, event=session.get_one(Event, event_id))


def _apply(database: Database, event_id: int, change: programme.Change, now_hhmm: str = "09:00") -> None:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        programme.apply(session, event=event, before=programme.editable(session, event=event), change=change,
                        now=at(now_hhmm))


def test_an_imported_programme_exports_to_a_file_that_means_the_same(
    database: Database, event_id: int, tmp_path: Path
) -> None:
    exported = programme.to_toml(_editable(database, event_id).document, title="Provider collaboratives")
    original = load_programme(seed_programme(DAY, tmp_path))
    again = parse_programme(exported, source="export.toml")
    people = dict(organisers=(), chairs=(), presenters=(), channel_id=None)
    assert replace(again, **people) == replace(original, **people)


def test_a_bad_change_is_refused_with_the_files_message_and_nothing_is_written(
    database: Database, event_id: int
) -> None:
    before = _editable(database, event_id)
    change = programme.put_agenda_item(before, 1, {"title": "Late talk", "start": "16:30", "kind": "presentation",
                                                   "speakers": []})
    with pytest.raises(programme.ProgrammeProblems) as refused:
        _apply(database, event_id, change)
    assert [(p.key, p.message) for p in refused.value.problems] == [(
        "agenda[5].start",
        "16:30 is outside the event; an agenda item starts at or after the event's start (Mon 03 Mar 2031 14:30 GMT) "
        "and before its end (Mon 03 Mar 2031 16:00 GMT)",
    )]
    assert _editable(database, event_id) == before


def test_items_announced_and_reminders_sent_stay_as_they_are(database: Database, event_id: int) -> None:
    with unit_of_work(database) as session:
        first = session.query(AgendaSegment).filter_by(event_id=event_id, position=1).one()
        first.announced_at = at("14:30")
        session.query(Reminder).filter_by(event_id=event_id, when_spec="at close").one().status = ReminderStatus.SENT
    before = _editable(database, event_id)
    with pytest.raises(programme.NotEditable):
        programme.remove_agenda_item(before, 0)
    with pytest.raises(programme.NotEditable):
        programme.swap_agenda_items(before, 1, 0)
    with pytest.raises(programme.NotEditable):
        programme.remove_reminder(before, 0)
    # A new item before the one announced would move it: refused when written.
    early = programme.put_agenda_item(before, None, {"title": "Early", "start": "14:30", "kind": "other"})
    with pytest.raises((programme.NotEditable, programme.ProgrammeProblems)):
        _apply(database, event_id, early, "14:35")
    # What is still to come changes: the later items trade places, keeping their times.
    _apply(database, event_id, programme.swap_agenda_items(before, 1, 2), "14:35")
    with unit_of_work(database) as session:
        rows = session.query(AgendaSegment).filter_by(event_id=event_id).order_by(AgendaSegment.position).all()
        assert [(row.title[:16], row.scheduled_at) for row in rows[:3]] == [
            ("Welcome and intr", at("14:30")), ("Presentation two", at("14:40")), ("Presentation one", at("15:05"))]


def test_a_change_to_a_live_event_reaches_the_posts_still_to_come_and_no_others(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    def run_until(hhmm: str) -> None:
        now = at("14:30")
        while now <= at(hhmm):
            run_of_show_slack.run_due_work(database, client, now=now, exclude_from_attendees=frozenset({BOT_USER_ID}))
            deliver(database, client, now)
            now += timedelta(minutes=1)

    run_until("15:01")  # welcome, items 1 and 2, the improvement prompt
    before = _editable(database, event_id)
    assert before.announced == (True, True, False, False, False)
    assert before.posted_themes == {"improvement"}
    with pytest.raises(programme.NotEditable):
        programme.put_prompt(before, "improvement", text="Changed too late", at="15:00")
    third = {**before.document["agenda"][2], "title": "Presentation two, retitled"}
    _apply(database, event_id, programme.put_agenda_item(before, 2, third), "15:02")
    _apply(database, event_id, programme.put_prompt(_editable(database, event_id), "equity",
                                                     text="What did equity mean today?", at="15:45"), "15:02")
    run_until("15:59")
    posts = [message["text"] for message in slack.messages(CHANNEL)]
    assert any("Presentation two, retitled" in text for text in posts)
    assert not any("Presentation two: Open-Door Collaboration" in text for text in posts)
    assert any("What did equity mean today?" in text for text in posts)
    assert sum("Presentation one" in text for text in posts) == 1  # announced once, before the change
    with unit_of_work(database) as session:
        prompt = session.query(ReflectionPrompt).filter_by(event_id=event_id, theme=ReflectionTheme.EQUITY).one()
        assert prompt.posted_at == at("15:45")


def test_a_long_programme_is_shown_a_page_at_a_time_within_slacks_limits(database: Database, event_id: int) -> None:
    before = _editable(database, event_id)
    document = copy.deepcopy(before.document)
    document["agenda"] = [{"title": f"Item {n} " + "x" * 240, "start": f"{14 + (30 + n) // 60:02d}:{(30 + n) % 60:02d}",
                           "kind": "other", "speakers": ["Someone " * 30] * 3} for n in range(60)]
    document["reminders"] = [{**document["reminders"][1], "when": f"{n + 1} hours after"} for n in range(20)]
    long = replace(before, document=document, announced=(False,) * 60, reminder_ids=tuple(range(20)),
                   reminder_open=(True,) * 20)
    pages = [blocks.editor(long, title="T" * 255, page=page, notice="n" * 3000) for page in range(3)]
    for view in pages:
        assert validate_view(view) == []
        assert len(view["blocks"]) <= 100
    items = [[b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith("item-")] for view in pages]
    assert [len(page) for page in items] == [25, 25, 10] and items[2][-1] == "item-59"
    buttons = [[e["text"]["text"] for b in view["blocks"] if b.get("block_id") == "agenda-actions" for e in b["elements"]]
               for view in pages]
    assert buttons == [["Add agenda item", "Later items"], ["Add agenda item", "Earlier items", "Later items"],
                       ["Add agenda item", "Earlier items"]]
    for form in (blocks.item_form(long, index=59, root_view_id="V1"), blocks.reminder_form(long, index=19, root_view_id="V1"),
                 blocks.notes_form(long, root_view_id="V1"), blocks.prompt_form(long, theme="equity", root_view_id="V1")):
        assert validate_view(form) == []

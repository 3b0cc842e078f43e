"""An organiser's own prompts on a live event: posted at their time, then kept as they are;
shown within Slack's limits; carried to the next event by a duplicate."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot.db import Database, unit_of_work
from bot.events import rules as events
from bot.models import Event, ReflectionPrompt
from bot.programme import blocks
from bot.programme import rules as programme
from bot.reflections import rules as reflections
from bot.run_of_show import slack as run_of_show_slack
from tests.apprunner import BOT_USER_ID
from tests.cast import ATTENDEES, CHANNEL, ORGANISER, at
from tests.posting import deliver
from tests.slackdouble import SlackDouble
from tests.slackdouble.blockkit import validate_view


def _editable(database: Database, event_id: int) -> programme.Editable:
    with unit_of_work(database) as session:
        return programme.editable(session, event=session.get_one(Event, event_id))


def _apply(database: Database, event_id: int, change: programme.Change, now_hhmm: str) -> None:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        programme.apply(session, event=event, before=programme.editable(session, event=event), change=change,
                        now=at(now_hhmm))


def test_an_own_prompt_goes_out_at_its_time_collects_reflections_and_then_stays_as_it_is(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    _apply(database, event_id, programme.put_own_prompt(_editable(database, event_id), None, name="Wellbeing",
                                                         text="How will you rest?", at="15:10"), "09:00")
    now = at("14:30")
    while now <= at("15:11"):
        run_of_show_slack.run_due_work(database, client, now=now, exclude_from_attendees=frozenset({BOT_USER_ID}))
        deliver(database, client, now)
        now += timedelta(minutes=1)
    posted = next(m for m in slack.messages(CHANNEL) if m["text"] == "Reflection: How will you rest?")
    assert "*Reflection: Wellbeing*" in str(posted["blocks"])

    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        assert reflections.record_thread_reply(session, workspace_id=event.workspace_id, channel_id=CHANNEL,
                                               thread_ts=posted["ts"], message_ts="1.5", slack_user_id=ATTENDEES[0],
                                               text="Early nights") is not None
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        assert [(r.topic, r.text) for r in reflections.shared_reflections(session, event=event)] == [
            ("Wellbeing", "Early nights")]
        assert reflections.reflection_counts(session, event_id=event_id)["Wellbeing"] == 1
        csv_text = reflections.reflections_csv(reflections.shared_reflections(session, event=event),
                                               timezone=event.timezone)
        assert csv_text.splitlines()[1].startswith("Wellbeing,Early nights,")

    before = _editable(database, event_id)
    assert "Wellbeing" in before.posted_themes
    index = next(n for n, entry in enumerate(before.document["prompts"]) if entry.get("name") == "Wellbeing")
    for change in (lambda: programme.put_own_prompt(before, index, name="Rest", text="x", at=None),
                   lambda: programme.remove_own_prompt(before, index)):
        with pytest.raises(programme.NotEditable, match="has been posted"):
            change()
    # A document without it (a file sent in, say) is refused too, and nothing is written.
    document = copy.deepcopy(before.document)
    document["prompts"] = [entry for entry in document["prompts"] if entry.get("name") != "Wellbeing"]
    with pytest.raises(programme.NotEditable, match="stays in the programme"):
        _apply(database, event_id, programme.Change(document, before.reminder_ids), "15:12")
    assert _editable(database, event_id).document == before.document

    # Next month's event asks the same question, not yet posted.
    assert run_of_show_slack.close_event(database, event_id=event_id, now=at("16:00"))
    with unit_of_work(database) as session:
        source = session.get_one(Event, event_id)
        details = events.EventDetails(title="Next month", starts_at=source.starts_at + timedelta(days=28),
                                      ends_at=source.ends_at + timedelta(days=28), timezone=source.timezone,
                                      evaluation_form_url=None, chairs=(), presenters=())
        copied = events.duplicate_event(session, source=source, details=details, organiser_slack_id=ORGANISER,
                                        now=at("16:30"))
        session.flush()
        own = session.query(ReflectionPrompt).filter_by(event_id=copied.id, name="Wellbeing").one()
        assert (own.theme, own.text, own.posted_at) == (None, "How will you rest?", None)
        assert own.scheduled_at == at("15:10") + timedelta(days=28)


def test_ten_own_prompts_with_long_words_fit_the_editor_and_the_form(database: Database, event_id: int) -> None:
    before = _editable(database, event_id)
    document = copy.deepcopy(before.document)
    document["prompts"] += [{"name": f"{n} " + "&" * 38, "text": "<" * 3000, "at": "15:00"} for n in range(10)]
    long = replace(before, document=document)
    view = blocks.editor(long, title="T" * 255, notice="n" * 3000)
    assert validate_view(view) == [] and len(view["blocks"]) <= 100
    assert sum(b.get("block_id", "").startswith("own-prompt-") for b in view["blocks"]) == 10
    assert validate_view(blocks.own_prompt_form(long, index=13, root_view_id="V1")) == []
    assert validate_view(blocks.own_prompt_form(long, index=None, root_view_id="V1")) == []

"""The run of show at the domain level: what is posted when, against the Slack double."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.db import Database, unit_of_work
from bot.models import Event, EventRole, EventStatus, ReflectionTheme, Role
from bot.programme.importing import ImportProblems, import_programme
from bot.programme.parsing import load_programme
from bot.run_of_show import rules as run_of_show
from bot.run_of_show import slack as run_of_show_slack
from bot.run_of_show.rules import RunOfShowError
from tests.apprunner import BOT_USER_ID
from tests.cast import ATTENDEES, CHAIR, CHANNEL, DAY, ORGANISER, PRESENTERS, at, seed_programme
from tests.posting import deliver
from tests.slackdouble import SlackDouble


def posted_texts(slack: SlackDouble) -> list[str]:
    return [m["text"] for m in slack.messages(CHANNEL)]


def tick(database: Database, client: WebClient, hhmm: str, *, seconds: int = 0) -> None:
    """A scheduler tick at a chosen time, then the outbox's sender at the same time."""
    now = at(hhmm) + timedelta(seconds=seconds)
    run_of_show_slack.run_due_work(database, client, now=now, exclude_from_attendees=frozenset({BOT_USER_ID}))
    deliver(database, client, now)


def test_import_resolves_people_and_writes_the_whole_programme(
    database: Database, event_id: int
) -> None:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        assert event.status == EventStatus.SCHEDULED
        assert event.starts_at == at("14:30")
        assert [s.title for s in event.segments][0] == "Welcome and introduction"
        assert len(event.segments) == 5
        assert {p.theme for p in event.prompts} == set(ReflectionTheme)
        assert len(event.housekeeping_notes) == 8
        roles = {(r.person.slack_user_id, r.role) for r in session.query(EventRole).filter_by(event_id=event_id)}
    assert (CHAIR, Role.CHAIR) in roles
    assert {(u, Role.PRESENTER) for u in PRESENTERS.values()} <= roles


def test_import_refuses_unknown_people_and_writes_nothing(
    database: Database, client: WebClient, tmp_path: Path
) -> None:
    path = seed_programme(DAY, tmp_path)
    path.write_text(path.read_text().replace("emma.rowan@example.org", "nobody@example.org"))
    with pytest.raises(ImportProblems) as caught:
        import_programme(database, client, load_programme(path), channel_id=CHANNEL, now=at("09:00"))
    assert "event.presenters: no Slack user nobody@example.org" in str(caught.value)
    with unit_of_work(database) as session:
        assert session.query(Event).count() == 0


def test_import_refuses_a_private_channel_the_bot_is_not_in(
    database: Database, client: WebClient, slack: SlackDouble, tmp_path: Path
) -> None:
    # A public one it joins itself (tests/test_setting_up.py).
    slack.add_channel("C0ELSEWHERE", "elsewhere", members=[CHAIR], is_private=True, bot_is_member=False)
    with pytest.raises(ImportProblems, match="/invite @eventbot"):
        import_programme(database, client, load_programme(seed_programme(DAY, tmp_path)), channel_id="C0ELSEWHERE",
                         now=at("09:00"))


def test_one_current_event_per_channel(
    database: Database, client: WebClient, event_id: int, tmp_path: Path
) -> None:
    with pytest.raises(ImportProblems, match="already has an event"):
        import_programme(database, client, load_programme(seed_programme(DAY, tmp_path)), channel_id=CHANNEL,
                         now=at("09:00"))


def test_scheduled_posts_fire_at_their_minute_and_never_twice(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    tick(database, client, "14:29", seconds=59)
    assert posted_texts(slack) == []

    tick(database, client, "14:30")
    tick(database, client, "14:30", seconds=5)  # the next tick finds the welcome's segment due
    texts = posted_texts(slack)
    assert texts[0].startswith("Welcome to Provider collaboratives")
    assert texts[1] == "Now: Welcome and introduction"

    tick(database, client, "14:39", seconds=55)
    assert len(posted_texts(slack)) == 2
    tick(database, client, "14:40")
    tick(database, client, "14:40", seconds=5)  # again: nothing is announced twice
    assert posted_texts(slack)[2].startswith("Now: Presentation one")
    assert len(posted_texts(slack)) == 3

    with unit_of_work(database) as session:
        attendees = {r.person.slack_user_id for r in session.query(EventRole).filter_by(event_id=event_id, role=Role.ATTENDEE)}
    assert set(ATTENDEES) <= attendees
    assert BOT_USER_ID not in attendees


def test_the_chairs_next_wins_and_later_posts_follow_the_chairs_pace(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    tick(database, client, "14:30")
    tick(database, client, "14:30", seconds=5)
    # Five minutes early, the chair moves on to presentation one (planned 14:40).
    segment = run_of_show_slack.announce_next_segment(database, event_id=event_id, now=at("14:35"),
                                                      by_chair=CHAIR).segment
    deliver(database, client, at("14:35"))
    assert segment is not None and segment.title.startswith("Presentation one")
    tick(database, client, "14:40")
    assert len([t for t in posted_texts(slack) if t.startswith("Now: Presentation one")]) == 1
    # The improvement prompt (planned 15:00) and presentation two (planned 15:05) move 5 minutes earlier.
    tick(database, client, "14:54", seconds=59)
    assert not any(t.startswith("Reflection") for t in posted_texts(slack))
    tick(database, client, "14:55")
    assert posted_texts(slack)[-1] == "Reflection: What are you hearing that relates to improvement?"
    tick(database, client, "15:00")
    assert posted_texts(slack)[-1].startswith("Now: Presentation two")
    # Now the chair is running late: Q&A (planned 15:30, due 15:25 at the earlier pace) is
    # called at 15:40, and the close segment (planned 15:50) follows 10 minutes later.
    with unit_of_work(database) as session:
        status = run_of_show.run_state(session, event=session.get_one(Event, event_id))
    assert status.next_segment is not None and status.next_segment_due == at("15:25")


def test_attendee_cannot_run_the_session(database: Database, event_id: int) -> None:
    from bot.events.people import NotAllowed
    from bot.events.rules import event_to_run

    with unit_of_work(database) as session, pytest.raises(NotAllowed, match="Only a chair or organiser"):
        event_to_run(session, workspace_id=session.get_one(Event, event_id).workspace_id, channel_id=CHANNEL,
                     slack_user_id=ATTENDEES[0], action="move the session on")


def test_prompts_post_once_by_command(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    with pytest.raises(RunOfShowError, match="not started"):
        run_of_show_slack.post_prompt(database, event_id=event_id, theme=ReflectionTheme.EQUITY, now=at("14:20"))
    run_of_show_slack.start_event(database, client, event_id=event_id, now=at("14:28"), by_chair=True)
    run_of_show_slack.post_prompt(database, event_id=event_id, theme=ReflectionTheme.EQUITY, now=at("14:31"))
    with pytest.raises(RunOfShowError, match="already been posted"):
        run_of_show_slack.post_prompt(database, event_id=event_id, theme=ReflectionTheme.EQUITY, now=at("14:32"))
    # Its scheduled time (15:40) passes without a second post.
    tick(database, client, "15:45")
    equity_posts = [t for t in posted_texts(slack) if "relates to equity" in t]
    assert len(equity_posts) == 1


def test_a_post_slack_fails_is_retried_and_appears_once(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    slack.fail_next("chat.postMessage", count=1, mode="http_500")
    tick(database, client, "14:30")
    assert posted_texts(slack) == []
    deliver(database, client, at("14:31"))  # after its backoff: the welcome, then its segment, once each
    assert [t[:20] for t in posted_texts(slack)] == ["Welcome to Provider ", "Now: Welcome and int"]
    deliver(database, client, at("14:35"))
    assert len(posted_texts(slack)) == 2


def test_a_post_slack_refuses_for_good_is_told_to_the_organisers_once(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    slack.fail_next("chat.postMessage", count=1, mode="error", error="is_archived")
    tick(database, client, "14:30")
    tick(database, client, "14:31")
    assert not any(t.startswith("Welcome to") for t in posted_texts(slack))
    told = [m["text"] for m in slack.dms(ORGANISER)]
    assert told == ["eventbot could not post the welcome for Provider collaboratives: improving equitably"]
    tick(database, client, "14:40")  # later posts are still made, and the organisers are not told again
    assert posted_texts(slack)[-1].startswith("Now: Presentation one")
    assert len(slack.dms(ORGANISER)) == 1


def test_close_counts_reflections_and_links_the_form(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int
) -> None:
    tick(database, client, "14:30")
    tick(database, client, "16:00")  # a process that was down for the rest of the afternoon
    tick(database, client, "16:00", seconds=5)
    close = slack.messages(CHANNEL)[-1]
    assert close["text"].startswith("Thank you for joining")
    blocks = str(close["blocks"])
    assert "Improvement: 0 reflections" in blocks
    assert "forms.example.org/provider-collaboratives-evaluation" in blocks
    assert "Thursday 28 March" in blocks
    assert run_of_show_slack.close_event(database, event_id=event_id, now=at("16:01")) is False


@pytest.mark.parametrize("mode", ["drop_after", "http_500_after"])
def test_a_post_slack_made_but_did_not_confirm_appears_once(
    database: Database, client: WebClient, slack: SlackDouble, event_id: int, mode: str
) -> None:
    slack.fail_next("chat.postMessage", count=1, mode=mode)  # Slack posts the welcome, the answer is lost
    tick(database, client, "14:30")
    deliver(database, client, at("14:31"))  # in doubt: found by its metadata, recorded, not posted again
    deliver(database, client, at("14:33"))
    texts = posted_texts(slack)
    assert [t[:20] for t in texts] == ["Welcome to Provider ", "Now: Welcome and int"]
    with unit_of_work(database) as session:
        assert session.get_one(Event, event_id).welcome_message_ts == slack.messages(CHANNEL)[0]["ts"]

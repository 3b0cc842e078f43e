"""The seed event, imported and run in Slack from welcome to close, as a chair and twelve attendees would."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import db
from bot.db import Database, unit_of_work
from bot.events.rules import EventDetails, create_event
from bot.models import AgendaSegment
from bot.workspaces import ensure_workspace
from tests.apprunner import TEAM_ID, RunningApp, eventbot_env, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, ORGANISER, seed_programme
from tests.slackdouble import SlackDouble


@pytest.fixture
def slack(slack: SlackDouble) -> SlackDouble:
    # Slack sends the app its own posts back as message events; it must ignore them.
    slack.echo_bot_messages = True
    return slack


def run_cli(*args: str, slack: SlackDouble, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=eventbot_env(api_url=slack.api_url, database_url=database_url),
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def imported(slack: SlackDouble, database_url: str, tmp_path: Path) -> str:
    migrate(database_url)
    programme = seed_programme(date.today() + timedelta(days=2), tmp_path)
    result = run_cli("event", "import", str(programme), "--channel", CHANNEL, slack=slack, database_url=database_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "minara.chowdhury@example.org is U0MINARA1" in result.stdout
    return database_url


@pytest.fixture
def app(slack: SlackDouble, imported: str, tmp_path: Path) -> Iterator[RunningApp]:
    running = start_eventbot("serve", api_url=slack.api_url, database_url=imported, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


def channel_texts(slack: SlackDouble) -> list[str]:
    return [m["text"] for m in slack.messages(CHANNEL)]


def last_reply(slack: SlackDouble, user: str) -> str:
    posts = [p for p in slack.response_url_posts if p.get("user_id", user) == user]
    return posts[-1]["text"] if posts else ""


def chair(slack: SlackDouble, text: str, user: str = CHAIR) -> str:
    before = len(slack.response_url_posts)
    response = slack.send_slash_command("/event", text, user_id=user, channel_id=CHANNEL)
    assert response.status == 200
    slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=15)
    reply = slack.response_url_posts[-1]
    return reply["text"] + "\n" + str(reply.get("blocks") or "")


def prompt_ts(slack: SlackDouble, theme_words: str) -> str:
    """The prompt's ts, once it is posted (the outbox posts it just after the chair is answered)."""
    def posted() -> str | None:
        for message in slack.messages(CHANNEL):
            if message["text"].startswith("Reflection:") and theme_words in message["text"]:
                return message["ts"]
        return None
    return slack.wait_for(posted, timeout=15)


def share_in_modal(slack: SlackDouble, user: str, ts: str, text: str, *, anonymous: bool) -> None:
    message = next(m for m in slack.messages(CHANNEL) if m["ts"] == ts)
    button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])
    slack.send_block_action(user_id=user, action_id=button["action_id"], value=button["value"],
                            channel_id=CHANNEL, message_ts=ts)
    slack.wait_for(lambda: slack.open_views(user), timeout=10)
    view = slack.open_views(user)[-1]
    values = {"reflection": {"value": text}}
    if anonymous:
        values["anonymous"] = {"value": ["anonymous"]}
    response = slack.submit_view(view["id"], user_id=user, values=values)
    assert response.status == 200 and not (response.json or {}).get("errors"), response.body


def test_the_seed_event_run_from_welcome_to_close(app: RunningApp, slack: SlackDouble) -> None:
    # An attendee cannot move the session on, and nothing changes when they try.
    refusal = chair(slack, "next", user=ATTENDEES[0])
    assert "Only a chair or organiser" in refusal
    assert channel_texts(slack) == []

    assert "has started" in chair(slack, "start")
    slack.wait_for(lambda: any(t.startswith("Now: Welcome") for t in channel_texts(slack)), timeout=15)
    # Two moves out of the programme's order of time: presentation one and two, now, back to back.
    assert "Announced: Presentation one" in chair(slack, "next")
    assert "Announced: Presentation two" in chair(slack, "next")
    assert "Prompts not yet posted" in chair(slack, "status")

    chair(slack, "prompt improvement")
    chair(slack, "prompt equity")
    improvement, equity = prompt_ts(slack, "improvement"), prompt_ts(slack, "equity")

    # Twelve people answer: eight in the threads, four privately (two of them anonymously).
    replies = {}
    for n, user in enumerate(ATTENDEES[:8]):
        thread = improvement if n % 2 == 0 else equity
        replies[user] = slack.user_posts(user, CHANNEL, f"Reflection {n} from {user} <!channel>", thread_ts=thread)
    for n, user in enumerate(ATTENDEES[8:]):
        share_in_modal(slack, user, equity if n % 2 else improvement, f"Private thought {n}", anonymous=n < 2)
    # Another app's bot replying in the thread (Slack sends it with a bot_id).
    slack.send_event({"type": "message", "subtype": "bot_message", "bot_id": "B0OTHER", "user": "U0OTHERBOT",
                      "text": "I am a bot and do not reflect", "channel": CHANNEL, "ts": "1999999999.000100",
                      "thread_ts": improvement, "channel_type": "channel"})
    slack.user_posts(ATTENDEES[0], CHANNEL, "Not in a prompt thread")
    slack.user_edits(ATTENDEES[1], CHANNEL, replies[ATTENDEES[1]]["ts"], "Edited: equity needs deliberate aims")
    slack.user_deletes(ATTENDEES[2], CHANNEL, replies[ATTENDEES[2]]["ts"])
    slack.drain()

    def digest_text() -> str:
        chair(slack, "reflections")
        return str(slack.response_url_posts[-1]["blocks"])

    slack.wait_for(lambda: "Edited: equity needs deliberate aims" in digest_text()
                   and "Reflection 2 from" not in digest_text(), timeout=20)
    digest = digest_text()
    assert "*Improvement* (5)" in digest and "*Equity* (6)" in digest
    assert "&lt;!channel&gt;" in digest and "<!channel>" not in digest
    assert "_anonymous_" in digest
    for anonymous_user in ATTENDEES[8:10]:
        assert anonymous_user not in digest
    assert "I am a bot" not in digest

    upload = slack.uploaded_files[-1]
    assert upload["channel_id"] == slack.im_channel(CHAIR)
    rows = list(csv.DictReader(io.StringIO(upload["content"].decode())))
    assert len(rows) == 11
    assert {r["author"] for r in rows if r["reflection"].startswith("Private thought 0")} == {"anonymous"}
    assert not any(anonymous_user in upload["content"].decode() for anonymous_user in ATTENDEES[8:10])

    assert "is closed" in chair(slack, "close")
    # The close follows the chair's answer through the outbox.
    slack.wait_for(lambda: channel_texts(slack)[-1].startswith("Thank you for joining"), timeout=15)
    texts = channel_texts(slack)
    assert texts[0].startswith("Welcome to Provider collaboratives")
    assert texts[1:4] == [
        "Now: Welcome and introduction",
        "Now: Presentation one: Delivering the Equity agenda through Quality Improvement",
        "Now: Presentation two: Open-Door Collaboration",
    ]
    assert texts[4:6] == [
        "Reflection: What are you hearing that relates to improvement?",
        "Reflection: What are you hearing that relates to equity?",
    ]
    assert texts[-1] == "Thank you for joining Provider collaboratives: improving equitably"
    assert len(texts) == 8  # the attendee's own top-level message is the seventh
    close_blocks = str(slack.messages(CHANNEL)[-1]["blocks"])
    assert "Improvement: 5 reflections" in close_blocks and "Equity: 6 reflections" in close_blocks
    assert "Collaborative working" not in close_blocks  # never prompted, so not counted
    assert "evaluation form" in close_blocks and "Thursday 28 March" in close_blocks
    # Once closed, nobody can move it on.
    assert "no event in this channel" in chair(slack, "next")


def test_setup_in_slack_then_a_refusal_for_attendees(app: RunningApp, slack: SlackDouble) -> None:
    slack.add_channel("C0NEWEVENT", "new-event", members=[ORGANISER, ATTENDEES[0]])
    response = slack.send_slash_command("/event", "setup", user_id=ORGANISER, channel_id="C0NEWEVENT")
    assert response.status == 200
    slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=10)
    view = slack.open_views(ORGANISER)[-1]
    bad = slack.submit_view(view["id"], user_id=ORGANISER, values={
        "title": {"value": "Next session"}, "date": {"value": "2031-03-30"}, "start": {"value": "01:30"},
        "end": {"value": "01:15"}, "timezone": {"value": "Europe/London"}, "evaluation_form_url": {"value": "not a url"},
    })
    assert bad.json["response_action"] == "errors"
    # Neither 01:30 nor 01:15 exists that night (the clocks skip 01:00-01:59): each is said on its own field.
    assert set(bad.json["errors"]) == {"start", "end", "evaluation_form_url"}
    assert "01:15 does not exist" in bad.json["errors"]["end"] and "01:30" in bad.json["errors"]["start"]
    good = slack.submit_view(view["id"], user_id=ORGANISER, values={
        "title": {"value": "Next session <!here>"}, "date": {"value": "2031-03-28"}, "start": {"value": "14:30"},
        "end": {"value": "16:00"}, "timezone": {"value": "Europe/London"},
        "chairs": {"value": [CHAIR]}, "evaluation_form_url": {"value": "https://forms.example.org/eval"},
    })
    assert good.status == 200 and good.json is None
    slack.wait_for(lambda: slack.ephemeral(channel_id="C0NEWEVENT", user_id=ORGANISER), timeout=10)
    confirmation = slack.ephemeral(channel_id="C0NEWEVENT", user_id=ORGANISER)[-1]["text"]
    assert "Next session &lt;!here&gt;" in confirmation and "<!here>" not in confirmation

    refused = slack.send_slash_command("/event", "setup", user_id=ATTENDEES[0], channel_id="C0NEWEVENT")
    assert refused.status == 200
    slack.wait_for(lambda: "Only a chair or organiser" in last_reply(slack, ATTENDEES[0]), timeout=10)
    assert "Only a chair or organiser of this event can change this event." in slack.response_url_posts[-1]["text"]


def _event_starting_soon(database_url: str, start_in: float, second_segment_in: float) -> None:
    engine = db.make_engine(database_url)
    database: Database = db.make_session_factory(engine)
    now = datetime.now(timezone.utc)
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id=TEAM_ID)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=ORGANISER,
                             details=EventDetails(title="Restart rehearsal", starts_at=now + timedelta(seconds=start_in),
                                                  ends_at=now + timedelta(hours=1), timezone="Europe/London",
                                                  evaluation_form_url=None, chairs=(CHAIR,), presenters=()))
        session.add(AgendaSegment(event_id=event.id, position=1, title="Opening", speakers=[],
                                  scheduled_at=now + timedelta(seconds=start_in)))
        session.add(AgendaSegment(event_id=event.id, position=2, title="After the restart", speakers=[],
                                  scheduled_at=now + timedelta(seconds=second_segment_in)))
    engine.dispose()


def test_scheduled_posts_survive_a_restart_between_them(slack: SlackDouble, database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    _event_starting_soon(database_url, start_in=1, second_segment_in=15)
    first = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    try:
        slack.wait_for(lambda: "Now: Opening" in channel_texts(slack), timeout=20)
    finally:
        os.kill(first.process.pid, signal.SIGKILL)  # no graceful shutdown: as a crash would be
        first.process.wait()
    assert "Now: After the restart" not in channel_texts(slack)
    second = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    try:
        slack.wait_for(lambda: "Now: After the restart" in channel_texts(slack), timeout=30)
        time.sleep(6)  # a tick later, still nothing twice
    finally:
        second.stop()
    texts = channel_texts(slack)
    assert texts.count("Welcome to Restart rehearsal") == 1
    assert texts.count("Now: Opening") == 1
    assert texts.count("Now: After the restart") == 1


def test_a_chair_holds_extends_and_resumes_and_a_second_chair_is_told_who_moved_on(
    app: RunningApp, slack: SlackDouble
) -> None:
    assert "has started" in chair(slack, "start")
    slack.wait_for(lambda: any(t.startswith("Now: Welcome") for t in channel_texts(slack)), timeout=15)

    held = chair(slack, "hold")
    assert "On hold" in held and "/event resume" in held and "The close at" in held
    assert "already on hold" in chair(slack, "hold")
    assert "On hold since" in chair(slack, "status")
    assert "By how many minutes?" in chair(slack, "extend soon")  # bad input: told how, nothing moves
    extended = chair(slack, "extend 10")
    assert "Welcome and introduction has 10 minutes more" in extended and "The close at" in extended
    assert "1 reminder timed from the close moves with it" in extended  # the seed's "at close" post moves too
    resumed = chair(slack, "resume")
    assert "Resumed after" in resumed and "Next: *Presentation one" in resumed
    assert "not on hold" in chair(slack, "resume")

    # The chair and the organiser both move the session on at once: one announcement, and the
    # second hears who made it, not "every agenda item has been announced".
    assert "Announced: Presentation one" in chair(slack, "next")
    second = chair(slack, "next", user=ORGANISER)
    assert f"was just announced by <@{CHAIR}>" in second and "Every agenda item" not in second
    # The announcement goes out through the outbox, just after the chair is answered.
    slack.wait_for(lambda: any(t.startswith("Now: Presentation one") for t in channel_texts(slack)), timeout=15)
    slack.drain()
    assert len([t for t in channel_texts(slack) if t.startswith("Now: Presentation one")]) == 1
    assert not any(t.startswith("Now: Presentation two") for t in channel_texts(slack))


def test_attendees_say_where_they_are_from_in_one_click_and_the_chair_sees_whose_voices_are_heard(
    app: RunningApp, slack: SlackDouble
) -> None:
    assert "has started" in chair(slack, "start")
    welcome = slack.wait_for(lambda: next((m for m in slack.messages(CHANNEL)
                                           if m["text"].startswith("Welcome to")), None), timeout=15)
    buttons = [e for b in welcome["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == [
        "Wye Valley NHS Trust", "Worcestershire Acute Hospitals NHS Trust", "George Eliot Hospital NHS Trust",
        "South Warwickshire University NHS Foundation Trust", "Prefer not to say"]
    for n, user in enumerate(ATTENDEES[:4]):
        before = len(slack.response_url_posts)
        button = buttons[0] if n < 3 else buttons[-1]
        slack.send_block_action(user_id=user, action_id=button["action_id"], value=button["value"],
                                channel_id=CHANNEL, message_ts=welcome["ts"])
        slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=10)
        said = slack.response_url_posts[-1]
        assert said["response_type"] == "ephemeral" and said.get("replace_original") is False
        assert ("Wye Valley NHS Trust" if n < 3 else "prefer not to say") in said["text"]
    # A guest from another workspace in this shared channel (Slack Connect) counts for the workspace they come from.
    slack.add_external_team("T0NHSENG", "NHS England")
    slack.add_user("U0GUEST01", "guest", team_id="T0NHSENG")
    slack.add_member(CHANNEL, "U0GUEST01")
    before = len(slack.response_url_posts)
    slack.send_block_action(user_id="U0GUEST01", action_id=buttons[1]["action_id"], value=buttons[1]["value"],
                            channel_id=CHANNEL, message_ts=welcome["ts"])
    slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=10)
    assert "your own workspace, *NHS England*" in slack.response_url_posts[-1]["text"]
    # The welcome itself is unchanged for everyone else.
    assert next(m for m in slack.messages(CHANNEL) if m["ts"] == welcome["ts"])["blocks"] == welcome["blocks"]
    assert "You count for *Wye Valley NHS Trust*" in chair(slack, "organisation", user=ATTENDEES[0])

    # An anonymous question from the modal that still counts for its asker's organisation.
    assert slack.send_slash_command("/ask", "", user_id=ATTENDEES[1], channel_id=CHANNEL).status == 200
    view = slack.wait_for(lambda: slack.open_views(ATTENDEES[1]), timeout=10)[-1]
    assert slack.submit_view(view["id"], user_id=ATTENDEES[1], values={
        "question": {"value": "How do smaller trusts get heard?"},
        "anonymous": {"value": ["anonymous", "share_organisation"]}}).status == 200
    slack.wait_for(lambda: any("smaller trusts" in t for t in channel_texts(slack)), timeout=10)

    assert "Fair ordering is on" in chair(slack, "fair on")
    assert "`/event fair on`" in chair(slack, "fair maybe")
    digest = chair(slack, "questions all")
    assert "keeping organisations varied" in digest
    assert "By organisation" in digest and "fewer than 3 people" in digest  # three from Wye Valley, one not said
    assert "*NHS England*: fewer than 3 people" in digest  # its own row, and too small to show figures
    assert ATTENDEES[1] not in digest  # the anonymous asker is not named anywhere

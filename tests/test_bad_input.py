"""Bad input, wherever it comes in: one clear line or message, nothing changed, no traceback, never a 5xx.

Each group below is one kind of bad input, tried at every door it can come through: the pure function
that should refuse it, the Slack modal or the `eventbot` command an organiser uses, and raw signed
HTTP requests such as a broken or hostile client could send. The app runs as `eventbot serve` (no
scheduler, so nothing else writes to the database) against the local Slack double, once per module
and backend; each test checks that the database's row counts did not move and that the server log
gained no traceback (a warning is fine).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.clock import to_utc
from bot.config import ConfigError, load_settings
from bot.db import unit_of_work
from bot.events.rules import FormProblems, details_from_form
from bot.models import Base, Event, EventStatus, ProcessedSlackEvent, Reminder, Workspace
from bot.programme.parsing import parse_programme
from bot.programme.schema import ProgrammeError
from bot.reminders.rules import local_due
from bot.reminders.timing import resolve_reminder_time
from tests.apprunner import SIGNING_SECRET, TEAM_ID, RunningApp, eventbot_env, start_eventbot
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.databases import scratch_postgres
from tests.reminder_world import CHANNEL, ORGANISER, attendee_ids, double, make_event, populate
from tests.slackdouble import SlackDouble

SETUP_CHANNEL = "C0NEWEVENT"
STRANGE_TEAM = "T0STRANGER"
FOLDER_ZONES = ["America", "Europe", "America/Argentina"]
OVERFLOWING_WHENS = ["99999999 hours after", "99999999 minutes after", "9999-12-31 23:59", "next day 99:99"]
SETTLE_SECONDS = 0.5  # time for a listener that runs after the ack to show what it did


# --- the running app, once per module and backend ---------------------------------------------


@dataclass
class World:
    slack: SlackDouble
    app: RunningApp
    database_url: str
    engine: Engine
    sessions: sessionmaker[Session]
    tmp: Path


@contextmanager
def empty_database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'eventbot-bad-input.sqlite3'}"
        return
    assert POSTGRES_URL is not None
    with scratch_postgres(POSTGRES_URL) as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bad-input")
    with empty_database(request.param, tmp) as database_url:
        db.upgrade(database_url)
        engine = db.make_engine(database_url)
        sessions = db.make_session_factory(engine)
        # A live event in CHANNEL run by ORGANISER, for the reminder modal; it also makes our own
        # workspace's row, so an unknown team's request is the only thing that could add another.
        make_event(sessions, attendees=attendee_ids(3), ends_at=datetime.now(timezone.utc) + timedelta(hours=1),
                   status=EventStatus.LIVE)
        slack = double().start()
        try:
            populate(slack, attendee_ids(3))
            slack.add_channel(SETUP_CHANNEL, "new-event", members=[ORGANISER])
            # This world's organiser is reminder_world's, not the cast's that eventbot_env names.
            app = start_eventbot("serve", "--no-scheduler", api_url=slack.api_url, database_url=database_url,
                                 log_dir=tmp, EVENTBOT_ORGANISERS=ORGANISER)
            slack.set_app_url(app.events_url)
            try:
                yield World(slack, app, database_url, engine, sessions, tmp)
            finally:
                app.stop()
            assert slack.internal_errors == []
        finally:
            slack.stop()
            engine.dispose()


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


class Watch:
    """What one test did to the database and the server log."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.counts = row_counts(world.engine)
        self.log_mark = len(world.app.log())

    def new_log(self) -> str:
        return self.world.app.log()[self.log_mark:]

    def assert_nothing_changed_and_no_traceback(self) -> None:
        time.sleep(SETTLE_SECONDS)
        assert row_counts(self.world.engine) == self.counts
        log = self.new_log()
        assert "Traceback" not in log, f"the server log gained a traceback: {last_line_of_traceback(log)}"
        assert self.world.app.process.poll() is None, "the server died"


@pytest.fixture
def watch(world: World) -> Watch:
    return Watch(world)


def last_line_of_traceback(text: str) -> str:
    """The exception a traceback ends with, so a failure reads as one line."""
    after = text[text.index("Traceback"):].splitlines()
    ends = [line for line in after if line and not line.startswith((" ", "\t", "Traceback")) and ":" in line]
    return ends[0] if ends else after[-1]


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    for stream in (result.stderr, result.stdout):
        assert "Traceback" not in stream, f"the command printed a traceback: {last_line_of_traceback(stream)}"


# --- signed requests, built by hand -----------------------------------------------------------


def signature(timestamp: str, body: bytes) -> str:
    """Slack's v0 signature over the timestamp exactly as sent (sign_request insists on an int)."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, content_type: str, *, timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp if timestamp is not None else str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature(timestamp, body)}


def slash_body(text: str, *, team_id: str = TEAM_ID, user_id: str = ORGANISER, channel_id: str = CHANNEL,
               response_url: str = "", command: str = "/event") -> bytes:
    return urllib.parse.urlencode({
        "command": command, "text": text, "team_id": team_id, "team_domain": "somewhere", "user_id": user_id,
        "user_name": "someone", "channel_id": channel_id, "channel_name": "general", "api_app_id": "A0EVENTBOT",
        "is_enterprise_install": "false", "response_url": response_url, "trigger_id": "1.2.3",
    }).encode()


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


# --- Slack modals, as an organiser fills them in ----------------------------------------------


def open_modal(slack: SlackDouble, subcommand: str, channel_id: str) -> dict:
    before = len(slack.calls_to("views.open"))
    assert slack.send_slash_command("/event", subcommand, user_id=ORGANISER, channel_id=channel_id).status == 200
    slack.wait_for(lambda: len(slack.calls_to("views.open")) > before and slack.open_views(ORGANISER), timeout=10)
    return slack.open_views(ORGANISER)[-1]


def submit_setup(world: World, **fields: str):  # type: ignore[no-untyped-def]
    view = open_modal(world.slack, "setup", SETUP_CHANNEL)
    values = {"title": "Next session", "date": "2031-03-28", "start": "14:30", "end": "16:00",
              "timezone": "Europe/London", **fields}
    return world.slack.submit_view(view["id"], user_id=ORGANISER, values={k: {"value": v} for k, v in values.items()})


def assert_field_error(response, *fields: str) -> None:  # type: ignore[no-untyped-def]
    """Slack shows a modal's field errors when the app answers 200 with response_action=errors."""
    assert response.status == 200, (response.status, response.body)
    assert isinstance(response.json, dict) and response.json.get("response_action") == "errors", (
        f"the modal was answered {response.body!r}: it closes and the organiser is told nothing")
    errors = response.json["errors"]
    assert set(errors) & set(fields), errors
    assert all(message and "\n" not in message and "Traceback" not in message for message in errors.values())


# --- programme files, from the command line ---------------------------------------------------


def programme(*, timezone_name: str = "Europe/London", day: str = "2031-02-26", start: str = "14:30",
              end: str = "16:00", reminder_when: str | None = None) -> str:
    reminder = f'\n[[reminders]]\nwhen = "{reminder_when}"\naudience = "channel"\ntext = "Please fill it in"\n' \
        if reminder_when else ""
    return f"""
[event]
title = "Bad input"
date = {day}
start = "{start}"
end = "{end}"
timezone = "{timezone_name}"

[[agenda]]
title = "Welcome"
start = "{start}"
kind = "welcome"
{reminder}"""


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "PORT", "EVENTBOT_"))}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env={**clean, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def assert_programme_refused(result: subprocess.CompletedProcess[str], path: Path, where: str) -> None:
    """`eventbot event plan|import` name the file and the place in it, in the usual problem list."""
    no_traceback(result)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].endswith("in the programme file:"), result.stderr
    assert any(str(path) in line and where in line for line in lines[1:]), result.stderr


# ==============================================================================================
# 1. A time zone that names a folder of the zone database ("America", "Europe")
# ==============================================================================================


@pytest.mark.parametrize("zone", FOLDER_ZONES)
def test_a_folder_is_not_a_time_zone_for_to_utc(zone: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        to_utc(date(2031, 2, 26), "14:30", zone)


@pytest.mark.parametrize("zone", FOLDER_ZONES)
def test_a_folder_is_not_a_time_zone_in_the_setup_form_checks(zone: str) -> None:
    with pytest.raises(FormProblems) as caught:
        details_from_form(title="T", date="2031-02-26", start="14:30", end="16:00", timezone=zone,
                          evaluation_form_url=None)
    assert set(caught.value.problems) == {"timezone"}


@pytest.mark.parametrize("zone", FOLDER_ZONES)
def test_a_folder_is_not_a_time_zone_in_a_programme(zone: str) -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(programme(timezone_name=zone), source="x.toml")
    assert [problem.where for problem in caught.value.problems] == ["x.toml: event.timezone"]


@pytest.mark.parametrize("zone", FOLDER_ZONES)
def test_a_folder_is_not_a_default_time_zone(zone: str) -> None:
    with pytest.raises(ConfigError, match="EVENTBOT_DEFAULT_TIMEZONE"):
        load_settings({"EVENTBOT_DEFAULT_TIMEZONE": zone})


def test_a_folder_as_default_time_zone_stops_the_command_in_one_line(tmp_path: Path) -> None:
    result = run_cli("db", "current", cwd=tmp_path, EVENTBOT_DEFAULT_TIMEZONE="America",
                     DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    no_traceback(result)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "EVENTBOT_DEFAULT_TIMEZONE" in lines[0], result.stderr


@pytest.mark.parametrize("zone", ["America", "Europe"])
def test_a_folder_from_a_slack_profile_falls_back_to_the_events_zone(zone: str) -> None:
    """A recipient's `tz` comes from Slack's users.info: anything unusable there means the event's zone."""
    event = Event(timezone="Europe/London", ends_at=datetime(2031, 2, 26, 16, tzinfo=timezone.utc))
    assert local_due(event, "10:00", zone) == datetime(2031, 2, 27, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("zone", ["America", "Europe"])
def test_a_folder_in_the_setup_modal_is_a_field_error(world: World, watch: Watch, zone: str) -> None:
    response = submit_setup(world, timezone=zone)
    assert_field_error(response, "timezone")
    watch.assert_nothing_changed_and_no_traceback()


@pytest.mark.parametrize("command", ["plan", "import"])
def test_a_folder_in_a_programme_file_is_one_problem(world: World, watch: Watch, command: str) -> None:
    path = world.tmp / f"zone-folder-{command}.toml"
    path.write_text(programme(timezone_name="America"))
    extra = ("--channel", CHANNEL) if command == "import" else ()
    result = run_cli("event", command, str(path), *extra, cwd=world.tmp,
                     **eventbot_env(api_url=world.slack.api_url, database_url=world.database_url))
    assert_programme_refused(result, path, "event.timezone")
    watch.assert_nothing_changed_and_no_traceback()


# ==============================================================================================
# 2. Reminder times (and event dates) that overflow
# ==============================================================================================


@pytest.mark.parametrize("when", OVERFLOWING_WHENS + ["99999999999999999999999 hours after", "0001-01-01 00:00"])
@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York", "Asia/Tokyo"])
def test_resolving_an_impossible_reminder_time_is_a_value_error(when: str, zone: str) -> None:
    """The one error the form and the programme parser both catch: never OverflowError."""
    ends = datetime(2031, 2, 26, 16, tzinfo=timezone.utc)
    try:
        resolve_reminder_time(when, event_ends_at=ends, timezone=zone)
    except ValueError:
        pass
    except Exception as error:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{when!r} in {zone} raised {type(error).__name__}: {error}")


@pytest.mark.parametrize("when", OVERFLOWING_WHENS)
def test_an_overflowing_reminder_time_in_the_modal_is_a_field_error(world: World, when: str) -> None:
    view_opened = open_modal(world.slack, "remind", CHANNEL)
    watch = Watch(world)  # after opening: only the submission must change nothing
    response = world.slack.submit_view(view_opened["id"], user_id=ORGANISER, values={
        "when": {"value": when}, "audience": {"value": "dm"},
        "text": {"value": "Please fill in the evaluation form: {form_url}"}})
    assert_field_error(response, "when")
    with unit_of_work(world.sessions) as session:
        assert session.scalars(select(Reminder.due_at).where(Reminder.when_spec == when)).all() == []
    watch.assert_nothing_changed_and_no_traceback()


@pytest.mark.parametrize("when", OVERFLOWING_WHENS)
def test_an_overflowing_reminder_time_in_a_programme_file_is_one_problem(tmp_path: Path, when: str) -> None:
    path = tmp_path / "reminder.toml"
    path.write_text(programme(reminder_when=when))
    result = run_cli("event", "plan", str(path), cwd=tmp_path)
    assert_programme_refused(result, path, "reminders[1].when")


@pytest.mark.parametrize(("zone", "day"), [("America/New_York", "9999-12-31"), ("Asia/Tokyo", "0001-01-01")])
def test_an_event_at_the_end_of_time_in_a_programme_file_is_one_problem(tmp_path: Path, zone: str, day: str) -> None:
    path = tmp_path / "end-of-time.toml"
    path.write_text(programme(timezone_name=zone, day=day, start="01:00", end="23:30"))
    result = run_cli("event", "plan", str(path), cwd=tmp_path)
    assert_programme_refused(result, path, "event.")


def test_an_event_at_the_end_of_time_in_the_setup_modal_is_a_field_error(world: World, watch: Watch) -> None:
    response = submit_setup(world, date="9999-12-31", start="23:00", end="23:30", timezone="America/New_York")
    assert_field_error(response, "date", "start", "end")
    watch.assert_nothing_changed_and_no_traceback()


def test_the_modals_still_take_good_input(world: World) -> None:
    """The refusals above are about the values typed, not about how these tests fill the modals in."""
    view = open_modal(world.slack, "remind", CHANNEL)
    response = world.slack.submit_view(view["id"], user_id=ORGANISER, values={
        "when": {"value": "2 hours after"}, "audience": {"value": "dm"},
        "text": {"value": "Please fill in the evaluation form: {form_url}"}})
    assert response.status == 200 and response.json is None, response.body
    response = submit_setup(world, title="Good input", timezone="America/New_York")
    assert response.status == 200 and response.json is None, response.body
    with unit_of_work(world.sessions) as session:
        assert session.scalars(select(Reminder.when_spec).where(Reminder.when_spec == "2 hours after")).all()
        assert session.scalars(select(Event.timezone).where(Event.title == "Good input")).all() == ["America/New_York"]


# ==============================================================================================
# 3. Deeply nested TOML
# ==============================================================================================

DEEP_TOML = {
    "unclosed-arrays": "a = " + "[" * 100_000 + "\n",
    "unclosed-inline-tables": "a = " + "{b = " * 100_000 + "\n",
    "closed-arrays": "a = " + "[" * 2_000 + "]" * 2_000 + "\n",
    "closed-inline-tables": "a = " + "{b = " * 2_000 + "1" + "}" * 2_000 + "\n",
}


@pytest.mark.parametrize("text", DEEP_TOML.values(), ids=DEEP_TOML.keys())
def test_deep_nesting_is_a_programme_error(text: str) -> None:
    try:
        parse_programme(text, source="deep.toml")
    except ProgrammeError as error:
        assert len(error.problems) == 1
    except RecursionError:
        pytest.fail("tomllib's RecursionError escaped parse_programme")
    else:
        pytest.fail("deeply nested TOML was accepted")


@pytest.mark.parametrize("command", ["plan", "import"])
@pytest.mark.parametrize("shape", ["unclosed-arrays", "closed-inline-tables"])
def test_deep_nesting_in_a_programme_file_is_one_problem(world: World, watch: Watch, command: str, shape: str) -> None:
    path = world.tmp / f"deep-{shape}-{command}.toml"
    path.write_text(DEEP_TOML[shape])
    extra = ("--channel", CHANNEL) if command == "import" else ()
    result = run_cli("event", command, str(path), *extra, cwd=world.tmp,
                     **eventbot_env(api_url=world.slack.api_url, database_url=world.database_url))
    no_traceback(result)
    assert "RecursionError" not in result.stderr
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and str(path) in lines[1], result.stderr  # the heading and one problem
    watch.assert_nothing_changed_and_no_traceback()


# ==============================================================================================
# 4. A signature over a timestamp that is not a number
# ==============================================================================================


@pytest.mark.parametrize("timestamp", ["soon", "1.7e9", "17 00", "0x65"])
def test_a_non_numeric_timestamp_is_refused_401(world: World, watch: Watch, timestamp: str) -> None:
    body = slash_body("help")
    response = world.slack.send_raw(body, signed_headers(body, FORM, timestamp=timestamp))
    assert response.status == 401, (response.status, response.body)
    assert "Traceback" not in response.body
    watch.assert_nothing_changed_and_no_traceback()


def test_a_non_numeric_timestamp_without_a_signature_is_refused_401(world: World, watch: Watch) -> None:
    body = slash_body("help")
    response = world.slack.send_raw(body, {"Content-Type": FORM, "X-Slack-Request-Timestamp": "soon",
                                           "X-Slack-Signature": "v0=" + "0" * 64})
    assert response.status == 401, (response.status, response.body)
    watch.assert_nothing_changed_and_no_traceback()


# ==============================================================================================
# 5. A signed body that is neither form data nor JSON (or not a JSON object)
# ==============================================================================================

BAD_BODIES = {
    "binary-as-json": (b"\xff\xfe{{{", JSON),
    "binary-as-form": (b"\xff\xfe{{{", FORM),
    "binary-payload-as-form": (b"payload=\xff\xfe{{{", FORM),
    "broken-json": (b"{{{", JSON),
    "broken-json-as-form": (b"{{{", FORM),
    "form-payload-not-json": (b"payload=%7B%7B%7B", FORM),
    "json-array": (b"[1, 2]", JSON),
    "form-payload-json-array": (b"payload=%5B1%5D", FORM),
    "json-string": (b'"hello"', JSON),
}


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_signed_body_that_cannot_be_read_is_refused_400(world: World, watch: Watch, body: bytes,
                                                          content_type: str) -> None:
    response = world.slack.send_raw(body, signed_headers(body, content_type))
    assert response.status == 400, (response.status, response.body)
    assert "Traceback" not in response.body
    watch.assert_nothing_changed_and_no_traceback()


@pytest.mark.parametrize("name", ["binary-as-json", "broken-json"])
def test_an_unsigned_body_that_cannot_be_read_is_refused_before_it_is_read(world: World, watch: Watch,
                                                                           name: str) -> None:
    body, content_type = BAD_BODIES[name]
    response = world.slack.send_raw(body, {"Content-Type": content_type})
    assert response.status in (400, 401), (response.status, response.body)
    watch.assert_nothing_changed_and_no_traceback()


# ==============================================================================================
# 6. A correctly signed request from a workspace the app was not installed in
# ==============================================================================================


def strangers(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(Workspace.team_id).where(Workspace.team_id != TEAM_ID)).scalars())


def assert_refused(response, ephemeral_words: str = "not set up") -> None:  # type: ignore[no-untyped-def]
    assert response.status in (200, 401, 403), (response.status, response.body)
    if response.status == 200 and response.body.strip():
        assert isinstance(response.json, dict), response.body
        assert response.json.get("response_type", "ephemeral") == "ephemeral"
        assert ephemeral_words in json.dumps(response.json).lower(), response.body


@pytest.mark.parametrize("text", ["help", "setup", "remind", "status"])
def test_a_command_from_an_unknown_workspace_is_refused_and_leaves_no_row(world: World, watch: Watch,
                                                                         text: str) -> None:
    calls_before, posts_before = len(world.slack.calls), len(world.slack.response_url_posts)
    response_url = world.slack.new_response_url(channel_id=CHANNEL, user_id=ORGANISER)
    body = slash_body(text, team_id=STRANGE_TEAM, user_id="U0STRANGER", channel_id="C0STRANGE",
                      response_url=response_url)
    response = world.slack.send_raw(body, signed_headers(body, FORM))
    if response.status == 200:
        assert response.body.strip(), "a command must say why nothing happened, in the answer itself"
    assert_refused(response)
    assert strangers(world.engine) == []
    watch.assert_nothing_changed_and_no_traceback()
    # Nothing done in Slack on the stranger's behalf (no views.open, no posts); auth.test is our own.
    assert [call.method for call in world.slack.calls[calls_before:] if call.method != "auth.test"] == []
    assert len(world.slack.response_url_posts) == posts_before, world.slack.response_url_posts[-1]


def test_an_event_from_an_unknown_workspace_is_ignored_and_leaves_no_row(world: World, watch: Watch) -> None:
    calls_before = len(world.slack.calls)
    envelope = {
        "token": "x", "team_id": STRANGE_TEAM, "api_app_id": "A0EVENTBOT", "type": "event_callback",
        "event_id": "Ev0STRANGER1", "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": STRANGE_TEAM, "user_id": "U0STRANGEBOT",
                            "is_bot": True, "is_enterprise_install": False}],
        "event": {"type": "app_home_opened", "user": "U0STRANGER", "channel": "D0STRANGE", "tab": "home",
                  "event_ts": f"{int(time.time())}.000100"},
    }
    body = json.dumps(envelope).encode()
    response = world.slack.send_raw(body, signed_headers(body, JSON))
    assert response.status in (200, 401, 403), (response.status, response.body)
    assert strangers(world.engine) == []
    watch.assert_nothing_changed_and_no_traceback()
    assert [call.method for call in world.slack.calls[calls_before:] if call.method != "auth.test"] == []


def uninstall_envelope(event_type: str, team_id: str) -> bytes:
    """app_uninstalled and tokens_revoked: Bolt skips its authorize step for these two."""
    event: dict = {"type": event_type, "event_ts": f"{int(time.time())}.000200"}
    if event_type == "tokens_revoked":
        event["tokens"] = {"oauth": [], "bot": ["U0STRANGEBOT"]}
    return json.dumps({
        "token": "x", "team_id": team_id, "api_app_id": "A0EVENTBOT", "type": "event_callback",
        "event_id": f"Ev0{event_type.upper().replace('_', '')}{team_id}", "event_time": int(time.time()),
        "event": event,
    }).encode()


@pytest.mark.parametrize("event_type", ["app_uninstalled", "tokens_revoked"])
def test_an_uninstall_notice_from_an_unknown_workspace_leaves_no_row(world: World, watch: Watch,
                                                                    event_type: str) -> None:
    body = uninstall_envelope(event_type, STRANGE_TEAM)
    response = world.slack.send_raw(body, signed_headers(body, JSON))
    assert response.status == 200, (response.status, response.body)
    assert strangers(world.engine) == []
    watch.assert_nothing_changed_and_no_traceback()


@pytest.mark.parametrize("event_type", ["app_uninstalled", "tokens_revoked"])
def test_an_uninstall_notice_from_our_workspace_gets_past_the_check(world: World, event_type: str) -> None:
    log_mark = len(world.app.log())
    body = uninstall_envelope(event_type, TEAM_ID)
    response = world.slack.send_raw(body, signed_headers(body, JSON))
    assert response.status < 500, (response.status, response.body)
    # Bolt saw it (and recorded its event id, as for every event we serve): not turned away as a stranger's.
    event_id = json.loads(body)["event_id"]
    with unit_of_work(world.sessions) as session:
        assert session.scalars(select(ProcessedSlackEvent.team_id).where(ProcessedSlackEvent.event_id == event_id)
                               ).all() == [TEAM_ID]
    log = world.app.log()[log_mark:]
    assert "Traceback" not in log and "does not serve" not in log, log


def test_our_own_workspace_is_still_served(world: World) -> None:
    """The refusals above are about the team, not about hand-built requests."""
    body = slash_body("nonsense")  # answered in the acknowledgement itself: "…try /event help"
    response = world.slack.send_raw(body, signed_headers(body, FORM))
    assert response.status == 200 and "/event help" in response.body


# ==============================================================================================
# 7. Signed requests whose payload is not as Slack sends it, or not as eventbot made it
# ==============================================================================================

ATTENDEE = attendee_ids(3)[0]


def send_interaction(world: World, payload: dict):  # type: ignore[no-untyped-def]
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return world.slack.send_raw(body, signed_headers(body, FORM))


def send_envelope(world: World, envelope: dict):  # type: ignore[no-untyped-def]
    body = json.dumps(envelope).encode()
    return world.slack.send_raw(body, signed_headers(body, JSON))


def block_action(action_id: str, value: object, *, response_url: str | None) -> dict:
    payload = {
        "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": ATTENDEE, "team_id": TEAM_ID},
        "api_app_id": "A0EVENTBOT", "channel": {"id": CHANNEL}, "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL},
        "message": {"type": "message", "ts": "1700000000.000100", "text": "x"},
        "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": value}],
    }
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def replies_after(world: World, count: int) -> list[dict]:
    return world.slack.wait_for(lambda: world.slack.response_url_posts[count:], timeout=10)


def one_warning(watch: Watch, words: str) -> None:
    time.sleep(SETTLE_SECONDS)
    lines = [line for line in watch.new_log().splitlines() if words in line]
    assert len(lines) == 1 and " WARNING " in lines[0], watch.new_log()


MISSHAPEN = {
    "event-null": {"type": "event_callback", "team_id": TEAM_ID, "event": None},
    "event-user-a-number": {"type": "event_callback", "team_id": TEAM_ID,
                            "event": {"type": "member_joined_channel", "user": 5, "channel": CHANNEL}},
    "event-channel-a-number": {"type": "event_callback", "team_id": TEAM_ID,
                               "event": {"type": "member_joined_channel", "user": ATTENDEE, "channel": 5}},
    "team-id-a-number": {"type": "event_callback", "team_id": 5,
                         "event": {"type": "app_home_opened", "user": ATTENDEE}},
    "event-id-a-list": {"type": "event_callback", "team_id": TEAM_ID, "event_id": ["Ev1"],
                        "event": {"type": "app_home_opened", "user": ATTENDEE}},
    "no-actions": {"type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": ATTENDEE}, "actions": []},
    "view-without-type": {"type": "view_submission", "team": {"id": TEAM_ID}, "user": {"id": ATTENDEE},
                          "view": {"callback_id": "question_ask", "private_metadata": "{}"}},
}


@pytest.mark.parametrize("envelope", MISSHAPEN.values(), ids=MISSHAPEN.keys())
def test_a_signed_body_not_shaped_as_slack_sends_it_is_refused_400_in_one_line(world: World, watch: Watch,
                                                                               envelope: dict) -> None:
    response = send_envelope(world, envelope)
    assert response.status == 400, (response.status, response.body)
    one_warning(watch, "not shaped as Slack sends it")
    watch.assert_nothing_changed_and_no_traceback()


def test_a_slash_command_without_its_channel_is_refused_400(world: World, watch: Watch) -> None:
    body = urllib.parse.urlencode({"command": "/ask", "text": "", "team_id": TEAM_ID, "user_id": ATTENDEE}).encode()
    response = world.slack.send_raw(body, signed_headers(body, FORM))
    assert response.status == 400, (response.status, response.body)
    watch.assert_nothing_changed_and_no_traceback()


TAMPERED_BUTTONS = {
    "upvote-empty": ("question_upvote", ""),
    "upvote-word": ("question_upvote", "abc"),
    "upvote-null": ("question_upvote", None),
    "upvote-past-postgres-integer": ("question_upvote", str(2**31)),
    "upvote-past-2**63": ("question_upvote", "9" * 23),
    "moderation-a-number-too-large": ("question_answered_live", 2**70),
    "cancel-reminder-empty": ("reminder_cancel", ""),
    "share-reflection-word": ("share_reflection", "abc"),
    "completed-event-past-2**63": ("evaluation_completed", json.dumps({"event_id": 2**70})),
    "completed-not-json": ("evaluation_completed", "{event_id: 1}"),
    "completed-no-event": ("evaluation_completed", "{}"),
}


@pytest.mark.parametrize(("action_id", "value"), TAMPERED_BUTTONS.values(), ids=TAMPERED_BUTTONS.keys())
def test_a_tampered_button_is_answered_as_out_of_date(world: World, watch: Watch, action_id: str,
                                                      value: object) -> None:
    seen = len(world.slack.response_url_posts)
    response_url = world.slack.new_response_url(channel_id=CHANNEL, user_id=ATTENDEE)
    response = send_interaction(world, block_action(action_id, value, response_url=response_url))
    assert response.status == 200, (response.status, response.body)
    reply = replies_after(world, seen)[0]
    assert reply.get("ok") and "That form or button is out of date" in reply["text"], reply
    watch.assert_nothing_changed_and_no_traceback()


def test_a_button_without_a_response_url_is_answered_in_an_ephemeral_message(world: World, watch: Watch) -> None:
    seen = len(world.slack.ephemeral(CHANNEL, ATTENDEE))
    response = send_interaction(world, block_action("question_upvote", "abc", response_url=None))
    assert response.status == 200, (response.status, response.body)
    told = world.slack.wait_for(lambda: world.slack.ephemeral(CHANNEL, ATTENDEE)[seen:], timeout=10)
    assert "out of date" in told[0]["text"]
    watch.assert_nothing_changed_and_no_traceback()


def ask_form(metadata: object, *, user: dict | None = None) -> dict:
    return {
        "type": "view_submission", "team": {"id": TEAM_ID}, "api_app_id": "A0EVENTBOT",
        **({"user": user} if user is not None else {}),
        "view": {"id": "V0TAMPERED1", "type": "modal", "callback_id": "question_ask", "private_metadata": metadata,
                 "state": {"values": {"question": {"value": {"type": "plain_text_input", "value": "Why?"}}}}},
    }


@pytest.mark.parametrize("metadata", ["", "not json", "[]", "null", json.dumps({"channel_id": 5}),
                                      json.dumps({"question_id": 1})])
def test_a_form_with_tampered_private_metadata_is_a_field_error(world: World, watch: Watch, metadata: str) -> None:
    response = send_interaction(world, ask_form(metadata, user={"id": ATTENDEE}))
    assert_field_error(response, "question")
    assert "out of date" in response.json["errors"]["question"]
    watch.assert_nothing_changed_and_no_traceback()


def test_a_form_that_does_not_say_who_sent_it_is_a_field_error(world: World, watch: Watch) -> None:
    response = send_interaction(world, ask_form(json.dumps({"channel_id": CHANNEL})))
    assert_field_error(response, "question")
    assert "which person" in response.json["errors"]["question"]
    watch.assert_nothing_changed_and_no_traceback()


def test_a_form_slack_will_not_open_is_explained(world: World, watch: Watch) -> None:
    seen = len(world.slack.response_url_posts)
    response_url = world.slack.new_response_url(channel_id=CHANNEL, user_id=ATTENDEE)
    # "1.2.3" is no trigger Slack gave out: views.open refuses it, as it does one that expired.
    body = slash_body("", command="/ask", user_id=ATTENDEE, response_url=response_url)
    response = world.slack.send_raw(body, signed_headers(body, FORM))
    assert response.status == 200, (response.status, response.body)
    reply = replies_after(world, seen)[0]
    assert "I could not open the form (invalid_trigger_id)" in reply["text"], reply
    watch.assert_nothing_changed_and_no_traceback()


def test_a_home_tab_slack_refuses_is_one_line_in_the_log(world: World, watch: Watch) -> None:
    world.slack.fail_next("views.publish", mode="error", error="internal_error")
    response = send_envelope(world, {"type": "event_callback", "team_id": TEAM_ID,
                                     "event": {"type": "app_home_opened", "user": ATTENDEE, "tab": "home"}})
    assert response.status == 200, (response.status, response.body)
    one_warning(watch, "would not show")
    watch.assert_nothing_changed_and_no_traceback()


@pytest.mark.parametrize("event", [
    {"type": "member_joined_channel", "user": None, "channel": CHANNEL},
    {"type": "member_joined_channel", "user": ATTENDEE},
    {"type": "message", "channel": CHANNEL, "user": ATTENDEE, "text": "hi", "thread_ts": "not-a-ts",
     "ts": "1700000000.000200"},
    {"type": "message", "subtype": "message_changed", "channel": CHANNEL, "message": {"user": ATTENDEE, "text": ""}},
    {"type": "message", "subtype": "message_deleted", "channel": CHANNEL},
], ids=["joined-nobody", "joined-nowhere", "reply-to-no-message", "edit-of-no-message", "deletion-of-no-message"])
def test_an_event_missing_what_it_is_about_is_dropped_in_one_line(world: World, watch: Watch, event: dict) -> None:
    # No event_id: a handled one is recorded, which would count as a change here.
    response = send_envelope(world, {"type": "event_callback", "team_id": TEAM_ID, "event": event})
    assert response.status == 200, (response.status, response.body)
    one_warning(watch, "ignored a")
    watch.assert_nothing_changed_and_no_traceback()


def test_a_very_long_unknown_subcommand_is_answered_with_a_short_part_of_it(world: World, watch: Watch) -> None:
    body = slash_body("x" * 2950)
    response = world.slack.send_raw(body, signed_headers(body, FORM))
    assert response.status == 200 and isinstance(response.json, dict), response.body
    assert response.json["text"].startswith("I don't know `/event xxx") and "…`" in response.json["text"]
    assert len(response.json["text"]) < 200
    watch.assert_nothing_changed_and_no_traceback()


# ==============================================================================================
# 8. Migration commands when the database cannot be reached
# ==============================================================================================

UNREACHABLE = {
    "postgresql-port-1": "postgresql://postgres@127.0.0.1:1/nope",
    "sqlite-missing-folder": "sqlite:////nonexistent-eventbot-folder/eventbot.sqlite3",
}


@pytest.mark.parametrize("command", [("db", "upgrade"), ("db", "current"), ("db", "downgrade", "base")],
                         ids=["upgrade", "current", "downgrade"])
@pytest.mark.parametrize("url", UNREACHABLE.values(), ids=UNREACHABLE.keys())
def test_migration_commands_name_an_unreachable_database_in_one_line(tmp_path: Path, command: tuple[str, ...],
                                                                    url: str) -> None:
    result = run_cli(*command, cwd=tmp_path, DATABASE_URL=url)
    no_traceback(result)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("eventbot: ") and "DATABASE_URL" in lines[0], result.stderr

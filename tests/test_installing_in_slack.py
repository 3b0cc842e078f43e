"""Adding eventbot to a workspace through "Add to Slack" (OAuth v2), and two workspaces running
events side by side without seeing each other's: against `eventbot serve` and a Slack double that
plays one distributed app installed in several workspaces (tests/slackdouble/distribution.py).

Both workspaces have the same channel and user ids on purpose (Slack Connect shares a channel's id
between workspaces): every lookup by a Slack id must be scoped to the workspace the request came from.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from bot import db
from bot.db import unit_of_work
from bot.installations import ROTATE_WITHIN_MINUTES
from bot.models import Event, Question, Reflection, Workspace
from bot.rehearsal import cast
from bot.slack.messages import NOT_INSTALLED_HERE
from tests.apprunner import SIGNING_SECRET, RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHANNEL, ORGANISER
from tests.slackdouble import SlackDouble
from tests.slackdouble.distribution import SlackPlatform

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "0c11e47c11e47c11e47c11e47c11e47c"
NORTH, SOUTH = "T0NORTH", "T0SOUTH"
TOKEN_KEY = Fernet.generate_key().decode()
FORM: dict[str, Any] = {
    "date": {"value": "2031-03-28"}, "start": {"value": "14:30"}, "end": {"value": "16:00"},
    "timezone": {"value": "Europe/London"}, "evaluation_form_url": {"value": "https://forms.example.org/eval"},
}


@pytest.fixture
def platform() -> Iterator[SlackPlatform]:
    platform = SlackPlatform(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, signing_secret=SIGNING_SECRET,
                             redirect_urls=[]).start()
    for team_id, name in ((NORTH, "North Trust"), (SOUTH, "South Trust")):
        cast(platform.add_workspace(team_id, bot_user_id="U0EVENTBOT", bot_id="B0EVENTBOT", team_name=name))
    yield platform
    assert platform.internal_errors == []
    platform.stop()


@pytest.fixture
def app(platform: SlackPlatform, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    running = start_eventbot("serve", api_url=platform.api_url, database_url=database_url, log_dir=tmp_path,
                             SLACK_BOT_TOKEN="", SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
                             EVENTBOT_TOKEN_KEY=TOKEN_KEY)
    # The app's OAuth & Permissions page lists where Slack may send a person back to.
    platform.redirect_urls.append(running.base_url + "/slack/oauth_redirect")
    platform.set_app_url(running.events_url)
    yield running
    running.stop()


def get(url: str, *, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    """A browser's GET that does not follow redirects, so the test sees where it is sent."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=15)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                           headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        connection.close()


def start_install(app: RunningApp) -> tuple[str, str]:
    """Someone opens /slack/install: sent on to Slack's "Allow" page, with the state in a cookie."""
    status, headers, _ = get(app.base_url + "/slack/install")
    assert status == 302, status
    return headers["location"], headers["set-cookie"].split(";")[0]


def install(app: RunningApp, platform: SlackPlatform, team_id: str, user_id: str = ORGANISER) -> str:
    """Add to Slack, Allow, back to eventbot: the page the person lands on."""
    authorize, cookie = start_install(app)
    back = platform.approve(authorize, team_id=team_id, user_id=user_id)
    status, _, page = get(back, cookie=cookie)
    assert status == 200, page
    return page


def setup_event(slack: SlackDouble, title: str) -> None:
    assert slack.send_slash_command("/event", "setup", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    view = slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=10)[-1]
    response = slack.submit_view(view["id"], user_id=ORGANISER, values={**FORM, "title": {"value": title}})
    assert response.status == 200 and response.slack_error is None and not response.json, response.body
    slack.wait_for(lambda: any("is set up for this channel" in m["text"]
                               for m in slack.ephemeral(channel_id=CHANNEL, user_id=ORGANISER)), timeout=10)


def run(slack: SlackDouble, command: str, user: str = ORGANISER) -> str:
    """A chair's /event command; the private answer's text and blocks."""
    before = len(slack.response_url_posts)
    assert slack.send_slash_command("/event", command, user_id=user, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=15)
    reply = slack.response_url_posts[-1]
    return reply["text"] + "\n" + str(reply.get("blocks") or "")


def texts(slack: SlackDouble) -> str:
    return "\n".join(m["text"] for m in slack.messages(CHANNEL, include_replies=True))


def run_an_event(slack: SlackDouble, name: str) -> None:
    """Set up, start, one question, one prompt and one reflection in its thread."""
    setup_event(slack, f"{name} session")
    assert "has started" in run(slack, "start")
    slack.wait_for(lambda: f"{name} session" in texts(slack), timeout=15)
    assert slack.send_slash_command("/ask", f"A {name} question?", user_id=ATTENDEES[0],
                                    channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: f"A {name} question?" in str([m.get("blocks") for m in slack.messages(CHANNEL)]),
                   timeout=15)
    run(slack, "prompt improvement")
    prompt = slack.wait_for(lambda: next((m["ts"] for m in slack.messages(CHANNEL)
                                          if m["text"].startswith("Reflection:")), None), timeout=15)
    slack.user_posts(ATTENDEES[1], CHANNEL, f"A {name} reflection", thread_ts=prompt)
    slack.drain()
    slack.wait_for(lambda: f"A {name} reflection" in run(slack, "reflections"), timeout=15)


def test_a_second_workspace_installs_through_oauth_and_neither_sees_the_other(
    app: RunningApp, platform: SlackPlatform, database_url: str
) -> None:
    north, south = platform.workspace(NORTH), platform.workspace(SOUTH)
    # Before any install nothing is served, and the person is told why.
    assert north.send_slash_command("/event", "help", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    told = north.wait_for(lambda: north.response_url_posts, timeout=10)
    assert told[-1]["text"] == NOT_INSTALLED_HERE and north.calls_to("chat.postMessage") == []

    install(app, platform, NORTH)
    run_an_event(north, "North")
    install(app, platform, SOUTH)
    run_an_event(south, "South")

    # Each workspace's posts carry its own event only, though the channel and people have the same ids.
    assert "North" in texts(north) and "South" not in texts(north)
    assert "South" in texts(south) and "North" not in texts(south)
    north_reflections, south_reflections = run(north, "reflections"), run(south, "reflections")
    assert "A North reflection" in north_reflections and "South" not in north_reflections
    assert "A South reflection" in south_reflections and "North" not in south_reflections
    north_top = north.send_slash_command("/ask", "top", user_id=ATTENDEES[2], channel_id=CHANNEL)
    south_top = south.send_slash_command("/ask", "top", user_id=ATTENDEES[2], channel_id=CHANNEL)
    assert "South" not in str(north_top.json) + str(north.response_url_posts[-1:])
    assert "North" not in str(south_top.json) + str(south.response_url_posts[-1:])

    # The first workspace goes on working after the second arrived.
    assert "Prompts not yet posted" in run(north, "status") or "Now:" in run(north, "status")

    # Every call reached the workspace whose token it carried: two tokens, one per workspace.
    exchanges = [e["answer"] for e in platform.exchanges]
    assert [e["team"]["id"] for e in exchanges] == [NORTH, SOUTH]
    north_token, south_token = (e["access_token"] for e in exchanges)
    assert north_token != south_token

    engine = db.make_engine(database_url)
    try:
        with unit_of_work(db.make_session_factory(engine)) as session:
            teams = dict(session.execute(select(Workspace.id, Workspace.team_id)).all())
            assert sorted(teams.values()) == [NORTH, SOUTH]
            events = {teams[e.workspace_id]: e.title for e in session.scalars(select(Event))}
            assert events == {NORTH: "North session", SOUTH: "South session"}
            questions = {teams[session.get_one(Event, q.event_id).workspace_id]: q.text
                         for q in session.scalars(select(Question))}
            assert questions == {NORTH: "A North question?", SOUTH: "A South question?"}
            assert sorted(r.text for r in session.scalars(select(Reflection))) == [
                "A North reflection", "A South reflection"]
            # No token is kept in clear text: not the install's, not the bot's.
            stored = session.execute(text("SELECT bot_token FROM slack_bots UNION ALL "
                                          "SELECT bot_token FROM slack_installations")).scalars().all()
    finally:
        engine.dispose()
    assert len(stored) == 4 and all(value and not value.startswith("xox") for value in stored)
    assert north_token not in app.log() and south_token not in app.log()
    assert "Traceback" not in app.log(), app.log()


def test_a_code_is_used_once_and_a_wrong_state_installs_nothing(
    app: RunningApp, platform: SlackPlatform, database_url: str
) -> None:
    authorize, cookie = start_install(app)
    back = platform.approve(authorize, team_id=NORTH, user_id=ORGANISER)
    # A state eventbot never issued (a forged link) is refused before Slack is asked anything.
    forged = back.replace("state=", "state=forged")
    assert get(forged, cookie=cookie)[0] >= 400
    assert platform.exchanges == []
    assert get(back, cookie=cookie)[0] == 200
    # The same link again: the state was used up with the code, and Slack would refuse the code.
    assert get(back, cookie=cookie)[0] >= 400
    assert [e["answer"].get("error") for e in platform.exchanges] == [None]


def install_rows(database_url: str) -> list[str]:
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as connection:
            return sorted(connection.execute(text("SELECT team_id FROM slack_bots UNION ALL "
                                                  "SELECT team_id FROM slack_installations")).scalars())
    finally:
        engine.dispose()


def test_removing_the_app_from_one_workspace_forgets_its_install_and_leaves_the_other_alone(
    app: RunningApp, platform: SlackPlatform, database_url: str
) -> None:
    north, south = platform.workspace(NORTH), platform.workspace(SOUTH)
    install(app, platform, NORTH)
    install(app, platform, SOUTH)
    assert install_rows(database_url) == [NORTH, NORTH, SOUTH, SOUTH]

    assert [answer.status for answer in north.uninstall_app()] == [200, 200]
    north.wait_for(lambda: install_rows(database_url) == [SOUTH, SOUTH], timeout=10)
    # Someone in the workspace that removed it is told it is not installed; the other goes on.
    assert north.send_slash_command("/event", "help", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    assert north.wait_for(lambda: north.response_url_posts, timeout=10)[-1]["text"] == NOT_INSTALLED_HERE
    assert "/event setup" in run(south, "help")

    # Added again, it is served again with a new token.
    install(app, platform, NORTH)
    assert "/event setup" in run(north, "help")
    assert install_rows(database_url) == [NORTH, NORTH, SOUTH, SOUTH]
    log = app.log()
    assert "install rows deleted: 2" in log and "Traceback" not in log, log


def test_with_token_rotation_an_ageing_token_is_refreshed_once_and_the_work_goes_on(
    app: RunningApp, platform: SlackPlatform, database_url: str
) -> None:
    north = platform.workspace(NORTH)
    # The install's token is within the refresh window already; the refreshed one is good for 12 hours.
    platform.token_rotation, platform.token_lifetime_seconds = True, (ROTATE_WITHIN_MINUTES - 30) * 60
    install(app, platform, NORTH)
    platform.token_lifetime_seconds = 12 * 3600
    first = platform.exchanges[0]["answer"]["access_token"]

    assert "/event setup" in run(north, "help")
    refreshed = [e["answer"] for e in platform.exchanges if e["args"].get("grant_type") == "refresh_token"]
    assert [answer.get("error") for answer in refreshed] == [None]
    assert refreshed[0]["access_token"] != first
    # Later requests, the scheduler's jobs and the outbox all use the refreshed token: no second refresh.
    run_an_event(north, "North")
    assert len([e for e in platform.exchanges if e["args"].get("grant_type") == "refresh_token"]) == 1
    assert "Traceback" not in app.log(), app.log()

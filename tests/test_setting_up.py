"""Setting events up: who may, the channel it needs, the form link, and changing chairs and presenters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.db import Database, unit_of_work
from bot.events import people
from bot.events.rules import (
    FORM_LINK_RULE,
    EventDetails,
    FormProblems,
    NoEventHere,
    create_event,
    details_from_form,
    update_event,
)
from bot.events.slack import ChannelUnavailable, WhoMayOrganise, check_before_saving, ensure_in_channel
from bot.models import Event, EventStatus, Role
from bot.programme.importing import ImportProblems, import_programme
from bot.programme.parsing import load_programme
from bot.workspaces import ensure_workspace
from tests.apprunner import BOT_USER_ID, TEAM_ID
from tests.cast import ATTENDEES, CHAIR, CHANNEL, DAY, ORGANISER, PRESENTERS, at, seed_programme
from tests.slackdouble import SlackDouble

MINARA, ALI = PRESENTERS["minara.chowdhury@example.org"], PRESENTERS["ali.bolton@example.org"]
ADMIN, OWNER, GROUPIE = "U0ADMIN01", "U0OWNER01", "U0GROUPIE"
GROUP = "S0ORGANISE"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack(slack: SlackDouble) -> SlackDouble:
    slack.add_user(ADMIN, "admin", is_admin=True)
    slack.add_user(OWNER, "owner", is_primary_owner=True)
    slack.add_user(GROUPIE, "groupie")
    slack.add_usergroup(GROUP, "event-organisers", members=[GROUPIE])
    return slack


# --- the form link -----------------------------------------------------------------------------------


def form(url: str) -> EventDetails:
    return details_from_form(title="Next session", date="2031-03-28", start="14:30", end="16:00",
                             timezone="Europe/London", evaluation_form_url=url)


@pytest.mark.parametrize("url", [
    "http://forms.example.org/eval", "forms.example.org/eval", "ftp://forms.example.org/eval",
    "https://localhost/eval", "https://forms.example.org/an eval", "https://[forms.example.org/eval",
    "https://forms.example.org/" + "x" * 2000,
])
def test_the_form_link_must_be_an_https_web_address(url: str) -> None:
    with pytest.raises(FormProblems) as caught:
        form(url)
    assert caught.value.problems == {"evaluation_form_url": FORM_LINK_RULE}
    assert "https://" in FORM_LINK_RULE and "http:// links are not accepted" in FORM_LINK_RULE


def test_an_https_form_link_is_kept() -> None:
    assert form(" https://forms.example.org/eval?id=1 ").evaluation_form_url == "https://forms.example.org/eval?id=1"
    assert form("").evaluation_form_url is None


# --- changing chairs and presenters ------------------------------------------------------------------


def details(*, chairs: tuple[str, ...], presenters: tuple[str, ...]) -> EventDetails:
    start = datetime(2031, 3, 28, 14, 30, tzinfo=timezone.utc)
    return EventDetails(title="Next session", starts_at=start, ends_at=start + timedelta(hours=1),
                        timezone="Europe/London", evaluation_form_url=None, chairs=chairs, presenters=presenters)


def roles(database: Database, event_id: int) -> set[tuple[str, Role]]:
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        return {(r.person.slack_user_id, r.role) for r in event.roles}


def test_taking_people_out_of_the_form_takes_their_roles_away(database: Database) -> None:
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id=TEAM_ID)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=ORGANISER,
                             details=details(chairs=(ORGANISER, CHAIR), presenters=(MINARA, ALI)))
        people.add_attendees(session, event=event, slack_user_ids=[ATTENDEES[0], CHAIR])
        event_id = event.id
    with unit_of_work(database) as session:
        update_event(session, event=session.get_one(Event, event_id),
                     details=details(chairs=(ATTENDEES[1],), presenters=(ALI,)), now=at("09:00"))
    assert roles(database, event_id) == {
        (ORGANISER, Role.ORGANISER),  # who set it up stays its organiser, though no longer a chair
        (ATTENDEES[1], Role.CHAIR),
        (ALI, Role.PRESENTER),
        (ATTENDEES[0], Role.ATTENDEE),  # attendees are untouched, the former chair's attendance too
        (CHAIR, Role.ATTENDEE),
    }
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        with pytest.raises(people.NotAllowed):
            people.require_runner(session, event=event, slack_user_id=CHAIR, action="move it on")
        people.require_runner(session, event=event, slack_user_id=ORGANISER, action="move it on")


# --- who may organise --------------------------------------------------------------------------------


def test_admins_owners_and_the_named_may_organise_and_nobody_else(slack: SlackDouble, client: WebClient) -> None:
    who = WhoMayOrganise(named=[ORGANISER], group_id=GROUP)
    for allowed in (ORGANISER, ADMIN, OWNER, GROUPIE):
        who.require(client, allowed)
    with pytest.raises(people.NotAnOrganiser) as caught:
        who.require(client, ATTENDEES[0])
    message = str(caught.value)
    assert message.startswith("Only workspace admins, owners and the organisers named by your Slack admin "
                              "(the <!subteam^S0ORGANISE> group) can set up events.")
    assert message.endswith(f"Ask one of them: <@{ORGANISER}> or <@{GROUPIE}>.")
    assert not WhoMayOrganise().may_organise(client, CHAIR)


def test_the_named_list_needs_no_slack_call(slack: SlackDouble, client: WebClient) -> None:
    assert WhoMayOrganise(named=[ORGANISER]).may_organise(client, ORGANISER)
    assert slack.calls_to("users.info") == [] and slack.calls_to("usergroups.users.list") == []


def test_slacks_answers_are_remembered_for_five_minutes(slack: SlackDouble, client: WebClient) -> None:
    clock = FakeClock()
    who = WhoMayOrganise(group_id=GROUP, clock=clock)
    for _ in range(3):
        assert who.may_organise(client, ADMIN) and who.may_organise(client, GROUPIE)
    assert len(slack.calls_to("users.info")) == 2  # once each for ADMIN and GROUPIE
    assert len(slack.calls_to("usergroups.users.list")) == 1
    slack.add_user(ADMIN, "admin")  # no longer an admin
    slack.add_usergroup(GROUP, "event-organisers", members=[])
    clock.now += 299
    assert who.may_organise(client, ADMIN) and who.may_organise(client, GROUPIE)
    clock.now += 2
    assert not who.may_organise(client, ADMIN) and not who.may_organise(client, GROUPIE)


def test_a_group_slack_will_not_list_leaves_admins_and_the_named(slack: SlackDouble, client: WebClient) -> None:
    who = WhoMayOrganise(named=[ORGANISER], group_id="S0NOSUCH")
    assert who.may_organise(client, ADMIN) and who.may_organise(client, ORGANISER)
    assert not who.may_organise(client, GROUPIE)
    slack.usergroups_available = False
    assert not WhoMayOrganise(group_id=GROUP).may_organise(client, GROUPIE)


def test_a_failed_users_info_is_not_remembered(slack: SlackDouble, client: WebClient) -> None:
    who = WhoMayOrganise()
    slack.fail_next("users.info", mode="error", error="fatal_error")
    assert not who.may_organise(client, ADMIN)
    assert who.may_organise(client, ADMIN)


def test_a_refusal_names_few_people_or_says_whom_to_ask() -> None:
    few = people.organiser_refusal(organisers=["U1"], group_id=None)
    assert few.endswith("Ask one of them: <@U1>.") and "group" not in few
    many = people.organiser_refusal(organisers=[f"U{n}" for n in range(6)], group_id=None)
    assert "<@" not in many and many.endswith("Ask a workspace admin to set it up, or to name you as an organiser.")
    grouped = people.organiser_refusal(organisers=[], group_id="S1")
    assert grouped.endswith("Ask someone in <!subteam^S1> or a workspace admin to set it up, or to add you.")


# --- the channel -------------------------------------------------------------------------------------


def test_eventbot_joins_a_public_channel_and_leaves_one_it_is_in_alone(slack: SlackDouble, client: WebClient) -> None:
    ensure_in_channel(client, CHANNEL)
    assert slack.calls_to("conversations.join") == []
    slack.add_channel("C0PUBLIC", "public", members=[ORGANISER], bot_is_member=False)
    ensure_in_channel(client, "C0PUBLIC")
    assert [c.args["channel"] for c in slack.calls_to("conversations.join")] == ["C0PUBLIC"]
    assert client.conversations_info(channel="C0PUBLIC")["channel"]["is_member"] is True


@pytest.mark.parametrize(("channel", "reason", "words"), [
    ("G0PRIVATE", "hidden", "/invite @eventbot"),
    ("C0ARCHIVED", "archived", "#archived is archived"),
    ("C0NOSUCH", "hidden", "/invite @eventbot"),
])
def test_a_channel_eventbot_cannot_join_says_why(
    slack: SlackDouble, client: WebClient, channel: str, reason: str, words: str
) -> None:
    slack.add_channel("G0PRIVATE", "private", members=[ORGANISER], is_private=True, bot_is_member=False)
    slack.add_channel("C0ARCHIVED", "archived", members=[ORGANISER], is_archived=True, bot_is_member=False)
    with pytest.raises(ChannelUnavailable) as caught:
        ensure_in_channel(client, channel)
    assert caught.value.reason == reason and words in str(caught.value)
    assert all(not c.response or not c.response.get("ok") for c in slack.calls_to("conversations.join"))


def test_a_channel_slack_refuses_to_join_says_what_slack_said(slack: SlackDouble, client: WebClient) -> None:
    slack.add_channel("C0PUBLIC", "public", members=[ORGANISER], bot_is_member=False)
    slack.fail_next("conversations.join", mode="error", error="missing_scope")
    with pytest.raises(ChannelUnavailable, match=r"Slack would not let me join #public \(missing_scope\)") as caught:
        ensure_in_channel(client, "C0PUBLIC")
    assert (caught.value.reason, caught.value.slack_error) == ("refused", "missing_scope")


# --- saving ------------------------------------------------------------------------------------------


def test_saving_checks_again_and_joins_nothing_for_someone_who_may_not(
    database: Database, slack: SlackDouble, client: WebClient
) -> None:
    slack.add_channel("C0PUBLIC", "public", members=[ADMIN, ATTENDEES[0]], bot_is_member=False)
    clock = FakeClock()
    who = WhoMayOrganise(clock=clock)
    who.require(client, ADMIN)  # the form opens
    slack.add_user(ADMIN, "admin")  # an admin no longer, while the form is open
    clock.now += 301
    for person in (ADMIN, ATTENDEES[0]):
        with pytest.raises(people.NotAnOrganiser, match="nothing was saved") as caught:
            check_before_saving(database, client, who_may_organise=who, workspace_id=1, channel_id="C0PUBLIC",
                                event_id=None, slack_user_id=person)
        assert "<@" not in str(caught.value)  # the form shows it as plain text
    assert slack.calls_to("conversations.join") == []


def test_saving_a_change_needs_a_runner_of_that_event(
    database: Database, slack: SlackDouble, client: WebClient
) -> None:
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id=TEAM_ID)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=ORGANISER,
                             details=details(chairs=(CHAIR,), presenters=()))
        workspace_id, event_id = workspace.id, event.id
    who = WhoMayOrganise()
    # An admin who is no runner of this event may not change it: events belong to their organisers.
    with pytest.raises(people.NotAllowed, match="Only a chair or organiser of this event"):
        check_before_saving(database, client, who_may_organise=who, workspace_id=workspace_id, channel_id=CHANNEL,
                            event_id=event_id, slack_user_id=ADMIN)
    check_before_saving(database, client, who_may_organise=who, workspace_id=workspace_id, channel_id=CHANNEL,
                        event_id=event_id, slack_user_id=CHAIR)
    # Closed while the form was open: refused before eventbot joins anything for it.
    slack.add_channel("C0PUBLIC", "public", members=[CHAIR], bot_is_member=False)
    with unit_of_work(database) as session:
        session.get_one(Event, event_id).status = EventStatus.CLOSED
    with pytest.raises(NoEventHere, match="has closed"):
        check_before_saving(database, client, who_may_organise=who, workspace_id=workspace_id,
                            channel_id="C0PUBLIC", event_id=event_id, slack_user_id=CHAIR)
    assert slack.calls_to("conversations.join") == []


# --- programme files ---------------------------------------------------------------------------------


def test_import_joins_a_public_channel_itself(
    database: Database, slack: SlackDouble, client: WebClient, tmp_path: Path
) -> None:
    slack.add_channel("C0ELSEWHERE", "elsewhere", members=[CHAIR], bot_is_member=False)
    imported = import_programme(database, client, load_programme(seed_programme(DAY, tmp_path)),
                                channel_id="C0ELSEWHERE", now=at("09:00"))
    assert imported.channel_id == "C0ELSEWHERE"
    assert BOT_USER_ID in [m for p in client.conversations_members(channel="C0ELSEWHERE") for m in p["members"]]


@pytest.mark.parametrize(("private", "archived", "words"), [
    (True, False, "type `/invite @eventbot` there first"),
    (False, True, "#elsewhere is archived"),
])
def test_import_refuses_a_channel_eventbot_cannot_join_and_writes_nothing(
    database: Database, slack: SlackDouble, client: WebClient, tmp_path: Path, private: bool, archived: bool,
    words: str,
) -> None:
    slack.add_channel("C0ELSEWHERE", "elsewhere", members=[CHAIR], is_private=private, is_archived=archived,
                      bot_is_member=False)
    with pytest.raises(ImportProblems) as caught:
        import_programme(database, client, load_programme(seed_programme(DAY, tmp_path)),
                         channel_id="C0ELSEWHERE", now=at("09:00"))
    assert "--channel C0ELSEWHERE: " in str(caught.value) and words in str(caught.value)
    with unit_of_work(database) as session:
        assert session.query(Event).count() == 0

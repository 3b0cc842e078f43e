"""Events in Slack: who may set one up, the channel it needs, the transactions behind the setup
form and the console, and enrolling a channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.db import Database, unit_of_work
from bot.errors import UserError
from bot.events import people
from bot.events.rules import (
    CURRENT_STATUSES,
    EventDetails,
    FormProblems,
    NoEventHere,
    audiences,
    create_event,
    current_event,
    event_to_run,
    moving_problems,
    update_event,
)
from bot.models import Event, Person, Role

logger = logging.getLogger(__name__)


# Admin flags and the organisers' group change rarely, while one setup asks twice (opening the form,
# saving it) and a busy morning asks many times: remembering answers for five minutes keeps that to
# one users.info per person and one usergroups.users.list (Tier 2, about 20 a minute) per process,
# and a newly named organiser or admin waits at most that long.
ORGANISER_CACHE_SECONDS = 300.0


class WhoMayOrganise:
    """Who may set an event up in a channel that has none.

    Workspace admins and owners (users.info), the people named in EVENTBOT_ORGANISERS, and the
    members of the user group EVENTBOT_ORGANISER_GROUP (usergroups.users.list). One per app, so
    its memory of Slack's answers is shared by every request.
    """

    def __init__(
        self, *, named: Iterable[str] = (), group_id: str | None = None,
        cache_seconds: float = ORGANISER_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.named = tuple(dict.fromkeys(named))
        self.group_id = group_id
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._admins: dict[str, tuple[float, bool]] = {}
        self._group: tuple[float, tuple[str, ...]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WhoMayOrganise:
        return cls(named=settings.organisers, group_id=settings.organiser_group)

    def may_organise(self, client: WebClient, slack_user_id: str) -> bool:
        # Cheapest first: the named list costs nothing, users.info is Tier 4, the group Tier 2.
        return (slack_user_id in self.named or self._is_workspace_admin(client, slack_user_id)
                or slack_user_id in self._group_members(client))

    def require(self, client: WebClient, slack_user_id: str) -> None:
        """Refuse, saying whom to ask, unless the person may set events up."""
        if not self.may_organise(client, slack_user_id):
            organisers = list(dict.fromkeys([*self.named, *self._group_members(client)]))
            raise people.NotAnOrganiser(people.organiser_refusal(organisers=organisers, group_id=self.group_id))

    def _fresh(self, remembered_at: float) -> bool:
        return self._clock() - remembered_at < self._cache_seconds

    def _is_workspace_admin(self, client: WebClient, slack_user_id: str) -> bool:
        with self._lock:
            remembered = self._admins.get(slack_user_id)
        if remembered is not None and self._fresh(remembered[0]):
            return remembered[1]
        try:
            user = client.users_info(user=slack_user_id)["user"]
        except SlackApiError as error:
            # Not remembered: a passing failure must not lock an admin out for five minutes.
            logger.warning("could not read %s from users.info: %s", slack_user_id, error.response.get("error"))
            return False
        answer = people.is_workspace_admin(user)
        with self._lock:
            self._admins[slack_user_id] = (self._clock(), answer)
        return answer

    def _group_members(self, client: WebClient) -> tuple[str, ...]:
        if self.group_id is None:
            return ()
        with self._lock:
            remembered = self._group
        if remembered is not None and self._fresh(remembered[0]):
            return remembered[1]
        try:
            members = tuple(client.usergroups_users_list(usergroup=self.group_id)["users"])
        except SlackApiError as error:
            # A wrong ID, a free plan or a missing scope will not mend itself within minutes, so the
            # empty answer is remembered too: the log says it once per period, not on every setup.
            logger.warning(
                "EVENTBOT_ORGANISER_GROUP %s: usergroups.users.list said %s (no_such_subteam: check the "
                "group ID; plan_upgrade_required: user groups need a paid Slack plan; missing_scope: "
                "reinstall the app with usergroups:read); only admins, owners and EVENTBOT_ORGANISERS "
                "may set events up", self.group_id, error.response.get("error"),
            )
            members = ()
        with self._lock:
            self._group = (self._clock(), members)
        return members


class ChannelUnavailable(UserError):
    """eventbot is not in the channel and cannot join it.

    `reason` is "hidden" (Slack shows eventbot no such channel: a private one it is not in, or a
    wrong ID), "private", "archived" or "refused" (any other answer, in `slack_error`).
    """

    def __init__(self, message: str, *, reason: str, slack_error: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.slack_error = slack_error


INVITE = "type `/invite @eventbot` in it, then try again"


def ensure_in_channel(client: WebClient, channel_id: str) -> None:
    """Make sure eventbot is in the channel: it joins a public one itself; a private one needs an invitation.

    Bots cannot join private channels (conversations.join answers method_not_supported_for_channel_type),
    and conversations.info does not even show one to a bot that is not in it (channel_not_found).
    """
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "channel_not_found":
            raise ChannelUnavailable(f"I cannot see this channel: if it is private, {INVITE}.",
                                     reason="hidden", slack_error=code) from None
        raise ChannelUnavailable(f"Slack would not show me this channel ({code}).", reason="refused",
                                 slack_error=code) from None
    name = f"#{channel['name']}" if channel.get("name") else "This conversation"
    if channel.get("is_archived"):
        raise ChannelUnavailable(f"{name} is archived, so no event can be held in it.", reason="archived")
    if channel.get("is_member"):
        return
    # Not is_channel: private channels made since 2021 have is_channel true as well as is_private.
    if channel.get("is_private") or channel.get("is_im") or channel.get("is_mpim"):
        raise ChannelUnavailable(f"{name} is private and I am not in it: {INVITE}.", reason="private")
    try:
        client.conversations_join(channel=channel_id)
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "method_not_supported_for_channel_type":
            raise ChannelUnavailable(f"{name} is private and I am not in it: {INVITE}.", reason="private",
                                     slack_error=code) from None
        if code == "is_archived":
            raise ChannelUnavailable(f"{name} is archived, so no event can be held in it.", reason="archived",
                                     slack_error=code) from None
        raise ChannelUnavailable(f"Slack would not let me join {name} ({code}): {INVITE}.", reason="refused",
                                 slack_error=code) from None
    logger.info("joined %s to hold an event there", channel_id)


def event_id_to_run(
    database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str, action: str,
    include_closed: bool = False,
) -> int:
    """`event_to_run` in a transaction of its own, for callers that go on to talk to Slack."""
    with unit_of_work(database) as session:
        return event_to_run(
            session, workspace_id=workspace_id, channel_id=channel_id, slack_user_id=slack_user_id,
            action=action, include_closed=include_closed,
        ).id


def audiences_of(database: Database, client: WebClient, *, who_may_organise: WhoMayOrganise, workspace_id: int,
                 slack_user_id: str, channel_id: str | None = None) -> frozenset[str]:
    """Which lines of help a person sees: "chairs" if they chair or organise the channel's event
    (any current event when no channel is given), "organisers" if they organise one or may set
    events up."""
    may_organise = who_may_organise.may_organise(client, slack_user_id)
    with unit_of_work(database) as session:
        return audiences(session, workspace_id=workspace_id, slack_user_id=slack_user_id, may_organise=may_organise,
                         channel_id=channel_id)


def setup_form_defaults(
    database: Database, client: WebClient, *, who_may_organise: WhoMayOrganise, workspace_id: int,
    channel_id: str, slack_user_id: str,
) -> tuple[int | None, Event | None, list[str], list[str]]:
    """What the setup form starts from: the channel's current event if the person may change it.

    In a channel with no event, only those `who_may_organise` may open the form (and become the
    event's organiser); only an event's own organisers and chairs may change one that exists.
    """
    with unit_of_work(database) as session:
        event = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
        if event is not None:
            people.require_runner(session, event=event, slack_user_id=slack_user_id, action="change this event")
            chairs = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.CHAIR)]
            presenters = [p.slack_user_id for p in people.people_with_role(session, event=event, role=Role.PRESENTER)]
            return event.id, event, chairs, presenters
    who_may_organise.require(client, slack_user_id)
    return None, None, [], []


def check_before_saving(
    database: Database, client: WebClient, *, who_may_organise: WhoMayOrganise, workspace_id: int,
    channel_id: str, event_id: int | None, slack_user_id: str,
) -> None:
    """What saving the setup form needs first: the person may still do it, and eventbot is in the channel.

    Checked again on saving because the form may have been open for a while: a setting, an admin
    flag or the event itself may have changed since it was opened. Nobody is joined to a channel
    on behalf of someone who may not set it up.
    """
    if event_id is None:
        try:
            who_may_organise.require(client, slack_user_id)
        except people.NotAnOrganiser:
            # The form shows errors as plain text, where the refusal's mentions would read as <@U…>.
            raise people.NotAnOrganiser(
                "You are not one of the people who may set up events, so nothing was saved. "
                "Ask a workspace admin to set it up, or to name you as an organiser."
            ) from None
    else:
        with unit_of_work(database) as session:
            _event_to_change(session, event_id=event_id, workspace_id=workspace_id, slack_user_id=slack_user_id)
    ensure_in_channel(client, channel_id)


def save_setup(
    database: Database, *, workspace_id: int, channel_id: str, event_id: int | None,
    slack_user_id: str, details: EventDetails, now: datetime,
) -> Event:
    """Create the channel's event, or change it when the form was opened on an existing one."""
    with unit_of_work(database) as session:
        if event_id is None:
            if problems := moving_problems(None, details, now=now):
                raise FormProblems(problems)
            return create_event(session, workspace_id=workspace_id, channel_id=channel_id,
                                organiser_slack_id=slack_user_id, details=details)
        event = _event_to_change(session, event_id=event_id, workspace_id=workspace_id, slack_user_id=slack_user_id)
        return update_event(session, event=event, details=details, now=now)


def _event_to_change(session: Session, *, event_id: int, workspace_id: int, slack_user_id: str) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.workspace_id != workspace_id or event.status not in CURRENT_STATUSES:
        raise NoEventHere("That event has closed or been removed, so it cannot be changed.")
    people.require_runner(session, event=event, slack_user_id=slack_user_id, action="change this event")
    return event


def enrol_joiner(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str) -> bool:
    """Make someone who joined a channel an attendee of its current event, if it has one."""
    with unit_of_work(database) as session:
        event = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
        if event is None:
            return False
        people.add_attendees(session, event=event, slack_user_ids=[slack_user_id])
        return True


def enrol_channel_members(
    database: Database, client: WebClient, *, event_id: int, channel_id: str, exclude: frozenset[str]
) -> None:
    """Everyone in the channel now (but the excluded, e.g. the app itself) is an attendee.

    Called when the session opens and before a reminder fans out; joiners are added as they come.
    """
    members: list[str] = []
    try:
        for page in client.conversations_members(channel=channel_id, limit=200):
            members.extend(page["members"])
    except SlackApiError as error:
        logger.warning("could not list members of %s: %s", channel_id, error.response.get("error"))
        return
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        people.add_attendees(session, event=event, slack_user_ids=[m for m in members if m not in exclude])


# --- people's profiles ---------------------------------------------------------------------------------

# users.info answers are trusted this long before eventbot asks again.
PROFILE_MAX_AGE = timedelta(hours=12)
PROFILE_LOOKUP_THREADS = 8


@dataclass(frozen=True)
class Profile:
    timezone: str | None
    is_bot: bool
    is_deleted: bool
    display_name: str | None


def _look_up(client: WebClient, slack_user_id: str) -> Profile | None:
    try:
        user = client.users_info(user=slack_user_id)["user"]
    except SlackApiError as error:
        if error.response.get("error") in ("user_not_found", "users_not_found"):
            return Profile(timezone=None, is_bot=False, is_deleted=True, display_name=None)
        logger.warning("users.info %s: %s", slack_user_id, error.response.get("error"))
        return None  # unknown: keep whatever we knew
    except OSError as error:
        logger.warning("users.info %s: %s", slack_user_id, error)
        return None
    profile = user.get("profile") or {}
    return Profile(
        timezone=user.get("tz") or None,
        is_bot=bool(user.get("is_bot")) or user.get("id") == "USLACKBOT",
        is_deleted=bool(user.get("deleted")),
        display_name=shown_name(user),
    )


def shown_name(user: dict) -> str | None:
    """The name to show in plain text (menus, CSVs, reports): the full name people are known by at a
    professional event, else the short display name, else the username."""
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    for name in (user.get("real_name"), profile.get("real_name"), profile.get("display_name"), user.get("name")):
        if isinstance(name, str) and name.strip():
            return name.strip()[:255]
    return None


def profile_changed(database: Database, *, workspace_id: int, user: dict) -> bool:
    """Slack's `user_change`: a person eventbot knows is renamed, moved zone or deactivated.

    Nobody new is added (a workspace's every profile edit arrives here); False if not known.
    """
    slack_user_id = user.get("id")
    if not isinstance(slack_user_id, str):
        return False
    name = shown_name(user)
    with unit_of_work(database) as session:
        person = session.scalar(select(Person).where(Person.workspace_id == workspace_id,
                                                     Person.slack_user_id == slack_user_id))
        if person is None:
            return False
        if name:
            person.display_name = name
        if isinstance(user.get("tz"), str) and user["tz"]:
            person.timezone = user["tz"][:64]
        person.is_deleted = bool(user.get("deleted"))
    return True


def refresh_profiles(database: Database, client: WebClient, *, workspace_id: int,
                     slack_user_ids: list[str], now: datetime, max_age: timedelta = PROFILE_MAX_AGE) -> int:
    """Ask Slack (users.info) about people whose time zone, bot flag or deactivation is not fresh."""
    with unit_of_work(database) as session:
        stale = list(session.scalars(
            select(Person.slack_user_id).where(
                Person.workspace_id == workspace_id, Person.slack_user_id.in_(slack_user_ids),
                or_(Person.profile_refreshed_at.is_(None), Person.profile_refreshed_at < now - max_age))))
    if not stale:
        return 0
    with ThreadPoolExecutor(max_workers=PROFILE_LOOKUP_THREADS, thread_name_prefix="users-info") as pool:
        found = dict(zip(stale, pool.map(lambda uid: _look_up(client, uid), stale)))
    with unit_of_work(database) as session:
        for person in session.scalars(select(Person).where(
                Person.workspace_id == workspace_id, Person.slack_user_id.in_([u for u, p in found.items() if p]))):
            profile = found[person.slack_user_id]
            assert profile is not None
            person.timezone = profile.timezone or person.timezone
            person.is_bot = profile.is_bot
            person.is_deleted = profile.is_deleted
            # Slack's name wins: a name typed into a programme file may be out of date.
            person.display_name = profile.display_name or person.display_name
            person.profile_refreshed_at = now
    return sum(1 for profile in found.values() if profile)

"""Events in Slack: who may set one up, the channel it needs, the transactions behind the setup
form and the console, and enrolling a channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import home_tabs
from bot.clock import utcnow
from bot.config import Settings
from bot.db import Database, unit_of_work
from bot.errors import UserError
from bot.events import people, posts
from bot.events import rules as events
from bot.events.people import Profile
from bot.events.rules import (
    CURRENT_STATUSES,
    EventDetails,
    FormProblems,
    NoEventHere,
    audiences,
    create_event,
    current_event,
    event_to_run,
    latest_event,
    moving_problems,
    update_event,
)
from bot.models import Event, Person, Role

logger = logging.getLogger(__name__)

# Reminders timed from the close follow an event whose close moved. That rule belongs to the
# reminders, which build on this domain, so whoever changes an event hands it in.
FollowClose = Callable[..., object]


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


def event_id_to_read(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str, action: str,
                     on: date | None, usage: str) -> int:
    """The event a digest or report is about (`event_to_read`), if the person may run it."""
    with unit_of_work(database) as session:
        event = events.event_to_read(session, workspace_id=workspace_id, channel_id=channel_id, on=on, usage=usage)
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action=action)
        return event.id


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
    slack_user_id: str, details: EventDetails, now: datetime, follow_close: FollowClose | None = None,
) -> Event:
    """Create the channel's event, or change it when the form was opened on an existing one.

    `follow_close` (the reminders' rule, which this domain cannot import) runs in the same
    transaction: a form answered "saved" never leaves reminders timed from the old close.
    """
    with unit_of_work(database) as session:
        if event_id is None:
            if problems := moving_problems(None, details, now=now):
                raise FormProblems(problems)
            event = create_event(session, workspace_id=workspace_id, channel_id=channel_id,
                                 organiser_slack_id=slack_user_id, details=details)
        else:
            event = _event_to_change(session, event_id=event_id, workspace_id=workspace_id,
                                     slack_user_id=slack_user_id)
            event = update_event(session, event=event, details=details, now=now)
        session.flush()
        if follow_close is not None:
            follow_close(session, event=event)
        home_tabs.refresh_event(session, event_id=event.id, now=now)
        return event


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


# Members asked for a page at a time (conversations.members, Tier 4): a 5,000-member channel is ten
# calls, and each page is enrolled in a few statements (people.BULK_ROWS).
MEMBERS_PAGE = 500


def enrol_channel_members(
    database: Database, client: WebClient, *, event_id: int, channel_id: str, exclude: frozenset[str]
) -> None:
    """Everyone in the channel now (but the excluded, e.g. the app itself) is an attendee.

    Called when the session opens and before a reminder fans out; joiners are added as they come.
    Every page is read before the one transaction that enrols them, which holds no Slack call.
    """
    members: list[str] = []
    try:
        for page in client.conversations_members(channel=channel_id, limit=MEMBERS_PAGE):
            members.extend(page["members"])
    except SlackApiError as error:
        logger.warning("could not list members of %s: %s", channel_id, error.response.get("error"))
        return
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        people.add_attendees(session, event=event, slack_user_ids=[m for m in members if m not in exclude])


# --- people's profiles ---------------------------------------------------------------------------------

# users.info answers are trusted this long before eventbot asks again; `user_change` events keep
# them fresh meanwhile.
PROFILE_MAX_AGE = timedelta(hours=12)
PROFILE_LOOKUP_THREADS = 8
# Above this many stale profiles, paging through users.list (Tier 2, about 20 calls a minute, up to
# USERS_LIST_PAGE people a call) is far quicker than users.info for each (Tier 4, about 100 a
# minute: 5,000 people would take 50 minutes).
USERS_INFO_AT_MOST = 50
USERS_LIST_PAGE = 500
# users.info answers stored a batch at a time, so a fan-out can start on the first ones.
USERS_INFO_BATCH = 100


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
    return profile_of(user)


def profile_of(user: dict) -> Profile:
    """A users.info or users.list `user`, or a `user_change` event's, as eventbot keeps it."""
    return Profile(
        timezone=user["tz"][:64] if isinstance(user.get("tz"), str) and user["tz"] else None,
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


def profile_changed(database: Database, *, workspace_id: int, user: dict, now: datetime | None = None) -> bool:
    """Slack's `user_change`: a person eventbot knows is renamed, moved zone or deactivated.

    The profile counts as fresh from then on, so a reminder's fan-out does not ask Slack again.
    Nobody new is added (a workspace's every profile edit arrives here); False if not known.
    """
    slack_user_id = user.get("id")
    if not isinstance(slack_user_id, str):
        return False
    with unit_of_work(database) as session:
        return bool(people.record_profiles(session, workspace_id=workspace_id, now=now or utcnow(),
                                           profiles={slack_user_id: profile_of(user)}))


def fresh_profiles(database: Database, client: WebClient, *, workspace_id: int, slack_user_ids: list[str],
                   now: datetime, max_age: timedelta = PROFILE_MAX_AGE) -> Iterator[list[str]]:
    """The people listed, in batches, each batch once its profiles (zone, bot, deactivated) are fresh.

    People whose profile is fresh come first, at once; then, for many stale ones, each page of
    users.list as it arrives; then users.info for the few left (a Slack Connect guest is in no page
    of users.list), a batch at a time. Every person listed is in exactly one batch: one Slack could
    not tell about keeps what was stored, and one eventbot has no row for comes last.
    """
    wanted = list(dict.fromkeys(slack_user_ids))
    with unit_of_work(database) as session:
        known, fresh = people.profiles_known(session, workspace_id=workspace_id, slack_user_ids=wanted,
                                             fresh_since=now - max_age)
    stale = [s for s in wanted if s in known and s not in fresh]
    if fresh:
        yield [s for s in wanted if s in fresh]
    if len(stale) > USERS_INFO_AT_MOST:
        left = set(stale)
        try:
            for page in client.users_list(limit=USERS_LIST_PAGE):
                profiles = {u["id"]: profile_of(u) for u in page.get("members") or []
                            if isinstance(u, dict) and isinstance(u.get("id"), str)}
                with unit_of_work(database) as session:
                    people.record_profiles(session, workspace_id=workspace_id, profiles=profiles, now=now)
                batch = [s for s in profiles if s in left]
                left.difference_update(batch)
                if batch:
                    yield batch
                if not left:
                    break
        except SlackApiError as error:
            logger.warning("users.list: %s; asking users.info instead", error.response.get("error"))
        except OSError as error:  # the client's retries of a dropped connection ran out
            logger.warning("users.list: %s; asking users.info instead", error)
        stale = [s for s in stale if s in left]
    for start in range(0, len(stale), USERS_INFO_BATCH):
        batch = stale[start:start + USERS_INFO_BATCH]
        with ThreadPoolExecutor(max_workers=PROFILE_LOOKUP_THREADS, thread_name_prefix="users-info") as pool:
            found = dict(zip(batch, pool.map(lambda uid: _look_up(client, uid), batch)))
        with unit_of_work(database) as session:
            people.record_profiles(session, workspace_id=workspace_id, now=now,
                                   profiles={s: profile for s, profile in found.items() if profile})
        yield batch
    unknown = [s for s in wanted if s not in known]
    if unknown:
        yield unknown


def refresh_profiles(database: Database, client: WebClient, *, workspace_id: int,
                     slack_user_ids: list[str], now: datetime, max_age: timedelta = PROFILE_MAX_AGE) -> None:
    """Ask Slack about people whose time zone, bot flag or deactivation is not fresh (see fresh_profiles)."""
    for _ in fresh_profiles(database, client, workspace_id=workspace_id, slack_user_ids=slack_user_ids, now=now,
                            max_age=max_age):
        pass


def name_the_unnamed(database: Database, client: WebClient, *, workspace_id: int, slack_user_ids: Iterable[str],
                     now: datetime) -> bool:
    """Learn the names (users.info) of people about to be written into a plain-text place (a CSV)
    whose name eventbot never learnt; True if any was. Attendees are enrolled from the channel's
    member list, which carries no names, and looking up a whole room at its start would cost
    hundreds of calls, so names are learnt when a file is about to show them."""
    wanted = list(dict.fromkeys(slack_user_ids))
    if not wanted:
        return False
    with unit_of_work(database) as session:
        unnamed = list(session.scalars(select(Person.slack_user_id).where(
            Person.workspace_id == workspace_id, Person.slack_user_id.in_(wanted), Person.display_name.is_(None),
            Person.is_deleted.is_(False))))
    if not unnamed:
        return False
    refresh_profiles(database, client, workspace_id=workspace_id, slack_user_ids=unnamed, now=now, max_age=timedelta(0))
    with unit_of_work(database) as session:
        return session.scalar(select(Person.id).where(
            Person.workspace_id == workspace_id, Person.slack_user_id.in_(unnamed),
            Person.display_name.is_not(None)).limit(1)) is not None


# --- events over time: cancel, postpone, duplicate -------------------------------------------------


def event_to_change_plans(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str,
                          action: str, refusal: str) -> Event:
    """The channel's coming event, if the person organises it (to `action`, "cancel") and it may
    still change (else the refusal says it cannot `refusal`, "be cancelled")."""
    with unit_of_work(database) as session:
        event = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
        if event is None:
            raise NoEventHere(f"There is no event coming up in this channel to {action}. `/event duplicate` sets "
                              "up the next one like the last.")
        events.require_organiser(session, event=event, slack_user_id=slack_user_id, action=f"{action} it")
        events.check_can_change_plans(event, action=refusal)
        session.expunge(event)
        return event


def _organised_event(session: Session, *, workspace_id: int, event_id: int, slack_user_id: str,
                     action: str) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.workspace_id != workspace_id:
        raise NoEventHere("That event no longer exists.")
    events.require_organiser(session, event=event, slack_user_id=slack_user_id, action=action)
    return event


def cancel(database: Database, *, workspace_id: int, event_id: int, slack_user_id: str, now: datetime) -> Event:
    """Cancel the event, its reminders and its unsent posts; the channel and organisers are told once."""
    with unit_of_work(database) as session:
        event = _organised_event(session, workspace_id=workspace_id, event_id=event_id, slack_user_id=slack_user_id,
                                 action="cancel it")
        skipped = events.cancel_event(session, event=event, now=now)
        posts.tell_cancelled(session, event=event, by_slack_id=slack_user_id, skipped=skipped, now=now)
        home_tabs.refresh_event(session, event_id=event.id, now=now, everyone=True)
        session.expunge(event)
        return event


def postpone(database: Database, *, workspace_id: int, event_id: int, slack_user_id: str, date: str | None,
             start: str | None, end: str | None, now: datetime, follow_close: FollowClose | None = None) -> Event:
    """Move the event to a new day and times; the channel is told. Problems are `FormProblems` by field."""
    with unit_of_work(database) as session:
        event = _organised_event(session, workspace_id=workspace_id, event_id=event_id, slack_user_id=slack_user_id,
                                 action="postpone it")
        was = event.starts_at
        events.postpone_event(session, event=event, date=date, start=start, end=end, now=now)
        posts.tell_postponed(session, event=event, was=was, now=now)
        session.flush()
        if follow_close is not None:
            follow_close(session, event=event)
        home_tabs.refresh_event(session, event_id=event.id, now=now, everyone=True)
        session.expunge(event)
        return event


def event_to_duplicate(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str,
                       now: datetime) -> tuple[Event, str]:
    """The channel's latest event, if the person organised it, and the day its duplicate defaults to.

    The channel holds one coming event at a time, so one still to happen is refused with what to do.
    """
    with unit_of_work(database) as session:
        coming = current_event(session, workspace_id=workspace_id, channel_id=channel_id)
        if coming is not None:
            events.require_organiser(session, event=coming, slack_user_id=slack_user_id, action="duplicate it")
            raise events.EventChangeRefused(
                f"*{coming.title}* has not happened yet, and a channel holds one coming event at a time: "
                "duplicate it once it has closed, or change it with `/event setup` or `/event postpone`.")
        source = latest_event(session, workspace_id=workspace_id, channel_id=channel_id, include_cancelled=True)
        if source is None:
            raise NoEventHere("There is no event in this channel to duplicate. An organiser can set one up here "
                              "with `/event setup`.")
        events.require_organiser(session, event=source, slack_user_id=slack_user_id, action="duplicate it")
        day = events.next_in_series(source, now=now).isoformat()
        session.expunge(source)
        return source, day


def duplicate(database: Database, *, workspace_id: int, source_id: int, slack_user_id: str, title: str | None,
              date: str | None, start: str | None, end: str | None, now: datetime,
              follow_close: FollowClose | None = None) -> Event:
    """Create the next event like the source, on the day and times chosen; its organiser is told nothing
    more than the form's answer (nothing is posted in the channel until the new event opens)."""
    with unit_of_work(database) as session:
        source = _organised_event(session, workspace_id=workspace_id, event_id=source_id,
                                  slack_user_id=slack_user_id, action="duplicate it")
        details = events.details_from_form(
            title=title, date=date, start=start, end=end, timezone=source.timezone,
            evaluation_form_url=source.evaluation_form_url, waits_for_chair=source.waits_for_chair)
        copy = events.duplicate_event(session, source=source, details=details, organiser_slack_id=slack_user_id,
                                      now=now)
        session.flush()
        if follow_close is not None:
            follow_close(session, event=copy)
        home_tabs.refresh_event(session, event_id=copy.id, now=now)
        session.expunge(copy)
        return copy

"""People and what they are at an event: who may run it, who takes part."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.errors import UserError
from bot.models import Event, EventRole, Person, Role

# Who may set an event up again, start it, move it on, post prompts, pull digests and close it.
RUNNERS = frozenset({Role.ORGANISER, Role.CHAIR})


class NotAllowed(UserError):
    """The person may not do this; the message completes "Only … can …" for them."""


# users.info fields that make someone a workspace admin or owner: they may set events up anywhere.
WORKSPACE_ADMIN_FIELDS = ("is_admin", "is_owner", "is_primary_owner")
# A refusal names at most this many people to ask; a longer list is a wall of names, not help.
MOST_ORGANISERS_NAMED = 5


class NotAnOrganiser(NotAllowed):
    """Someone who may not set events up asked to; the message says who can."""


def is_workspace_admin(slack_user: Mapping[str, Any]) -> bool:
    """Whether a users.info `user` is an active workspace admin or owner."""
    return not slack_user.get("deleted") and any(slack_user.get(field) for field in WORKSPACE_ADMIN_FIELDS)


def organiser_refusal(*, organisers: Sequence[str], group_id: str | None) -> str:
    """What to tell someone who may not set events up: who can, and whom to ask.

    `organisers` are the people named in eventbot's settings, the group's members included.
    """
    group = f"<!subteam^{group_id}>" if group_id else None
    text = ("Only workspace admins, owners and the organisers named by your Slack admin"
            + (f" (the {group} group)" if group else "") + " can set up events.")
    if 0 < len(organisers) <= MOST_ORGANISERS_NAMED:
        mentions = [f"<@{slack_user_id}>" for slack_user_id in organisers]
        listed = mentions[0] if len(mentions) == 1 else ", ".join(mentions[:-1]) + " or " + mentions[-1]
        return f"{text} Ask one of them: {listed}."
    if group:
        return f"{text} Ask someone in {group} or a workspace admin to set it up, or to add you."
    return f"{text} Ask a workspace admin to set it up, or to name you as an organiser."


def person(session: Session, *, workspace_id: int, slack_user_id: str, display_name: str | None = None) -> Person:
    """The person row for a Slack user, created on first sight (concurrent first sights are fine)."""
    found = session.scalar(
        select(Person).where(Person.workspace_id == workspace_id, Person.slack_user_id == slack_user_id)
    )
    if found is None:
        try:
            with session.begin_nested():
                found = Person(workspace_id=workspace_id, slack_user_id=slack_user_id, display_name=display_name)
                session.add(found)
                session.flush()
        except IntegrityError:
            found = session.scalars(
                select(Person).where(Person.workspace_id == workspace_id, Person.slack_user_id == slack_user_id)
            ).one()
    if display_name and not found.display_name:
        found.display_name = display_name
    return found


def grant(session: Session, *, event: Event, person: Person, role: Role) -> None:
    exists = session.scalar(
        select(EventRole.id).where(EventRole.event_id == event.id, EventRole.person_id == person.id, EventRole.role == role)
    )
    if exists is None:
        try:
            with session.begin_nested():
                session.add(EventRole(event_id=event.id, person_id=person.id, role=role))
                session.flush()
        except IntegrityError:
            pass  # granted concurrently: the outcome is the same


def roles_of(session: Session, *, event: Event, slack_user_id: str) -> set[Role]:
    rows = session.scalars(
        select(EventRole.role)
        .join(Person, Person.id == EventRole.person_id)
        .where(EventRole.event_id == event.id, Person.slack_user_id == slack_user_id)
    )
    return set(rows)


def require_runner(session: Session, *, event: Event, slack_user_id: str, action: str) -> None:
    """Refuse unless the person is one of the event's organisers or chairs."""
    if not roles_of(session, event=event, slack_user_id=slack_user_id) & RUNNERS:
        raise NotAllowed(f"Only a chair or organiser of this event can {action}.")


def people_with_role(session: Session, *, event: Event, role: Role) -> list[Person]:
    return list(
        session.scalars(
            select(Person)
            .join(EventRole, EventRole.person_id == Person.id)
            .where(EventRole.event_id == event.id, EventRole.role == role)
            .order_by(Person.id)
        )
    )


# Rows written by one multi-row statement: well inside SQLite's and PostgreSQL's limits on bound
# parameters, so a channel of any size costs a few statements per page, not one per member.
BULK_ROWS = 500


def _insert(session: Session):  # type: ignore[no-untyped-def]
    """The dialect's INSERT, the one with ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _add_people(session: Session):  # type: ignore[no-untyped-def]
    """INSERT of new people, as parameters of one statement; anyone already known keeps their row."""
    return _insert(session)(Person.__table__).on_conflict_do_nothing(index_elements=["workspace_id", "slack_user_id"])


def add_attendees(session: Session, *, event: Event, slack_user_ids: Iterable[str]) -> int:
    """Everyone listed is an attendee of the event: people made where new, roles granted where missing.

    Three statements per BULK_ROWS people, whatever was there before: people already known keep
    their row (and what it holds), and someone already an attendee is not added twice, even when
    another transaction enrols the same people at the same moment. Returns how many roles were new.
    """
    wanted = list(dict.fromkeys(slack_user_ids))
    session.flush()  # the event's id, if the caller made it in this transaction
    insert = _insert(session)
    roles_table = EventRole.__table__
    added = 0
    now = utcnow()
    # Each insert is one statement with its rows as parameters (SQLAlchemy's "insertmanyvalues"):
    # compiled once and cached, where a VALUES clause built from the rows is compiled afresh each time.
    add_people = _add_people(session)
    add_roles = insert(roles_table).on_conflict_do_nothing(
        index_elements=["event_id", "person_id", "role"]).returning(roles_table.c.id)
    for start in range(0, len(wanted), BULK_ROWS):
        chunk = wanted[start:start + BULK_ROWS]
        session.execute(add_people, [{"workspace_id": event.workspace_id, "slack_user_id": slack_user_id,
                                      "is_bot": False, "is_deleted": False} for slack_user_id in chunk])
        person_ids = session.scalars(select(Person.id).where(
            Person.workspace_id == event.workspace_id, Person.slack_user_id.in_(chunk))).all()
        added += len(session.execute(add_roles, [
            {"event_id": event.id, "person_id": person_id, "role": Role.ATTENDEE, "joined_at": now}
            for person_id in person_ids]).all())
    return added


@dataclass(frozen=True)
class Profile:
    """What Slack says of a person that decides whether and when they get a DM."""

    timezone: str | None
    is_bot: bool
    is_deleted: bool
    display_name: str | None


def profiles_known(session: Session, *, workspace_id: int, slack_user_ids: Sequence[str],
                   fresh_since: datetime) -> tuple[set[str], set[str]]:
    """Of these people, (those with a row, those whose profile was read from Slack since `fresh_since`)."""
    known: set[str] = set()
    fresh: set[str] = set()
    for start in range(0, len(slack_user_ids), BULK_ROWS):
        for slack_user_id, refreshed_at in session.execute(select(Person.slack_user_id, Person.profile_refreshed_at).where(
                Person.workspace_id == workspace_id, Person.slack_user_id.in_(slack_user_ids[start:start + BULK_ROWS]))):
            known.add(slack_user_id)
            if refreshed_at is not None and refreshed_at >= fresh_since:
                fresh.add(slack_user_id)
    return known, fresh


def record_profiles(session: Session, *, workspace_id: int, profiles: Mapping[str, Profile], now: datetime) -> set[str]:
    """Store what Slack said of the people eventbot knows among these; nobody new is added.

    Two statements per BULK_ROWS profiles (a read, then one executemany UPDATE by primary key), so a
    page of users.list costs the same whatever its size. Returns the Slack ids stored.
    """
    stored: set[str] = set()
    ids = list(profiles)
    for start in range(0, len(ids), BULK_ROWS):
        rows = session.execute(select(Person.id, Person.slack_user_id, Person.timezone, Person.display_name).where(
            Person.workspace_id == workspace_id, Person.slack_user_id.in_(ids[start:start + BULK_ROWS]))).all()
        if not rows:
            continue
        changes = []
        for person_id, slack_user_id, timezone, display_name in rows:
            profile = profiles[slack_user_id]
            # Slack's name wins (a name typed into a programme file may be out of date); a profile
            # without a zone or a name keeps the one known.
            changes.append({"id": person_id, "timezone": profile.timezone or timezone,
                            "display_name": profile.display_name or display_name, "is_bot": profile.is_bot,
                            "is_deleted": profile.is_deleted, "profile_refreshed_at": now})
            stored.add(slack_user_id)
        session.execute(update(Person), changes)
    return stored


def people_by_slack_id(session: Session, *, workspace_ids_and_slack_ids: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Person ids for many Slack users at once, the missing ones made (a burst of voters in one go)."""
    wanted = set(workspace_ids_and_slack_ids)
    def known() -> dict[tuple[int, str], int]:
        return {(w, s): pid for pid, w, s in session.execute(
            select(Person.id, Person.workspace_id, Person.slack_user_id).where(
                Person.slack_user_id.in_({s for _, s in wanted}), Person.workspace_id.in_({w for w, _ in wanted})))
            if (w, s) in wanted}
    found = known()
    missing = wanted - set(found)
    if missing:
        # One statement for all of them: in a burst, a row and a savepoint per new voter held the
        # GIL the acknowledgements need. A person made meanwhile by another transaction is kept.
        session.execute(_add_people(session), [
            {"workspace_id": workspace_id, "slack_user_id": slack_user_id, "is_bot": False, "is_deleted": False}
            for workspace_id, slack_user_id in sorted(missing)])
        found = known()
    return found

"""People's control of their data: what eventbot holds about a person, forgetting them, and the
purge of an event's personal data once its retention period is over.

A person's identifiers are their Slack user ID, their name and their email. Forgetting removes
every row that is theirs and every copy of those identifiers eventbot wrote elsewhere (stored
posts, dedupe keys, who announced an item or set a reminder), so the database can be searched
for them afterwards and nothing is found.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.models import (
    AgendaSegment,
    Delivery,
    DeliveryStatus,
    EvaluationCompletion,
    Event,
    EventAffiliation,
    EventRole,
    EventStatus,
    FollowUp,
    Person,
    Question,
    QuestionStatus,
    Reflection,
    ReflectionPrompt,
    Reminder,
    Role,
    SpeakingQueueEntry,
    Vote,
    Workspace,
    slack_installations,
)
from bot.questions.rules import request_redraws
from bot.reports.rules import figures, report
from bot.workspaces import installed

# What stands in for a forgotten person wherever their identifiers were written into text.
FORGOTTEN = "someone"
# The ephemeral answer shows this many of the latest items of each kind; the file has them all.
RECENT_SHOWN = 5
# Each retention tick purges at most this many events, each in its own transaction, so a backlog
# after a long downtime is worked through in short steps rather than one long lock.
PURGES_PER_TICK = 5


# --- what eventbot holds about a person ------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One thing held about a person: its kind, the event it belongs to, what it says, and when."""

    kind: str
    event: str
    detail: str
    at: datetime | None


@dataclass(frozen=True)
class Holdings:
    slack_user_id: str
    known: bool
    profile: tuple[tuple[str, str], ...] = ()
    items: tuple[Item, ...] = ()

    def of_kind(self, kind: str) -> list[Item]:
        return [item for item in self.items if item.kind == kind]

    def counts(self) -> list[tuple[str, int]]:
        return [(kind, len(self.of_kind(kind))) for kind in KINDS]


# The kinds in the order a person reads them.
ROLES, QUESTIONS, VOTES, REFLECTIONS, ORGANISATIONS, COMPLETIONS, DELIVERIES, FOLLOW_UPS, QUEUE = (
    "roles", "questions", "votes", "reflections", "organisations chosen", "evaluation forms completed",
    "messages to you", "follow-ups you own", "places in the queue to speak")
KINDS = (ROLES, QUESTIONS, VOTES, REFLECTIONS, ORGANISATIONS, COMPLETIONS, DELIVERIES, FOLLOW_UPS, QUEUE)


def find_person(session: Session, *, workspace_id: int, slack_user_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.workspace_id == workspace_id,
                                               Person.slack_user_id == slack_user_id))


def holdings(session: Session, *, workspace_id: int, slack_user_id: str) -> Holdings:
    """Everything eventbot holds about one person in one workspace, newest first within each kind."""
    person = find_person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    deliveries = _deliveries_to(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    if person is None:
        return Holdings(slack_user_id=slack_user_id, known=False, items=tuple(deliveries))
    profile = (("Slack user ID", person.slack_user_id), ("Name", person.display_name or "not known"),
               ("Email", person.email or "not known"), ("Time zone", person.timezone or "not known"),
               ("Organisation", person.organisation or "not known"))
    items: list[Item] = []
    for title, role, joined in session.execute(
            select(Event.title, EventRole.role, EventRole.joined_at).join(Event, Event.id == EventRole.event_id)
            .where(EventRole.person_id == person.id).order_by(EventRole.joined_at.desc())):
        items.append(Item(ROLES, title, role.value, joined))
    for title, question in session.execute(
            select(Event.title, Question).join(Event, Event.id == Question.event_id)
            .where(Question.asker_person_id == person.id).order_by(Question.created_at.desc())):
        shown = " (anonymous: only you see that it is yours)" if question.anonymous else ""
        items.append(Item(QUESTIONS, title, f"{question.text} [{question.status.value}]{shown}", question.created_at))
    for title, text, voted in session.execute(
            select(Event.title, Question.text, Vote.created_at).join(Question, Question.id == Vote.question_id)
            .join(Event, Event.id == Question.event_id).where(Vote.person_id == person.id)
            .order_by(Vote.created_at.desc())):
        items.append(Item(VOTES, title, text, voted))
    for title, reflection in session.execute(
            select(Event.title, Reflection).join(ReflectionPrompt, ReflectionPrompt.id == Reflection.prompt_id)
            .join(Event, Event.id == ReflectionPrompt.event_id)
            .where(Reflection.person_id == person.id, Reflection.deleted_at.is_(None))
            .order_by(Reflection.created_at.desc())):
        shown = " (anonymous)" if reflection.anonymous else ""
        items.append(Item(REFLECTIONS, title, reflection.text + shown, reflection.created_at))
    for title, organisation, chosen in session.execute(
            select(Event.title, EventAffiliation.organisation, EventAffiliation.chosen_at)
            .join(Event, Event.id == EventAffiliation.event_id).where(EventAffiliation.person_id == person.id)
            .order_by(EventAffiliation.chosen_at.desc())):
        items.append(Item(ORGANISATIONS, title, organisation or "prefer not to say", chosen))
    for title, completed in session.execute(
            select(Event.title, EvaluationCompletion.completed_at)
            .join(Event, Event.id == EvaluationCompletion.event_id)
            .where(EvaluationCompletion.person_id == person.id).order_by(EvaluationCompletion.completed_at.desc())):
        items.append(Item(COMPLETIONS, title, "completed", completed))
    items.extend(deliveries)
    for title, text, follow_up in session.execute(
            select(Event.title, Question.text, FollowUp).join(Question, Question.id == FollowUp.question_id)
            .join(Event, Event.id == Question.event_id).where(FollowUp.assigned_person_id == person.id)
            .order_by(FollowUp.created_at.desc())):
        state = "answered" if follow_up.answered_at else "declined" if follow_up.declined_at else "open"
        items.append(Item(FOLLOW_UPS, title, f"{text} [{state}]", follow_up.created_at))
    for title, joined in session.execute(
            select(Event.title, SpeakingQueueEntry.joined_at).join(Event, Event.id == SpeakingQueueEntry.event_id)
            .where(SpeakingQueueEntry.person_id == person.id).order_by(SpeakingQueueEntry.joined_at.desc())):
        items.append(Item(QUEUE, title, "asked to speak", joined))
    return Holdings(slack_user_id=slack_user_id, known=True, profile=profile, items=tuple(items))


def _deliveries_to(session: Session, *, workspace_id: int, slack_user_id: str) -> list[Item]:
    rows = session.execute(
        select(Delivery.kind, Delivery.status, Delivery.created_at, Event.title)
        .outerjoin(Event, Event.id == Delivery.event_id)
        .where(Delivery.workspace_id == workspace_id, Delivery.recipient_slack_id == slack_user_id)
        .order_by(Delivery.created_at.desc()))
    return [Item(DELIVERIES, title or "", f"{kind.replace('_', ' ')} [{status.value}]", created)
            for kind, status, created, title in rows]


def holdings_csv(found: Holdings) -> str:
    """The whole of it as CSV: the profile first, then every item."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "event", "detail", "when (UTC)"])
    for name, value in found.profile:
        writer.writerow(["profile", "", f"{name}: {value}", ""])
    for item in found.items:
        writer.writerow([item.kind, item.event, item.detail, item.at.isoformat(timespec="seconds") if item.at else ""])
    return out.getvalue()


# --- forgetting a person ---------------------------------------------------------------------------


@dataclass
class Forgotten:
    """What forgetting a person did, counted for them."""

    reflections: int = 0
    votes: int = 0
    questions_kept_anonymous: int = 0
    questions_deleted: int = 0
    deliveries: int = 0
    completions: int = 0
    affiliations: int = 0
    roles: int = 0
    follow_ups_to_chairs: int = 0
    queue_places: int = 0
    mentions_removed: int = 0
    installs_unnamed: int = 0
    profile: bool = False
    redrawn: list[int] = field(default_factory=list)


def forget(session: Session, *, workspace_id: int, slack_user_id: str, now: datetime) -> Forgotten:
    """Erase a person from one workspace. Cannot be undone; safe to repeat (a second time finds nothing).

    Questions that were public stay as anonymous text, since others voted on them and answers
    may refer to them; questions nobody but the moderators saw (awaiting approval) are deleted.
    Follow-ups the person owned go back to the chairs (an owner of None means the chairs), as
    the ledger does for a deactivated owner: the asker still gets an answer.
    """
    done = Forgotten()
    person = find_person(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    events = select(Event.id).where(Event.workspace_id == workspace_id)
    name = email = None
    if person is not None:
        name, email = person.display_name, person.email
        prompts = select(ReflectionPrompt.id).where(ReflectionPrompt.event_id.in_(events))
        done.reflections = _deleted(session, delete(Reflection).where(Reflection.person_id == person.id,
                                                                      Reflection.prompt_id.in_(prompts)))
        voted_on = list(session.scalars(select(Vote.question_id).where(Vote.person_id == person.id)))
        done.votes = _deleted(session, delete(Vote).where(Vote.person_id == person.id))
        asked = list(session.scalars(select(Question).where(Question.asker_person_id == person.id)))
        unseen = [q.id for q in asked if q.status == QuestionStatus.AWAITING_APPROVAL and q.card_message_ts is None]
        kept = [q for q in asked if q.id not in unseen]
        for question in kept:
            question.asker_person_id = None
            question.anonymous = True
            question.organisation_shared = False
            # The shortcut's source message is theirs: its ts would lead back to them in Slack.
            question.source_message_ts = None
        done.questions_kept_anonymous = len(kept)
        if unseen:
            done.questions_deleted = _deleted(session, delete(Question).where(Question.id.in_(unseen)))
        done.completions = _deleted(session, delete(EvaluationCompletion).where(
            EvaluationCompletion.person_id == person.id))
        done.affiliations = _deleted(session, delete(EventAffiliation).where(EventAffiliation.person_id == person.id))
        done.queue_places = _deleted(session, delete(SpeakingQueueEntry).where(
            SpeakingQueueEntry.person_id == person.id))
        done.follow_ups_to_chairs = _deleted(session, update(FollowUp).where(FollowUp.assigned_person_id == person.id)
                                             .values(assigned_person_id=None, nudged_at=None, overdue_nudged_at=None))
        done.roles = _deleted(session, delete(EventRole).where(EventRole.person_id == person.id))
        # Questions asked of them show them on their cards: those cards are redrawn too.
        asked_of = list(session.scalars(select(Question.id).where(Question.for_presenter_person_id == person.id)))
        # Whoever answered or is asked a question is the person: the references go, the questions stay.
        session.execute(update(Question).where(Question.answered_by_person_id == person.id)
                        .values(answered_by_person_id=None))
        session.execute(update(Question).where(Question.for_presenter_person_id == person.id)
                        .values(for_presenter_person_id=None))
        session.execute(update(FollowUp).where(FollowUp.answered_by_person_id == person.id)
                        .values(answered_by_person_id=None))
        session.flush()
        session.delete(person)
        done.profile = True
        # Cards that credited them or counted their vote show it no more.
        survivors = [q.merged_into_id for q in kept if q.merged_into_id is not None]
        done.redrawn = sorted(set(session.scalars(select(Question.id).where(
            Question.id.in_({q.id for q in kept} | set(voted_on) | set(survivors) | set(asked_of)),
            Question.card_message_ts.is_not(None)))))
        request_redraws(session, question_ids=done.redrawn, now=now)
    done.deliveries = _deleted(session, delete(Delivery).where(Delivery.workspace_id == workspace_id,
                                                               Delivery.recipient_slack_id == slack_user_id))
    done.mentions_removed = _scrub(session, workspace_id=workspace_id, events=events, slack_user_id=slack_user_id,
                                   name=name, email=email)
    done.installs_unnamed = _unname_installer(session, workspace_id=workspace_id, slack_user_id=slack_user_id)
    session.flush()
    return done


def _unname_installer(session: Session, *, workspace_id: int, slack_user_id: str) -> int:
    """An OAuth install keeps who installed it (and their user token, if one was granted). eventbot
    never reads them (it finds a workspace's bot, not an installer), so they go; the install stays,
    since the workspace still uses it. The store's column cannot be empty of a value, only of a name."""
    team_id = session.scalar(select(Workspace.team_id).where(Workspace.id == workspace_id))
    i = slack_installations.c
    return _deleted(session, update(slack_installations).where(i.team_id == team_id, i.user_id == slack_user_id)
                    .values(user_id="", user_token=None, user_scopes=None, user_refresh_token=None,
                            user_token_expires_at=None))


def _deleted(session: Session, statement: Any) -> int:
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0


def _replace(value: Any, identifiers: list[str], slack_user_id: str) -> Any:
    if isinstance(value, str):
        value = value.replace(f"<@{slack_user_id}>", FORGOTTEN)
        for identifier in identifiers:
            value = value.replace(identifier, FORGOTTEN)
        return value
    if isinstance(value, list):
        return [_replace(v, identifiers, slack_user_id) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, identifiers, slack_user_id) for k, v in value.items()}
    return value


def _scrub(session: Session, *, workspace_id: int, events: Any, slack_user_id: str, name: str | None,
           email: str | None) -> int:
    """Remove the identifiers wherever eventbot copied them: who did what, stored posts, keys.

    Text people wrote about others (questions, answers, reflections, notices) loses the person's
    mentions and email too; the words around them stay.
    """
    changed = 0
    for column in (Event.created_by_slack_user_id, Event.follow_up_lead_slack_id):
        changed += _deleted(session, update(Event).where(Event.workspace_id == workspace_id, column == slack_user_id)
                            .values({column.key: None}))
    changed += _deleted(session, update(AgendaSegment).where(AgendaSegment.event_id.in_(events),
                                                             AgendaSegment.announced_by_slack_id == slack_user_id)
                        .values(announced_by_slack_id=None))
    changed += _deleted(session, update(Reminder).where(Reminder.event_id.in_(events),
                                                        Reminder.created_by_slack_user_id == slack_user_id)
                        .values(created_by_slack_user_id=None))
    # A name is replaced only where eventbot wrote it (stored posts, keys, a programme's speakers):
    # in what people wrote, a short name would also match inside other words.
    exact = [slack_user_id, *([email] if email else [])]
    identifiers = [*exact, *([name] if name else [])]
    texts: list[tuple[type, Any, list[Any], list[str]]] = [
        (Event, Event.workspace_id == workspace_id,
         [Event.title, Event.next_event_notice, Event.housekeeping_notes], exact),
        (AgendaSegment, AgendaSegment.event_id.in_(events), [AgendaSegment.title], exact),
        (AgendaSegment, AgendaSegment.event_id.in_(events), [AgendaSegment.speakers], identifiers),
        (Question, Question.event_id.in_(events), [Question.text, Question.answer_text, Question.dismissed_reason],
         exact),
        (FollowUp, FollowUp.question_id.in_(select(Question.id).where(Question.event_id.in_(events))),
         [FollowUp.answer_text, FollowUp.declined_reason], exact),
        (Reflection, Reflection.prompt_id.in_(select(ReflectionPrompt.id).where(ReflectionPrompt.event_id.in_(events))),
         [Reflection.text], exact),
        (ReflectionPrompt, ReflectionPrompt.event_id.in_(events), [ReflectionPrompt.text], exact),
        (Reminder, Reminder.event_id.in_(events), [Reminder.text], exact),
        (Delivery, Delivery.workspace_id == workspace_id,
         [Delivery.payload, Delivery.last_error, Delivery.dedupe_key, Delivery.coalesce_key], identifiers),
    ]
    for model, scope, columns, wanted in texts:
        mentions = or_(*(cast(column, Text).contains(form, autoescape=True) for column in columns for identifier in wanted
                         for form in _stored_forms(identifier)))
        for row in session.scalars(select(model).where(scope, mentions)):
            for column in columns:
                value = getattr(row, column.key)
                cleaned = _replace(value, wanted, slack_user_id)
                if cleaned != value:
                    if column.key in ("dedupe_key", "coalesce_key"):
                        # Keys must stay unique: the row's own id keeps them apart.
                        cleaned = f"forgotten:{row.id}:{cleaned}"[:128]
                    setattr(row, column.key, cleaned)
                    changed += 1
    return changed


def _stored_forms(identifier: str) -> set[str]:
    # JSON columns keep non-ASCII letters escaped, so a name with an accent is looked for both ways.
    return {identifier, json.dumps(identifier)[1:-1]}


# --- retention -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    event_id: int
    title: str
    figures: tuple[tuple[str, int], ...]
    reflections: int
    votes: int
    questions_anonymised: int
    deliveries: int
    completions: int
    affiliations: int
    attendees: int
    profiles: int = 0


def retention_ends(event: Event) -> datetime:
    """When the event's personal data is due for purging: its retention period after the close."""
    return (event.closed_at or event.ends_at) + timedelta(days=event.retention_days)


def expired_events(session: Session, *, now: datetime, limit: int = PURGES_PER_TICK) -> list[int]:
    """Events whose retention period is over and whose personal data is still held, oldest first.

    The cut-off is computed per event in Python: interval arithmetic on a column differs between
    SQLite and PostgreSQL, and the candidates (ended, not purged) are few.
    """
    candidates = session.scalars(
        select(Event).where(Event.personal_data_purged_at.is_(None),
                            Event.status.in_((EventStatus.CLOSED, EventStatus.CANCELLED)))
        .order_by(Event.id))
    return [event.id for event in candidates if retention_ends(event) <= now][:limit]


def purge_event(session: Session, *, event_id: int, now: datetime) -> Purged | None:
    """Purge one event's personal data, once: None if another process (or an earlier tick) did.

    What is kept: the event, its programme, its team's roles (organisers, chairs, presenters),
    its questions as anonymous text with their outcomes, follow-ups and their answers, reminder
    definitions. What goes: reflections, votes, who asked what, organisations chosen, evaluation
    completions, every message addressed to a person, attendees' roles and queue places. The
    report's figures are counted first and returned, so the organisers are told them: a report
    pulled later counts what remains.
    """
    claimed = session.execute(update(Event).where(Event.id == event_id, Event.personal_data_purged_at.is_(None))
                              .values(personal_data_purged_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return None
    event = session.get_one(Event, event_id)
    session.refresh(event)
    counted = tuple(figures(report(session, event=event))) if event.status == EventStatus.CLOSED and event.closed_at \
        else ()
    prompts = select(ReflectionPrompt.id).where(ReflectionPrompt.event_id == event_id)
    questions = select(Question.id).where(Question.event_id == event_id)
    reflections = _deleted(session, delete(Reflection).where(Reflection.prompt_id.in_(prompts)))
    votes = _deleted(session, delete(Vote).where(Vote.question_id.in_(questions)))
    anonymised = _deleted(session, update(Question).where(Question.event_id == event_id).values(
        asker_person_id=None, anonymous=True, organisation_shared=False, source_message_ts=None))
    channel = event.channel_id
    deliveries = _deleted(session, delete(Delivery).where(Delivery.event_id == event_id,
                                                          Delivery.recipient_slack_id != channel))
    # Posts in the channel that are done with hold nothing personal in their row but a stored
    # message may name people (a notice, a shared reflection): those already sent go too.
    deliveries += _deleted(session, delete(Delivery).where(
        Delivery.event_id == event_id, Delivery.payload.is_not(None), Delivery.status != DeliveryStatus.PENDING))
    completions = _deleted(session, delete(EvaluationCompletion).where(EvaluationCompletion.event_id == event_id))
    affiliations = _deleted(session, delete(EventAffiliation).where(EventAffiliation.event_id == event_id))
    _deleted(session, delete(SpeakingQueueEntry).where(SpeakingQueueEntry.event_id == event_id))
    attendees = _deleted(session, delete(EventRole).where(EventRole.event_id == event_id,
                                                          EventRole.role == Role.ATTENDEE))
    profiles = _forget_unlinked_people(session, workspace_id=event.workspace_id)
    session.flush()
    return Purged(event_id=event_id, title=event.title, figures=counted, reflections=reflections, votes=votes,
                  questions_anonymised=anonymised, deliveries=deliveries, completions=completions,
                  affiliations=affiliations, attendees=attendees, profiles=profiles)


def _forget_unlinked_people(session: Session, *, workspace_id: int) -> int:
    """Profiles (name, email, time zone) of people nothing links to any more: someone who came only
    to purged events is not kept as a name and an email. They are made again if they come back."""
    links = [
        select(EventRole.id).where(EventRole.person_id == Person.id),
        select(Reflection.id).where(Reflection.person_id == Person.id),
        select(Vote.id).where(Vote.person_id == Person.id),
        select(Question.id).where(or_(Question.asker_person_id == Person.id,
                                      Question.for_presenter_person_id == Person.id,
                                      Question.answered_by_person_id == Person.id)),
        select(FollowUp.id).where(or_(FollowUp.assigned_person_id == Person.id,
                                      FollowUp.answered_by_person_id == Person.id)),
        select(SpeakingQueueEntry.id).where(SpeakingQueueEntry.person_id == Person.id),
        select(EvaluationCompletion.id).where(EvaluationCompletion.person_id == Person.id),
        select(EventAffiliation.id).where(EventAffiliation.person_id == Person.id),
        select(Delivery.id).where(Delivery.workspace_id == workspace_id,
                                  Delivery.recipient_slack_id == Person.slack_user_id),
    ]
    unlinked = select(Person.id).where(Person.workspace_id == workspace_id,
                                       *(~link.exists() for link in links))
    return _deleted(session, delete(Person).where(Person.id.in_(list(session.scalars(unlinked)))))


def tellable(session: Session, *, event_id: int) -> bool:
    """Whether the organisers can be told: the app is still installed in the event's workspace."""
    return session.scalar(select(Event.id).where(Event.id == event_id, installed(Event.workspace_id))) is not None

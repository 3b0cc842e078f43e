"""Questions for the listeners: each change in one short transaction, with the posts it calls for.

Nothing here waits on Slack: every card, redraw, answer and private word is an outbox row written
in the same transaction as the change (bot/questions/posts.py renders them when they are sent),
so once a person is told "done", the post is certain to follow, whatever happens to this process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from slack_sdk import WebClient
from sqlalchemy import select

from bot.db import Database, reading, unit_of_work
from bot.events import people
from bot.events import slack as events_slack
from bot.events.rules import NoEventHere, event_to_read
from bot.models import Event, Person, Question, QuestionStatus, Role
from bot.questions import blocks, follow_ups, posts
from bot.questions import rules as questions
from bot.questions.blocks import dismissed_dm, you_are_brought_in
from bot.questions.digest import ACTION, QuestionDigest, StatusFilter, digest, questions_csv
from bot.questions.follow_up_blocks import declined_dm
from bot.questions.rules import QuestionCard
from bot.slack.messages import Message


def check_can_ask(database: Database, *, workspace_id: int, channel_id: str, text: str) -> QuestionStatus:
    with reading(database) as session:
        return questions.check_can_ask(session, workspace_id=workspace_id, channel_id=channel_id, text=text)


def ask(database: Database, *, workspace_id: int, channel_id: str, asker_slack_id: str, text: str, now: datetime,
        anonymous: bool = False, for_presenter_slack_id: str | None = None,
        source_message_ts: str | None = None, organisation_shared: bool = False) -> Question:
    """Store a question and its card (or its approval requests) together."""
    with unit_of_work(database) as session:
        question = questions.ask(session, workspace_id=workspace_id, channel_id=channel_id,
                                 asker_slack_id=asker_slack_id, text=text, anonymous=anonymous,
                                 for_presenter_slack_id=for_presenter_slack_id, source_message_ts=source_message_ts,
                                 organisation_shared=organisation_shared)
        posts.question_asked(session, question=question, now=now)
        return question


def presenters_of(database: Database, *, workspace_id: int, channel_id: str) -> list[tuple[str, str]]:
    with reading(database) as session:
        return questions.presenters_of(session, workspace_id=workspace_id, channel_id=channel_id)


def moderate(database: Database, change: Callable[..., Question], *, workspace_id: int, question_id: int,
             by_slack_id: str, now: datetime) -> Question:
    """A one-click moderation (`change` is a rules function such as `mark_answered_live`), and the card redrawn."""
    with unit_of_work(database) as session:
        question = change(session, workspace_id=workspace_id, question_id=question_id, by_slack_id=by_slack_id, now=now)
        questions.request_redraw(session, question_id=question.id, now=now)
        return question


def approve(database: Database, *, workspace_id: int, question_id: int, by_slack_id: str, now: datetime) -> None:
    with unit_of_work(database) as session:
        question = questions.approve(session, workspace_id=workspace_id, question_id=question_id,
                                     by_slack_id=by_slack_id)
        questions.request_card(session, question=question, now=now)


def card_to_answer(database: Database, *, workspace_id: int, question_id: int, slack_user_id: str) -> QuestionCard:
    """The card, once the person is known to be allowed to answer it."""
    with unit_of_work(database) as session:
        question = questions.require_moderator_or_presenter(session, workspace_id=workspace_id,
                                                            question_id=question_id, slack_user_id=slack_user_id)
        return questions.card(session, question_id=question.id)


def card_to_moderate(database: Database, *, workspace_id: int, question_id: int,
                     slack_user_id: str) -> tuple[QuestionCard, list[tuple[int, str]]]:
    """The card and the questions it could be merged into, once the person is known to be a moderator."""
    with unit_of_work(database) as session:
        question = questions.require_moderator(session, workspace_id=workspace_id, question_id=question_id,
                                               slack_user_id=slack_user_id, action="dismiss or merge questions")
        return (questions.card(session, question_id=question.id),
                questions.mergeable_questions(session, workspace_id=workspace_id, question_id=question.id))


def answer(database: Database, *, workspace_id: int, question_id: int, by_slack_id: str, text: str,
           now: datetime) -> None:
    """A written answer: stored with its post in the card's thread, the redraw and the askers' DMs."""
    with unit_of_work(database) as session:
        question = questions.answer_in_writing(session, workspace_id=workspace_id, question_id=question_id,
                                               by_slack_id=by_slack_id, text=text, now=now)
        posts.question_answered(session, question=question, answerer_slack_id=by_slack_id, now=now)


def dismiss(database: Database, *, workspace_id: int, question_id: int, by_slack_id: str, reason: str,
            now: datetime) -> None:
    """Dismissed: the card says so, and the askers alone hear the reason."""
    with unit_of_work(database) as session:
        question = questions.dismiss(session, workspace_id=workspace_id, question_id=question_id,
                                     by_slack_id=by_slack_id, reason=reason)
        questions.request_redraw(session, question_id=question.id, now=now)
        posts.tell_askers(session, question=question, now=now, key="dismissed",
                          message=dismissed_dm(question.text, question.dismissed_reason or ""))


def merge(database: Database, *, workspace_id: int, question_id: int, into_question_id: int, by_slack_id: str,
          now: datetime) -> None:
    with unit_of_work(database) as session:
        target = questions.merge(session, workspace_id=workspace_id, question_id=question_id,
                                 into_question_id=into_question_id, by_slack_id=by_slack_id)
        questions.request_redraw(session, question_id=question_id, now=now)
        questions.request_redraw(session, question_id=target.id, now=now)


def name_moderators(database: Database, *, workspace_id: int, channel_id: str, by_slack_id: str,
                    moderator_slack_ids: list[str]) -> None:
    with unit_of_work(database) as session:
        for moderator in moderator_slack_ids:
            questions.name_moderator(session, workspace_id=workspace_id, channel_id=channel_id,
                                     by_slack_id=by_slack_id, moderator_slack_id=moderator)


def set_approval_mode(database: Database, *, workspace_id: int, channel_id: str, by_slack_id: str, on: bool) -> None:
    with unit_of_work(database) as session:
        questions.set_approval_mode(session, workspace_id=workspace_id, channel_id=channel_id,
                                    by_slack_id=by_slack_id, on=on)


# --- asking aloud -----------------------------------------------------------------------------------


def join_speaking_queue(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str) -> int:
    with unit_of_work(database) as session:
        return questions.join_speaking_queue(session, workspace_id=workspace_id, channel_id=channel_id,
                                             slack_user_id=slack_user_id)


def leave_speaking_queue(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str,
                         now: datetime) -> bool:
    """Lower a raised hand; False if it was not raised (or the chair already brought them in)."""
    with unit_of_work(database) as session:
        return questions.leave_speaking_queue(session, workspace_id=workspace_id, channel_id=channel_id,
                                              slack_user_id=slack_user_id, now=now)


def top_questions(database: Database, *, workspace_id: int, channel_id: str) -> Message:
    with reading(database) as session:
        event, rows = questions.top_questions(session, workspace_id=workspace_id, channel_id=channel_id)
        return blocks.top_questions(event.title, rows)


def speaking_queue(database: Database, *, event_id: int) -> list[str]:
    with unit_of_work(database) as session:
        return questions.speaking_queue(session, event_id=event_id)


def bring_in_next(database: Database, *, event_id: int, channel_id: str,
                  now: datetime) -> tuple[str | None, list[str]]:
    """The person brought in (told by DM), if anyone was waiting, and who waits now."""
    with unit_of_work(database) as session:
        person = questions.bring_in_next(session, event_id=event_id, now=now)
        if person is not None:
            posts.tell(session, event_id=event_id, recipient=person, message=you_are_brought_in(channel_id), now=now,
                       key=f"brought-in:{event_id}:{person}:{now.timestamp():.6f}")
        return person, questions.speaking_queue(session, event_id=event_id)


# --- the chair's digest ------------------------------------------------------------------------


def pull_digest(database: Database, *, event_id: int, status_filter: StatusFilter) -> QuestionDigest:
    with unit_of_work(database) as session:
        return digest(session, event_id=event_id, status_filter=status_filter)


def export_digest(database: Database, *, event_id: int, status_filter: StatusFilter,
                  client: WebClient | None = None, workspace_id: int = 0,
                  now: datetime | None = None) -> tuple[QuestionDigest, str]:
    """The digest and the same as CSV text; with a `client`, every named asker's name is learnt first
    if need be."""
    found = pull_digest(database, event_id=event_id, status_filter=status_filter)
    if client is None or now is None:
        return found, questions_csv(found)
    unnamed = [asker.slack_user_id for _, row in found.rows() for asker in row.askers
               if asker.slack_user_id and not asker.display_name]
    if events_slack.name_the_unnamed(database, client, workspace_id=workspace_id, slack_user_ids=unnamed, now=now):
        found = pull_digest(database, event_id=event_id, status_filter=status_filter)
    return found, questions_csv(found)


def set_fair_ordering(database: Database, *, event_id: int, on: bool) -> None:
    """The chair's choice: the digest keeps organisations varied, or orders by votes alone."""
    with unit_of_work(database) as session:
        session.get_one(Event, event_id).fair_ordering = on


def require_digest_reader(database: Database, *, workspace_id: int, event_id: int, slack_user_id: str) -> None:
    """For buttons on a digest: the event must still be this workspace's and the clicker its chair
    or organiser (a digest's buttons are checked again on every click, not trusted)."""
    with unit_of_work(database) as session:
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id:
            raise NoEventHere("That event no longer exists.")
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action=ACTION)


# --- after the event: the follow-up ledger ---------------------------------------------------------


def open_follow_up_ledgers(database: Database, *, now: datetime) -> list[int]:
    """For every event closed since: its unanswered questions get owners, and each owner a DM. Once."""
    with reading(database) as session:
        closed = follow_ups.closed_without_ledger(session)
    opened = []
    for event_id in closed:
        with unit_of_work(database) as session:
            owners = follow_ups.open_ledger(session, event_id=event_id, now=now)
            event = session.get_one(Event, event_id)
            for owner in owners:
                posts.follow_up_list(session, event=event, owner_slack_id=owner, now=now,
                                     key=f"follow-ups:{event_id}:{owner or 'chairs'}")
        opened.append(event_id)
    return opened


def nudge_owners(database: Database, client: WebClient, *, now: datetime,
                 workspace_id: int | None = None) -> list[follow_ups.Nudge]:
    """Nudge owners whose follow-ups are nearly due or overdue: by day in their own zone, at most daily,
    and never a deactivated account (whose follow-ups go back to the chairs). With `workspace_id`,
    only that workspace's owners (`client` holds its token)."""
    with reading(database) as session:
        due = follow_ups.nudges_due(session, now=now)
        workspace_of = {n.event_id: session.get_one(Event, n.event_id).workspace_id for n in due}
    if workspace_id is not None:
        due = [n for n in due if workspace_of[n.event_id] == workspace_id]
    for workspace_id in set(workspace_of.values()):
        owners = [n.owner_slack_id for n in due if n.owner_slack_id and workspace_of[n.event_id] == workspace_id]
        events_slack.refresh_profiles(database, client, workspace_id=workspace_id, slack_user_ids=owners, now=now)
    sent = []
    for nudge in due:
        with unit_of_work(database) as session:
            event = session.get_one(Event, nudge.event_id)
            owner = (session.scalar(select(Person).where(Person.workspace_id == event.workspace_id,
                                                         Person.slack_user_id == nudge.owner_slack_id))
                     if nudge.owner_slack_id else None)
            if owner is not None and owner.is_deleted:
                follow_ups.give_back_to_the_chairs(session, nudge=nudge)
                posts.follow_up_list(session, event=event, owner_slack_id=None, now=now,
                                     key=f"given-back:{event.id}:{owner.slack_user_id}:{now:%Y%m%d%H%M}")
                continue
            zone = (owner.timezone if owner is not None and owner.timezone else event.timezone)
            if not follow_ups.is_daytime(now, zone):
                continue  # not at night: a later tick, in their morning
            follow_ups.record_nudge(session, nudge=nudge, now=now)
            posts.follow_up_list(session, event=event, owner_slack_id=nudge.owner_slack_id, now=now,
                                 nudge="overdue" if nudge.overdue else "due",
                                 key=f"nudge:{event.id}:{nudge.owner_slack_id or 'chairs'}:{now:%Y%m%d%H%M}")
        sent.append(nudge)
    return sent


def close_out_events(database: Database, *, now: datetime) -> list[int]:
    """Post the close-out for events whose follow-ups are all dealt with, or whose window has ended."""
    with reading(database) as session:
        ready = follow_ups.ready_to_close_out(session, now=now)
    done = []
    for event_id in ready:
        with unit_of_work(database) as session:
            if follow_ups.mark_closed_out(session, event_id=event_id, now=now):
                posts.close_out_posted(session, event=session.get_one(Event, event_id), now=now)
                done.append(event_id)
    return done


def hand_over(database: Database, *, workspace_id: int, question_id: int, by_slack_id: str, to_slack_id: str,
              now: datetime) -> None:
    with unit_of_work(database) as session:
        question, event = follow_ups.hand_over(session, workspace_id=workspace_id, question_id=question_id,
                                               by_slack_id=by_slack_id, to_slack_id=to_slack_id, now=now)
        posts.follow_up_list(session, event=event, owner_slack_id=to_slack_id, now=now,
                             key=f"handed-over:{question.id}:{to_slack_id}:{now.timestamp():.6f}")


def decline(database: Database, *, workspace_id: int, question_id: int, by_slack_id: str, reason: str,
            now: datetime) -> None:
    """The owner cannot answer it: the askers hear why, and the card says so."""
    with unit_of_work(database) as session:
        question, _ = follow_ups.decline(session, workspace_id=workspace_id, question_id=question_id,
                                         by_slack_id=by_slack_id, reason=reason, now=now)
        posts.tell_askers(session, question=question, now=now, key="declined",
                          message=declined_dm(question.text, reason))


def card_to_follow_up(database: Database, *, workspace_id: int, question_id: int, slack_user_id: str) -> QuestionCard:
    """The card, once the person is known to be allowed to hand the follow-up over or decline it."""
    with reading(database) as session:
        question, _, _ = follow_ups.require_handler(session, workspace_id=workspace_id, question_id=question_id,
                                                    slack_user_id=slack_user_id)
        return questions.card(session, question_id=question.id)


def follow_up_ledger(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str,
                     on: date | None = None, client: WebClient | None = None,
                     now: datetime | None = None) -> tuple[Event, list[follow_ups.LedgerRow], bool]:
    """The channel's ledger: all of it for its chairs and organisers, a presenter's own part for them.
    With a `client`, everyone's names are learnt first if need be (for its CSV)."""
    event, rows, everything = _ledger_for(database, workspace_id=workspace_id, channel_id=channel_id,
                                          slack_user_id=slack_user_id, on=on)
    if client is None or now is None:
        return event, rows, everything
    unnamed = [*(r.asker_slack_id for r in rows if r.asker_slack_id and not r.asker_name),
               *(r.owner_slack_id for r in rows if r.owner_slack_id and not r.owner_name)]
    if events_slack.name_the_unnamed(database, client, workspace_id=workspace_id, slack_user_ids=unnamed, now=now):
        event, rows, everything = _ledger_for(database, workspace_id=workspace_id, channel_id=channel_id,
                                              slack_user_id=slack_user_id, on=on)
    return event, rows, everything


def _ledger_for(database: Database, *, workspace_id: int, channel_id: str, slack_user_id: str,
                on: date | None) -> tuple[Event, list[follow_ups.LedgerRow], bool]:
    with reading(database) as session:
        event = event_to_read(session, workspace_id=workspace_id, channel_id=channel_id, on=on,
                              usage="/event followups")
        roles = people.roles_of(session, event=event, slack_user_id=slack_user_id)
        if roles & people.RUNNERS:
            return event, follow_ups.ledger(session, event_id=event.id), True
        if Role.PRESENTER in roles or follow_ups.ledger(session, event_id=event.id, owner_slack_id=slack_user_id,
                                                        only_owner=True):
            return event, follow_ups.ledger(session, event_id=event.id, owner_slack_id=slack_user_id,
                                            only_owner=True), False
        raise people.NotAllowed("Only the event's chairs, organisers and presenters can see its follow-ups.")

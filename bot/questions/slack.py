"""Questions for the listeners: each change in one short transaction, with the posts it calls for.

Nothing here waits on Slack: every card, redraw, answer and private word is an outbox row written
in the same transaction as the change (bot/questions/posts.py renders them when they are sent),
so once a person is told "done", the post is certain to follow, whatever happens to this process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.db import Database, reading, unit_of_work
from bot.events import people
from bot.events.rules import NoEventHere
from bot.models import Event, Question, QuestionStatus
from bot.questions import posts
from bot.questions import rules as questions
from bot.questions.blocks import dismissed_dm, you_are_brought_in
from bot.questions.digest import ACTION, QuestionDigest, StatusFilter, digest, questions_csv
from bot.questions.rules import QuestionCard


def check_can_ask(database: Database, *, workspace_id: int, channel_id: str, text: str) -> QuestionStatus:
    with reading(database) as session:
        return questions.check_can_ask(session, workspace_id=workspace_id, channel_id=channel_id, text=text)


def ask(database: Database, *, workspace_id: int, channel_id: str, asker_slack_id: str, text: str, now: datetime,
        anonymous: bool = False, for_presenter_slack_id: str | None = None,
        source_message_ts: str | None = None) -> Question:
    """Store a question and its card (or its approval requests) together."""
    with unit_of_work(database) as session:
        question = questions.ask(session, workspace_id=workspace_id, channel_id=channel_id,
                                 asker_slack_id=asker_slack_id, text=text, anonymous=anonymous,
                                 for_presenter_slack_id=for_presenter_slack_id, source_message_ts=source_message_ts)
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


def export_digest(database: Database, *, event_id: int, status_filter: StatusFilter) -> tuple[QuestionDigest, str]:
    """The digest and the same as CSV text."""
    found = pull_digest(database, event_id=event_id, status_filter=status_filter)
    return found, questions_csv(found)


def require_digest_reader(database: Database, *, workspace_id: int, event_id: int, slack_user_id: str) -> None:
    """For buttons on a digest: the event must still be this workspace's and the clicker its chair
    or organiser (a digest's buttons are checked again on every click, not trusted)."""
    with unit_of_work(database) as session:
        event = session.get(Event, event_id)
        if event is None or event.workspace_id != workspace_id:
            raise NoEventHere("That event no longer exists.")
        people.require_runner(session, event=event, slack_user_id=slack_user_id, action=ACTION)

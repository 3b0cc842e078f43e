"""Questions in Slack: posting cards, keeping them current, telling askers privately.

Card updates caused by votes are coalesced by `CardRefresher`: chat.update is a Tier 3 method
(about 50 calls a minute per workspace), and a room of 300 can click far faster than that. Each
card is redrawn from the database when its turn comes, so however many votes arrive in between,
one update shows them all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.db import Database, unit_of_work
from bot.events import people
from bot.events.rules import NoEventHere
from bot.models import Event, Question, QuestionStatus
from bot.questions import rules as questions
from bot.questions.blocks import answer_posted, approval_request, question_card, you_are_brought_in
from bot.questions.digest import (
    ACTION,
    QuestionDigest,
    StatusFilter,
    digest,
    questions_csv,
)
from bot.questions.rules import QuestionCard
from bot.slack import messages
from bot.slack.dm import send_dm
from bot.slack.text import escape, truncate

logger = logging.getLogger(__name__)

# chat.update's Tier 3 budget is ~50 a minute per workspace; stay just inside it.
CARD_UPDATES_PER_MINUTE = 48


def post_new_question(database: Database, client: WebClient, *, question_id: int) -> None:
    """An open question gets its card in the channel; one awaiting approval goes to the moderators."""
    with unit_of_work(database) as session:
        card = questions.card(session, question_id=question_id)
        moderators = questions.moderators_of(session, event_id=card.event_id)
    if card.status == QuestionStatus.AWAITING_APPROVAL:
        request = approval_request(card)
        for moderator in moderators:
            _dm(client, moderator, request)
        return
    message = question_card(card)
    response = client.chat_postMessage(channel=card.channel_id, **message.as_post())
    with unit_of_work(database) as session:
        questions.record_card(session, question_id=question_id, message_ts=response["ts"])


def refresh_card(database: Database, client: WebClient, *, question_id: int) -> None:
    with unit_of_work(database) as session:
        card = questions.card(session, question_id=question_id)
    if card.card_message_ts is None:
        return
    client.chat_update(channel=card.channel_id, ts=card.card_message_ts, **question_card(card).as_post())


def post_answer(database: Database, client: WebClient, *, question_id: int, answerer_slack_id: str) -> None:
    with unit_of_work(database) as session:
        card = questions.card(session, question_id=question_id)
    if card.card_message_ts:
        client.chat_postMessage(channel=card.channel_id, thread_ts=card.card_message_ts,
                                **answer_posted(card, answerer_slack_id).as_post())
        refresh_card(database, client, question_id=question_id)
    link = _permalink(client, card.channel_id, card.card_message_ts)
    tell_askers(database, client, question_id=question_id, message=messages.notice(
        "Your question has been answered" + (f": <{link}|see the answer>." if link else ".")))


def tell_askers(database: Database, client: WebClient, *, question_id: int, message: messages.Message) -> None:
    """A private word to everyone who asked (anonymous askers included: only they see it)."""
    with unit_of_work(database) as session:
        askers = questions.askers_to_tell(session, question_id=question_id)
    for asker in askers:
        _dm(client, asker, message)


def _dm(client: WebClient, user_id: str, message: messages.Message) -> None:
    try:
        send_dm(client, user_id=user_id, message=message)
    except SlackApiError as error:
        logger.warning("could not DM %s: %s", user_id, error.response.get("error"))


def _permalink(client: WebClient, channel_id: str, ts: str | None) -> str | None:
    if ts is None:
        return None
    try:
        return client.chat_getPermalink(channel=channel_id, message_ts=ts)["permalink"]
    except SlackApiError:
        return None


class CardRefresher:
    """Redraws question cards after votes, at most one update per card per turn, within budget."""

    def __init__(self, database: Database, client: WebClient,
                 updates_per_minute: int = CARD_UPDATES_PER_MINUTE) -> None:
        self.database = database
        self.client = client
        self.interval = 60.0 / updates_per_minute
        self._dirty: OrderedDict[int, None] = OrderedDict()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def mark(self, question_id: int) -> None:
        with self._changed:
            # A card already waiting keeps its place: its update will show this vote too.
            self._dirty.setdefault(question_id, None)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="card-refresher", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._dirty))
                question_id, _ = self._dirty.popitem(last=False)
            started = time.monotonic()
            try:
                refresh_card(self.database, self.client, question_id=question_id)
            except Exception:  # a failed redraw must not stop the others; the next vote retries it
                logger.exception("could not update the card of question %s", question_id)
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))


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


# --- the transactions behind the listeners ----------------------------------------------------------


def check_can_ask(database: Database, *, workspace_id: int, channel_id: str, text: str) -> QuestionStatus:
    with unit_of_work(database) as session:
        return questions.check_can_ask(session, workspace_id=workspace_id, channel_id=channel_id, text=text)


def store_question(database: Database, *, workspace_id: int, channel_id: str, asker_slack_id: str, text: str,
                   anonymous: bool = False, for_presenter_slack_id: str | None = None,
                   source_message_ts: str | None = None) -> Question:
    with unit_of_work(database) as session:
        return questions.ask(session, workspace_id=workspace_id, channel_id=channel_id, asker_slack_id=asker_slack_id,
                             text=text, anonymous=anonymous, for_presenter_slack_id=for_presenter_slack_id,
                             source_message_ts=source_message_ts)


def presenters_of(database: Database, *, workspace_id: int, channel_id: str) -> list[tuple[str, str]]:
    with unit_of_work(database) as session:
        return questions.presenters_of(session, workspace_id=workspace_id, channel_id=channel_id)


def moderate_and_redraw(database: Database, client: WebClient, change: Callable[..., Question], *, workspace_id: int,
                        question_id: int, by_slack_id: str, now: datetime) -> Question:
    """A one-click moderation (`change` is a rules function such as `mark_answered_live`), then the card redrawn."""
    with unit_of_work(database) as session:
        question = change(session, workspace_id=workspace_id, question_id=question_id, by_slack_id=by_slack_id, now=now)
    refresh_card(database, client, question_id=question.id)
    return question


def approve_and_post(database: Database, client: WebClient, *, workspace_id: int, question_id: int,
                     by_slack_id: str) -> None:
    with unit_of_work(database) as session:
        questions.approve(session, workspace_id=workspace_id, question_id=question_id, by_slack_id=by_slack_id)
    post_new_question(database, client, question_id=question_id)


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
    with unit_of_work(database) as session:
        questions.answer_in_writing(session, workspace_id=workspace_id, question_id=question_id,
                                    by_slack_id=by_slack_id, text=text, now=now)


def dismiss(database: Database, *, workspace_id: int, question_id: int, by_slack_id: str,
            reason: str) -> tuple[str, str]:
    """The question's text and the reason as stored, for the asker's notice."""
    with unit_of_work(database) as session:
        question = questions.dismiss(session, workspace_id=workspace_id, question_id=question_id,
                                     by_slack_id=by_slack_id, reason=reason)
        return question.text, question.dismissed_reason or ""


def tell_askers_of_dismissal(database: Database, client: WebClient, *, question_id: int, text: str,
                             reason: str) -> None:
    refresh_card(database, client, question_id=question_id)
    tell_askers(database, client, question_id=question_id, message=messages.notice(
        # Cut, so a question stored before texts were measured as shown still fits beside the reason.
        f"A chair removed your question _{truncate(escape(text), 1500)}_ from the Q&A. "
        f"Their reason: {truncate(escape(reason), 1000)}"))


def merge(database: Database, *, workspace_id: int, question_id: int, into_question_id: int, by_slack_id: str) -> int:
    """The id of the question that remains."""
    with unit_of_work(database) as session:
        return questions.merge(session, workspace_id=workspace_id, question_id=question_id,
                               into_question_id=into_question_id, by_slack_id=by_slack_id).id


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


def bring_in_next(database: Database, client: WebClient, *, event_id: int, channel_id: str,
                  now: datetime) -> tuple[str | None, list[str]]:
    """The person brought in (told by DM), if anyone was waiting, and who waits now."""
    with unit_of_work(database) as session:
        person = questions.bring_in_next(session, event_id=event_id, now=now)
        waiting = questions.speaking_queue(session, event_id=event_id)
    if person is not None:
        send_dm(client, user_id=person, message=you_are_brought_in(channel_id))
    return person, waiting

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

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot import questions
from bot.db import unit_of_work
from bot.models import QuestionStatus
from bot.slack import messages
from bot.slack.question_blocks import answer_posted, approval_request, question_card

logger = logging.getLogger(__name__)

# chat.update's Tier 3 budget is ~50 a minute per workspace; stay just inside it.
CARD_UPDATES_PER_MINUTE = 48


def post_new_question(sessions: sessionmaker[Session], client: WebClient, *, question_id: int) -> None:
    """An open question gets its card in the channel; one awaiting approval goes to the moderators."""
    with unit_of_work(sessions) as session:
        card = questions.card(session, question_id=question_id)
        moderators = questions.moderators_of(session, event_id=card.event_id)
    if card.status == QuestionStatus.AWAITING_APPROVAL:
        request = approval_request(card)
        for moderator in moderators:
            _dm(client, moderator, request)
        return
    message = question_card(card)
    response = client.chat_postMessage(channel=card.channel_id, **message.as_post())
    with unit_of_work(sessions) as session:
        questions.record_card(session, question_id=question_id, message_ts=response["ts"])


def refresh_card(sessions: sessionmaker[Session], client: WebClient, *, question_id: int) -> None:
    with unit_of_work(sessions) as session:
        card = questions.card(session, question_id=question_id)
    if card.card_message_ts is None:
        return
    client.chat_update(channel=card.channel_id, ts=card.card_message_ts, **question_card(card).as_post())


def post_answer(sessions: sessionmaker[Session], client: WebClient, *, question_id: int, answerer_slack_id: str) -> None:
    with unit_of_work(sessions) as session:
        card = questions.card(session, question_id=question_id)
    if card.card_message_ts:
        client.chat_postMessage(channel=card.channel_id, thread_ts=card.card_message_ts,
                                **answer_posted(card, answerer_slack_id).as_post())
        refresh_card(sessions, client, question_id=question_id)
    link = _permalink(client, card.channel_id, card.card_message_ts)
    tell_askers(sessions, client, question_id=question_id, message=messages.notice(
        "Your question has been answered" + (f": <{link}|see the answer>." if link else ".")))


def tell_askers(sessions: sessionmaker[Session], client: WebClient, *, question_id: int, message: messages.Message) -> None:
    """A private word to everyone who asked (anonymous askers included: only they see it)."""
    with unit_of_work(sessions) as session:
        askers = questions.askers_to_tell(session, question_id=question_id)
    for asker in askers:
        _dm(client, asker, message)


def _dm(client: WebClient, user_id: str, message: messages.Message) -> None:
    try:
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        client.chat_postMessage(channel=channel, **message.as_post())
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

    def __init__(self, sessions: sessionmaker[Session], client: WebClient,
                 updates_per_minute: int = CARD_UPDATES_PER_MINUTE) -> None:
        self.sessions = sessions
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
                refresh_card(self.sessions, self.client, question_id=question_id)
            except Exception:  # a failed redraw must not stop the others; the next vote retries it
                logger.exception("could not update the card of question %s", question_id)
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))

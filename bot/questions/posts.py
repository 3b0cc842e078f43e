"""What questions post through the outbox: cards, their redraws, answers in their threads, and private words.

Cards are rendered when they are sent, from the question as it is then: a card that waited behind
a rate limit shows the votes it has by the time it goes out, and a redraw shows every change made
before it. Redraws are paced across every process by the last one recorded in the database, so
several processes together stay inside chat.update's Tier 3 budget.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import home_tabs, outbox
from bot.events.posts import tell_organisers
from bot.models import Delivery, DeliveryStatus, Event, Question, QuestionStatus
from bot.outbox import Claimed, Kind, Prepared
from bot.questions import follow_ups
from bot.questions import rules as questions
from bot.questions.blocks import answer_posted, answered_dm, approval_request, question_card, upvoted_dm
from bot.questions.follow_up_blocks import close_out, owner_list
from bot.slack.messages import Message

# How long a row waits for the card it belongs to (still in the outbox) before looking again.
WAIT_FOR_CARD_SECONDS = 1.0


class QuestionCardPost:
    """A question's card in the event's channel."""

    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        assert item.subject_id is not None
        card = questions.card(session, question_id=item.subject_id)
        if card.status in (QuestionStatus.AWAITING_APPROVAL, QuestionStatus.DISMISSED, QuestionStatus.MERGED):
            # Dismissed or merged before its card went out: nobody needs to see it.
            return Prepared(channel=item.recipient, skip=f"question {card.status.value}")
        return Prepared(channel=item.recipient, message=question_card(card))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        assert item.subject_id is not None
        questions.record_card(session, question_id=item.subject_id, message_ts=ts)

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        if item.event_id is not None:
            tell_organisers(session, event_id=item.event_id, what="a question's card", error=error, now=now)


class CardRedraw:
    """A card redrawn to show its votes and status now (chat.update).

    Paced twice: by the last redraw any process recorded (so processes share the budget), and
    within this process by a reserved next slot (so its sender threads do not all see the same
    last redraw and go at once).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._slots: dict[int, float] = {}  # the slot reserved for each waiting row

    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        assert item.subject_id is not None
        # The turn first, before any rendering. Both waits count: a row put back for the shorter
        # one would only be claimed again to be told the longer.
        wait = max(self._turn(item.delivery_id, now), _redraw_wait(session, item, now))
        if wait > 0:
            return Prepared(channel=item.recipient, later=wait)
        # Given up only now: a row whose turn came while another process's redraw was still
        # too recent keeps its place rather than going to the back of the queue.
        with self._lock:
            self._slots.pop(item.delivery_id, None)
        card_ts = session.scalar(select(Question.card_message_ts).where(Question.id == item.subject_id))
        if card_ts is None:
            if outbox.pending_of(session, kind=questions.QUESTION_CARD, subject_id=item.subject_id):
                return Prepared(channel=item.recipient, later=WAIT_FOR_CARD_SECONDS)
            return Prepared(channel=item.recipient, skip="the question has no card")
        outbox.rendering(session, item)
        card = questions.card(session, question_id=item.subject_id)
        return Prepared(channel=item.recipient, update_ts=card.card_message_ts, message=question_card(card))

    def _turn(self, delivery_id: int, now: datetime) -> float:
        """0 when it is this row's turn; else how long until its slot, reserved the first time it asks,
        so rows waiting in a burst go one after another instead of all asking again at every slot."""
        with self._lock:
            clock = now.timestamp()
            slot = self._slots.get(delivery_id)
            if slot is None:
                slot = max(clock, self._next_slot)
                self._next_slot = slot + questions.REDRAW_PACE.total_seconds()
            self._slots[delivery_id] = slot
            return 0.0 if slot <= clock + 0.01 else slot - clock

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        pass  # the next change redraws it again; the card itself was posted


def _redraw_wait(session: Session, item: Claimed, now: datetime) -> float:
    """Seconds until this workspace may have another redraw, by the last one any process made."""
    last = session.scalar(select(func.max(Delivery.sent_at)).where(
        Delivery.kind == questions.CARD_REDRAW, Delivery.workspace_id == item.workspace_id,
        Delivery.status == DeliveryStatus.SENT))
    if last is None:
        return 0.0
    return (last + questions.REDRAW_PACE - now).total_seconds()


class AnswerPost:
    """A written answer in the card's thread (or in the channel, if the card never went out)."""

    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        assert item.subject_id is not None
        card = questions.card(session, question_id=item.subject_id)
        if card.card_message_ts is None and outbox.pending_of(
                session, kind=questions.QUESTION_CARD, subject_id=item.subject_id):
            return Prepared(channel=item.recipient, later=WAIT_FOR_CARD_SECONDS)
        answerer = (item.payload or {}).get("answerer") or ""
        return Prepared(channel=item.recipient, thread_ts=card.card_message_ts, message=answer_posted(card, answerer))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        if item.event_id is not None:
            tell_organisers(session, event_id=item.event_id, what="an answer to a question", error=error, now=now)

    def permalinked(self, session: Session, item: Claimed, permalink: str) -> None:
        """Where the answer is, for the close-out's links."""
        session.get_one(Question, item.subject_id).answer_permalink = permalink[:500]


class FollowUpList:
    """One owner's questions to answer after the event (a chair's, for the chairs'), as they stand when sent."""

    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        payload = item.payload or {}
        event = session.get_one(Event, item.subject_id)
        owner = payload.get("owner")
        rows = follow_ups.ledger(session, event_id=event.id, owner_slack_id=owner, only_owner=True)
        if not any(row.state == "open" for row in rows) and payload.get("nudge"):
            return Prepared(channel=item.recipient, skip="answered before the nudge went out")
        return Prepared(channel=item.recipient, message=owner_list(
            event_title=event.title, channel_id=event.channel_id, timezone=event.timezone, rows=rows,
            for_chairs=owner is None, nudge=payload.get("nudge"), now=now))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        if item.event_id is not None:
            tell_organisers(session, event_id=item.event_id, what="the list of questions to answer", error=error,
                            now=now)


class CloseOut:
    """In the channel, once the follow-ups are dealt with or their window ends: how questions were answered."""

    def prepare(self, session: Session, item: Claimed, now: datetime) -> Prepared:
        event = session.get_one(Event, item.subject_id)
        return Prepared(channel=item.recipient, message=close_out(
            event_title=event.title, outcomes=follow_ups.outcomes(session, event_id=event.id)))

    def sent(self, session: Session, item: Claimed, ts: str) -> None:
        pass

    def failed(self, session: Session, item: Claimed, error: str, now: datetime) -> None:
        if item.event_id is not None:
            tell_organisers(session, event_id=item.event_id, what="the close-out of the questions", error=error,
                            now=now)


def kinds() -> dict[str, Kind]:
    """This domain's kinds of post, new for each sender (some keep a pace of their own)."""
    return {questions.QUESTION_CARD: QuestionCardPost(), questions.CARD_REDRAW: CardRedraw(),
                questions.ANSWER_POST: AnswerPost(), follow_ups.FOLLOW_UP_LIST: FollowUpList(),
                follow_ups.CLOSE_OUT: CloseOut()}


# --- what is posted when ---------------------------------------------------------------------------


def question_asked(session: Session, *, question: Question, now: datetime) -> None:
    """An open question gets its card; one awaiting approval goes to each moderator privately."""
    if question.status != QuestionStatus.AWAITING_APPROVAL:
        questions.request_card(session, question=question, now=now)
        return
    home_tabs.refresh_for_questions(session, question_ids=[question.id], now=now)  # the moderators' queue
    card = questions.card(session, question_id=question.id)
    request = approval_request(card)
    for moderator in questions.moderators_of(session, event_id=question.event_id):
        _tell(session, question=question, recipient=moderator, message=request, now=now,
              key=f"approval:{question.id}:{moderator}")


def question_answered(session: Session, *, question: Question, answerer_slack_id: str, now: datetime) -> None:
    """The answer in the card's thread, the card redrawn, and every asker told what was answered."""
    questions.request_answer_post(session, question=question, answerer_slack_id=answerer_slack_id, now=now)
    questions.request_redraw(session, question_id=question.id, now=now)
    card = questions.card(session, question_id=question.id)
    message = answered_dm(card)
    tell_askers(session, question=question, message=message, now=now, key="answered")
    # Everyone who upvoted it wanted the answer too.
    upvoted = upvoted_dm(card)
    for voter in follow_ups.upvoters_to_tell(session, question_id=question.id):
        _tell(session, question=question, recipient=voter, message=upvoted, now=now,
              key=f"answered-upvoter:{question.id}:{voter}")


def follow_up_list(session: Session, *, event: Event, owner_slack_id: str | None, now: datetime,
                   nudge: str | None = None, key: str) -> None:
    """An owner's list of questions by DM (each chair's, for the chairs' questions)."""
    for recipient in follow_ups.recipients_for(session, event=event, owner_slack_id=owner_slack_id):
        outbox.enqueue(session, kind=follow_ups.FOLLOW_UP_LIST, recipient=recipient, now=now,
                       workspace_id=event.workspace_id, event_id=event.id, subject_id=event.id,
                       payload={"owner": owner_slack_id, "nudge": nudge}, dedupe_key=f"{key}:{recipient}"[:128])


def close_out_posted(session: Session, *, event: Event, now: datetime) -> None:
    outbox.enqueue(session, kind=follow_ups.CLOSE_OUT, recipient=event.channel_id, now=now,
                   workspace_id=event.workspace_id, event_id=event.id, subject_id=event.id,
                   dedupe_key=f"close-out:{event.id}")


def tell_askers(session: Session, *, question: Question, message: Message, now: datetime, key: str) -> None:
    """A private word to everyone who asked (anonymous askers included: only they see it)."""
    for asker in questions.askers_to_tell(session, question_id=question.id):
        _tell(session, question=question, recipient=asker, message=message, now=now,
              key=f"{key}:{question.id}:{asker}")


def tell(session: Session, *, event_id: int, recipient: str, message: Message, now: datetime, key: str) -> None:
    event = session.get_one(Event, event_id)
    outbox.notice(session, recipient=recipient, message=message, now=now, workspace_id=event.workspace_id,
                  event_id=event.id, dedupe_key=key[:128])


def _tell(session: Session, *, question: Question, recipient: str, message: Message, now: datetime, key: str) -> None:
    tell(session, event_id=question.event_id, recipient=recipient, message=message, now=now, key=key)

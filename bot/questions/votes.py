"""Upvotes recorded off the request path, in small batches.

In a burst (a room of 300 clicking at once) each click's acknowledgement must not wait behind
other clicks' database writes: Bolt acks from inside the listener, so a listener busy in the
database delays its own ack and queues the next ones. Clicks are therefore queued here and written
by one thread, many to a transaction, and each card touched is marked for a coalesced redraw.

The queue is in memory: votes clicked in the last moments before a crash are lost (the voter sees
their vote missing from the count and clicks again); questions themselves are stored before the ack.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.db import Database, unit_of_work
from bot.questions import rules as questions

logger = logging.getLogger(__name__)

BATCH_SIZE = 200


@dataclass(frozen=True)
class Click:
    workspace_id: int
    question_id: int
    voter_slack_id: str
    at: datetime
    # Tells the voter privately why a click did not count (e.g. the question was answered).
    refuse: Callable[[str], None]


class VoteRecorder:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._clicks: queue.Queue[Click] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, click: Click) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vote-recorder", daemon=True)
                self._thread.start()
        self._clicks.put(click)

    def wait_until_recorded(self) -> None:
        """For tests and shutdown: block until every queued click is written."""
        self._clicks.join()

    def _run(self) -> None:
        while True:
            batch = [self._clicks.get()]
            while len(batch) < BATCH_SIZE:
                try:
                    batch.append(self._clicks.get_nowait())
                except queue.Empty:
                    break
            try:
                self._record(batch)
            finally:
                for _ in batch:
                    self._clicks.task_done()

    def _record(self, batch: list[Click]) -> None:
        touched: set[int] = set()
        refusals: list[tuple[Click, str]] = []
        try:
            with unit_of_work(self.database) as session:
                touched, refused = questions.record_votes(session, clicks=[
                    questions.VoteClick(click.workspace_id, click.question_id, click.voter_slack_id, click.at)
                    for click in batch])
                refusals = [(batch[index], reason) for index, reason in refused]
                # Written with the votes, so no redraw is forgotten if this process stops next.
                questions.request_redraws(session, question_ids=touched, now=max(click.at for click in batch))
        except Exception:
            logger.exception("could not record %d votes; recording them one by one", len(batch))
            if len(batch) > 1:
                for click in batch:
                    self._record([click])
            return
        for click, reason in refusals:
            try:
                click.refuse(reason)
            except Exception:
                logger.warning("could not tell %s why their vote did not count", click.voter_slack_id)

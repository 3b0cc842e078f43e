"""Upvotes recorded off the request path, in small batches.

In a burst (a room of 300 clicking at once) each click's acknowledgement must not wait behind
other clicks' database writes: Bolt acks from inside the listener, so a listener busy in the
database delays its own ack and queues the next ones. Clicks are therefore queued here and written
by one thread, many to a transaction, and each card touched is marked for a coalesced redraw.

A write costs about the same for one click as for fifty (a fixed handful of statements), and the
writer shares the web process's GIL with every acknowledgement. So in a burst it writes at most
once every `WRITE_EVERY_SECONDS`, taking all the clicks that came meanwhile; a lone click is
written at once.

The queue is in memory, so each click is first appended to the process's journal
(bot/questions/journal.py): a process killed before it wrote them leaves its clicks to the next
process on the host, which writes each exactly once. A process that is stopped (SIGTERM) writes
what is queued before it exits.

Each voter is then told privately whether their click counted, only after the write committed, so
what they are told is what is stored: a vote taken back or refused (and why), every time; a vote
that counts, the first time in an event (a room voting on thirty questions does not want thirty
"your vote counts" lines, and each would cost a call to Slack).
Telling is an HTTP call per click, so it runs on a few threads of its own: the writer goes back to
the queue at once, and no acknowledgement waits on it.

A database that stops answering does not lose acknowledged clicks: they wait, and are written
when it answers again. If it has not answered within `OUTAGE_PATIENCE_SECONDS`, or the process is
stopping, each voter is told privately that their vote was not counted, so they can click again.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.clock import utcnow
from bot.db import Database, unit_of_work
from bot.errors import DatabaseUnavailable
from bot.questions import journal
from bot.questions import rules as questions

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# One write a second at most: at a room's pace (tens of clicks a second) a batch holds a few dozen
# clicks. A click waits a second at most to be written (its card is redrawn a second or more later
# in any case); four writes a second cost the process 2.6 times the CPU for the same clicks (the
# writer's own CPU time in bench/qa_burst.py: 0.86 s against 0.33 s for 3,000 clicks).
WRITE_EVERY_SECONDS = 1.0
# How long a stopping process waits for queued clicks to be written.
DRAIN_SECONDS = 5.0
# Clicks wait this long for a database that stopped answering. A voter's response_url lasts 30
# minutes; two minutes covers a failover or a restart of the database without leaving a voter
# wondering for long whether their vote counted.
OUTAGE_PATIENCE_SECONDS = 120.0
RETRY_EVERY_SECONDS = 1.0
NOT_COUNTED = ("Your upvote was not counted: eventbot's database is not answering. "
               "Please click Upvote again in a few minutes.")
# Threads telling voters what became of their clicks (each a post to the click's response_url).
TELLING_THREADS = 4
COUNTS = ("Your vote counts. Click Upvote again to take it back. From now on you hear from me only "
          "when a click of yours does not add a vote.")
TAKEN_BACK = "Your vote was taken back, so it no longer counts."


@dataclass(frozen=True)
class Click:
    workspace_id: int
    question_id: int
    voter_slack_id: str
    at: datetime
    # Tells the voter privately whether the click counted, and if not, why (e.g. the question was answered).
    tell: Callable[[str], None]
    # Its number in this process's journal (0: not journalled).
    seq: int = 0


class VoteRecorder:
    def __init__(self, database: Database, *, patience: float = OUTAGE_PATIENCE_SECONDS,
                 journal_directory: Path | None = None) -> None:
        self.database = database
        self.patience = patience
        self.journal_directory = journal_directory
        self._journal: journal.Journal | None = None
        self._clicks: queue.Queue[Click] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._telling = ThreadPoolExecutor(max_workers=TELLING_THREADS, thread_name_prefix="vote-telling")
        # (workspace, event, voter) told that their votes count. Held in memory: after a restart a
        # voter may hear it once more, which is harmless.
        self._told_counts: set[tuple[int, int, str]] = set()

    def start(self) -> None:
        """Start writing (and, with a journal, take over what processes that died left in theirs)."""
        with self._lock:
            if self._thread is None:
                if self.journal_directory is not None:
                    self._journal = journal.Journal(self.journal_directory)
                self._thread = threading.Thread(target=self._run, name="vote-recorder", daemon=True)
                self._thread.start()
                atexit.register(self._stop)

    def submit(self, click: Click) -> None:
        self.start()
        if self._journal is None:
            self._clicks.put(click)
            return
        with self._journal.lock:
            seq = self._journal.append(journal.Entry(0, click.workspace_id, click.question_id, click.voter_slack_id,
                                                     click.at).record())
            self._clicks.put(replace(click, seq=seq))

    def _stop(self) -> None:
        if self.drain() and self._journal is not None:
            # Every click in the journal is settled: nobody needs it.
            self._journal.close(remove=True)
            try:
                with unit_of_work(self.database) as session:
                    journal.forget(session, name=self._journal.name)
            except DatabaseUnavailable:
                pass  # a row for a file that is gone is ignored

    def wait_until_recorded(self) -> None:
        """For tests: block until every queued click is written (or its voter told it was not)."""
        self._clicks.join()

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait (at most `timeout`) until every queued click is written; False if some were not.

        Clicks still waiting for the database are not waited on: their voters are told at once.
        """
        self._stopping.set()
        deadline = time.monotonic() + timeout
        with self._clicks.all_tasks_done:
            while self._clicks.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    logger.warning("stopping with %d votes not written", self._clicks.unfinished_tasks)
                    return False
                self._clicks.all_tasks_done.wait(left)
        return True

    def _run(self) -> None:
        last_write = float("-inf")
        waiting: list[Click] = []  # acknowledged clicks the database could not take yet
        waiting_since = 0.0
        self._look_for_orphans()
        while True:
            if waiting:
                try:
                    batch = [*waiting, self._clicks.get(timeout=RETRY_EVERY_SECONDS)]
                except queue.Empty:
                    batch = list(waiting)
            else:
                try:
                    batch = [self._clicks.get(timeout=journal.ADOPT_EVERY_SECONDS)]
                except queue.Empty:
                    self._look_for_orphans()
                    continue
                # The clicks that come while this one waits for its turn share its write.
                time.sleep(max(0.0, last_write + WRITE_EVERY_SECONDS - time.monotonic()))
            last_write = time.monotonic()
            while len(batch) < BATCH_SIZE + len(waiting):
                try:
                    batch.append(self._clicks.get_nowait())
                except queue.Empty:
                    break
            unwritten = self._record(batch)
            self._finish(batch[:len(batch) - len(unwritten)])
            if self._journal is not None:
                self._journal.empty_if(lambda: self._clicks.unfinished_tasks == 0)
            if not unwritten:
                if waiting:
                    logger.info("the database answers again: %d votes that waited for it are written", len(waiting))
                waiting = []
                continue
            if not waiting:
                waiting_since = time.monotonic()
                logger.warning("the database is not answering: %d acknowledged votes wait for it", len(unwritten))
            waiting = unwritten
            if self._stopping.is_set() or time.monotonic() - waiting_since >= self.patience:
                logger.warning("telling %d voters their votes were not counted: the database did not answer",
                               len(waiting))
                for click in waiting:
                    self._telling.submit(self._tell, click, NOT_COUNTED)
                if self._journal is not None:
                    # Told they were not counted: written later, they would count behind the voter's back.
                    self._journal.settle(max(click.seq for click in waiting))
                self._finish(waiting)
                waiting = []

    def _finish(self, clicks: list[Click]) -> None:
        for _ in clicks:
            self._clicks.task_done()

    def _record(self, batch: list[Click]) -> list[Click]:
        """Write the clicks; return those the database did not take because it did not answer.

        A click is a toggle, so one that was written must never be written again.
        """
        answers: list[tuple[Click, str]] = []
        try:
            with unit_of_work(self.database) as session:
                # The redraws are written with the votes, so none is forgotten if this process stops next.
                event_of, refused, stands = questions.record_votes(session, clicks=[
                    questions.VoteClick(click.workspace_id, click.question_id, click.voter_slack_id, click.at)
                    for click in batch], redraw_at=max(click.at for click in batch))
                if self._journal is not None:
                    journal.mark_written(session, name=self._journal.name, through=max(c.seq for c in batch),
                                         now=utcnow())
                answers = [(batch[index], reason) for index, reason in refused]
                for index, counts in sorted(stands.items()):
                    click = batch[index]
                    if not counts:
                        answers.append((click, TAKEN_BACK))
                        continue
                    voter = (click.workspace_id, event_of[click.question_id], click.voter_slack_id)
                    if voter not in self._told_counts:
                        self._told_counts.add(voter)
                        answers.append((click, COUNTS))
        except DatabaseUnavailable:
            return batch
        except Exception:
            logger.exception("could not record %d votes; recording them one by one", len(batch))
            if len(batch) == 1:
                return []  # logged above: a click the rules cannot take is not retried
            for position, click in enumerate(batch):
                if self._record([click]):
                    return batch[position:]
            return []
        for click, answer in answers:
            self._telling.submit(self._tell, click, answer)
        return []

    def _look_for_orphans(self) -> None:
        # Whatever goes wrong there, this thread must go on writing the clicks it is given.
        try:
            self._adopt_orphans()
        except Exception:
            logger.exception("could not look for votes left by a stopped web process")

    def _adopt_orphans(self) -> None:
        """Write the clicks that processes which died left in their journals, each exactly once."""
        if self.journal_directory is None or not self.journal_directory.is_dir():
            return
        own = self._journal.name if self._journal is not None else None
        for path in journal.others(self.journal_directory, own):
            with journal.orphan(path) as found:
                if found is None:
                    continue  # its process lives
                entries = [entry for entry in map(journal.Entry.of, found) if entry is not None]
                try:
                    with unit_of_work(self.database) as session:
                        through = journal.written_through(session, name=path.stem)
                        left = [entry for entry in entries if entry.seq > through]
                        if left:
                            questions.record_votes(session, clicks=[
                                questions.VoteClick(e.workspace_id, e.question_id, e.voter_slack_id, e.at)
                                for e in left], redraw_at=utcnow())
                            journal.mark_written(session, name=path.stem, through=left[-1].seq, now=utcnow())
                except DatabaseUnavailable:
                    return  # the next look tries again
                except Exception:
                    logger.exception("could not write the votes in %s; it is set aside", path.name)
                    path.rename(path.with_suffix(".unreadable"))
                    continue
                if left:
                    logger.warning("wrote %d acknowledged votes that a stopped web process had not written (%s)",
                                   len(left), path.stem)
                path.unlink(missing_ok=True)
            try:
                with unit_of_work(self.database) as session:
                    journal.forget(session, name=path.stem)
            except DatabaseUnavailable:
                return

    @staticmethod
    def _tell(click: Click, answer: str) -> None:
        try:
            click.tell(answer)
        except Exception:
            logger.warning("could not tell %s what became of their vote", click.voter_slack_id)

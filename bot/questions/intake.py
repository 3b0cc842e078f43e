"""`/ask` questions acknowledged but not yet stored, journalled so that none is lost with its process.

`/ask` is checked, acknowledged, then stored, and the asker told "posted" through the command's
response URL (handlers/asking.py): the writes do not hold up acknowledgements in a burst. A web
process killed between the ack and the commit took the question with it, and its asker heard
nothing. So each question is journalled first (bot/questions/journal.py, in a folder of its own),
and marked done once it is stored or its asker told why not. When the process that took it is
gone, the next one on the host stores it and tells the asker through the same response URL
(Slack keeps one for 30 minutes).

Storing it again is harmless: the same words from the same person within ten minutes are one
question (`AskedAgain`), so one stored just before the kill is not added twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.clock import utcnow
from bot.db import Database
from bot.errors import DatabaseUnavailable, UserError
from bot.questions import blocks, journal
from bot.questions import slack as questions_slack
from bot.questions.rules import AskedAgain
from bot.slack.messages import Message, notice, ok

logger = logging.getLogger(__name__)

STORED_AFTER_A_RESTART = ("Your question is stored: eventbot was restarting as you asked, so this took a "
                          "moment. It appears in the channel once it is posted.")


def tell_by_response_url(response_url: str, message: Message) -> None:
    WebhookClient(response_url, timeout=10).send_dict({**message.as_ephemeral(), "replace_original": False})


class AskIntake:
    def __init__(self, database: Database, directory: Path, *,
                 tell: Callable[[str, Message], None] = tell_by_response_url) -> None:
        self.database = database
        self.directory = directory
        self.tell = tell
        self._journal: journal.Journal | None = None
        self._open = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self, *, take_over: bool = True) -> None:
        """Journal from now on and, with `take_over`, store what processes that died left in their
        journals (now, then every few seconds)."""
        with self._lock:
            if self._journal is not None:
                return
            self._journal = journal.Journal(self.directory)
        if take_over:
            threading.Thread(target=self._look_for_orphans, name="ask-intake", daemon=True).start()

    @contextmanager
    def taking(self, *, workspace_id: int, channel_id: str, asker_slack_id: str, text: str,
               response_url: str | None) -> Iterator[None]:
        """Around acknowledging and storing one question: journalled before, done after (stored,
        or its asker told why not)."""
        self.start()
        own = self._journal
        assert own is not None
        if not response_url:
            yield  # nobody could be told after a restart: nothing to journal for
            return
        with own.lock:
            seq = own.append({"workspace_id": workspace_id, "channel_id": channel_id, "asker": asker_slack_id,
                              "text": text, "response_url": response_url})
            self._open += 1
        try:
            yield
        finally:
            own.done(seq)
            with own.lock:
                self._open -= 1
            own.empty_if(lambda: self._open == 0)

    def stop(self) -> None:
        self._stopping.set()

    def _look_for_orphans(self) -> None:
        while not self._stopping.is_set():
            try:
                self.store_orphans()
            except Exception:
                logger.exception("could not look for questions left by a stopped web process")
            self._stopping.wait(journal.ADOPT_EVERY_SECONDS)

    def store_orphans(self) -> int:
        """Store the questions that processes which died had acknowledged; how many were found."""
        if not self.directory.is_dir():
            return 0
        own = self._journal.name if self._journal is not None else None
        found = 0
        for path in journal.others(self.directory, own):
            with journal.orphan(path) as records:
                if records is None:
                    continue  # its process lives
                for record in records:
                    try:
                        message = self._store(record)
                    except DatabaseUnavailable:
                        return found  # the file stays; the next look tries again
                    found += 1
                    try:
                        self.tell(str(record["response_url"]), message)
                    except (SlackApiError, OSError, ValueError) as error:
                        logger.warning("could not tell %s what became of their question: %s", record.get("asker"), error)
                if records:
                    logger.warning("stored %d acknowledged questions that a stopped web process had not stored (%s)",
                                   len(records), path.stem)
                path.unlink(missing_ok=True)
        return found

    def _store(self, record: dict) -> Message:
        try:
            question = questions_slack.ask(
                self.database, workspace_id=int(record["workspace_id"]), channel_id=str(record["channel_id"]),
                asker_slack_id=str(record["asker"]), text=str(record["text"]), now=utcnow())
        except AskedAgain:
            return ok(STORED_AFTER_A_RESTART)
        except DatabaseUnavailable:
            raise
        except UserError as error:  # the event closed meanwhile, say
            return notice(str(error))
        return blocks.asked(question.status)

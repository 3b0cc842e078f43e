"""A journal of acknowledged upvote clicks, so that a web process killed in a burst loses none.

Clicks are acknowledged at once and written a moment later, many to a transaction
(bot/questions/votes.py). A process killed in between (kill -9, the kernel's out-of-memory killer,
a crash) used to take the clicks it held with it. So each click is first appended to a file of
the process's own, one line of JSON (a write() of a hundred bytes, not a transaction on the ack
path), and the transaction that writes clicks records how far that file is written
(`vote_journals`): a click is a toggle, and one applied twice would be undone.

Each file stays locked (flock) while its process lives. A file whose lock can be taken belongs to
a process that died: the next process on the host to look (web processes, at start-up and then
every `ADOPT_EVERY_SECONDS`) writes the clicks in it beyond that mark, then removes it. A file is
emptied whenever every click in it is settled, so it stays small.

The journal lives as long as the host's disk: a machine that is lost takes with it the clicks of
the last write interval (a quarter of a second), as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.models import VoteJournal

logger = logging.getLogger(__name__)

ADOPT_EVERY_SECONDS = 5.0
SUFFIX = ".jsonl"


@dataclass(frozen=True)
class Entry:
    """A click as journalled."""

    seq: int
    workspace_id: int
    question_id: int
    voter_slack_id: str
    at: datetime

    def record(self) -> dict[str, object]:
        return {"workspace_id": self.workspace_id, "question_id": self.question_id, "voter": self.voter_slack_id,
                "at": self.at.isoformat()}

    @classmethod
    def of(cls, record: dict) -> Entry | None:
        try:
            return cls(int(record["seq"]), int(record["workspace_id"]), int(record["question_id"]),
                       str(record["voter"]), datetime.fromisoformat(record["at"]))
        except (ValueError, KeyError, TypeError):
            return None


def default_directory(database_url: str) -> Path:
    """One folder per database on the host, so every web process of one eventbot finds the others'."""
    safe = make_url(database_url).render_as_string(hide_password=True)
    return Path(tempfile.gettempdir()) / "eventbot-votes" / hashlib.sha256(safe.encode()).hexdigest()[:16]


class Journal:
    """This process's file. `lock` is held around an append and whatever must happen with it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lock = threading.Lock()
        self._seq = 0
        # Locked before it takes the name other processes look for: they never see it unlocked.
        unnamed = directory / f"{self.name}.new"
        self._fd = os.open(unnamed, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.rename(unnamed, self.path)

    @property
    def path(self) -> Path:
        return self.directory / f"{self.name}{SUFFIX}"

    def append(self, record: dict[str, object]) -> int:
        """Write one record down (the caller holds `lock`); its number in this journal."""
        self._seq += 1
        self._write({"seq": self._seq, **record})
        return self._seq

    def settle(self, through: int) -> None:
        """Records up to `through` are settled without being written (their people were told so)."""
        with self.lock:
            self._write({"settled_through": through})

    def done(self, seq: int) -> None:
        """One record is settled (records settled out of order, as concurrent requests finish)."""
        with self.lock:
            self._write({"done": seq})

    def empty_if(self, nothing_pending: Callable[[], bool]) -> None:
        """Empty the file when every click in it is settled (asked under `lock`, so no append is half done)."""
        with self.lock:
            if nothing_pending():
                os.ftruncate(self._fd, 0)

    def close(self, *, remove: bool) -> None:
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)

    def _write(self, record: dict[str, object]) -> None:
        # One write() per line, to a file opened for appending: a kill leaves whole lines, or a
        # last line cut short, which reading skips.
        os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())


@contextmanager
def orphan(path: Path) -> Iterator[list[dict] | None]:
    """The records in another process's journal not yet settled in it, if that process is gone (the
    file's lock can be taken); None while it lives. The lock is held until the block ends."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        with os.fdopen(os.dup(fd), "rb") as readable:
            yield _unsettled(readable.read().decode("utf-8", "replace"))
    finally:
        os.close(fd)


def others(journal_directory: Path, own: str | None) -> list[Path]:
    return sorted(p for p in journal_directory.glob(f"*{SUFFIX}") if p.stem != own)


def _unsettled(text: str) -> list[dict]:
    records: list[dict] = []
    settled, done = 0, set()
    for line in text.splitlines():
        try:
            record = json.loads(line)
            if "settled_through" in record:
                settled = max(settled, int(record["settled_through"]))
            elif "done" in record:
                done.add(int(record["done"]))
            else:
                records.append({**record, "seq": int(record["seq"])})
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a line cut short by the kill
    return [r for r in records if r["seq"] > settled and r["seq"] not in done]


# --- how far each journal is written: in the transactions that write its clicks ----------------------


def written_through(session: Session, *, name: str) -> int:
    return session.scalar(select(VoteJournal.written_through).where(VoteJournal.name == name)) or 0


def mark_written(session: Session, *, name: str, through: int, now: datetime) -> None:
    session.execute(_MARK_WRITTEN[session.get_bind().dialect.name == "postgresql"],
                    {"name": name, "written_through": through, "updated_at": now})


def _upsert(insert: Any) -> Any:
    statement = insert(VoteJournal.__table__)
    return statement.on_conflict_do_update(index_elements=["name"], set_={
        "written_through": statement.excluded.written_through, "updated_at": statement.excluded.updated_at})


# Built once: every vote batch runs it, on the GIL the web process's acks need.
_MARK_WRITTEN = {False: _upsert(sqlite.insert), True: _upsert(postgresql.insert)}


def forget(session: Session, *, name: str) -> None:
    session.execute(delete(VoteJournal).where(VoteJournal.name == name))

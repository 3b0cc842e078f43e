"""SQLite under concurrent writers: transactions queue for the write lock instead of failing.

The vote writer and the listener threads read a row, then update it. Left to the sqlite3 module,
such a transaction begins only at its first write, so the read before it can be stale by then
(an update lost); inside a savepoint, as the vote writer runs, it begins at the read and must
upgrade its lock to write, which SQLite refuses at once with "database is locked" when another
connection wrote meanwhile (busy_timeout cannot help: the reader's snapshot is stale).
"""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text, update

from bot import db

THREADS = 8
TRANSACTIONS_EACH = 50

metadata = MetaData()
counters = Table("counters", metadata, Column("id", Integer, primary_key=True), Column("value", Integer))


@pytest.mark.parametrize("in_savepoint", [False, True], ids=["plain", "savepoint"])
def test_read_then_write_transactions_from_many_threads_all_commit(tmp_path: Path, in_savepoint: bool) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'writers.sqlite3'}")
    metadata.create_all(engine)
    database = db.make_session_factory(engine)
    with db.unit_of_work(database) as session:
        session.execute(counters.insert().values(id=1, value=0))
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer() -> None:
        start.wait()
        for _ in range(TRANSACTIONS_EACH):
            try:
                with db.unit_of_work(database) as session, (session.begin_nested() if in_savepoint else nullcontext()):
                    value = session.scalar(select(counters.c.value).where(counters.c.id == 1))
                    session.execute(update(counters).where(counters.c.id == 1).values(value=value + 1))
            except Exception as error:  # noqa: BLE001 - collected and asserted on below
                failures.append(error)

    threads = [threading.Thread(target=writer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert [str(error) for error in failures[:3]] == []
        with db.unit_of_work(database) as session:
            # Every increment is there: none failed and none was lost to a stale read.
            assert session.scalar(select(counters.c.value)) == THREADS * TRANSACTIONS_EACH
    finally:
        engine.dispose()



def test_the_health_check_does_not_wait_behind_a_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'health.sqlite3'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    database = db.make_session_factory(engine)
    try:
        with db.unit_of_work(database) as session:
            session.execute(text("UPDATE alembic_version SET version_num = version_num"))
            started = time.monotonic()
            assert db.database_answers(engine)
            # A writer holds the lock for as long as this block lasts: a health check queueing
            # for it would wait out busy_timeout (30 s) and then report the database down.
            assert time.monotonic() - started < 5
    finally:
        engine.dispose()

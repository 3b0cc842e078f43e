"""Scratch PostgreSQL databases, for the tests and the benchmarks alike."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from bot.config import normalise_database_url


@contextmanager
def scratch_postgres(server_url: str, *, prefix: str = "eventbot_test") -> Iterator[str]:
    """A new, empty database on the server (its URL), dropped afterwards even if connections remain."""
    admin_url = make_url(normalise_database_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def counting_queries(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends inside the block, to check a query count stays constant."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


class Outage:
    def __init__(self, seconds: float) -> None:
        self.ends_at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.ends_at - time.monotonic())


@contextmanager
def database_outage(database_url: str, *, seconds: float) -> Iterator[Outage]:
    """The database stops answering the app for `seconds` (from entering the block), then comes back.

    PostgreSQL: the database refuses new connections and its open ones are ended, as when the
    server goes away. SQLite, an embedded file that cannot be stopped: another connection holds
    the write lock, so the app's writes wait out their busy timeout and fail.
    """
    outage = Outage(seconds)
    url = make_url(normalise_database_url(database_url))
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield outage
            time.sleep(outage.remaining())
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    name = url.database
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        yield outage
        time.sleep(outage.remaining())
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()

"""Engine, transactions and migrations.

One engine per process. SQLite is the embedded default and PostgreSQL the production database;
the differences that matter (foreign keys off by default, one writer at a time) are settled here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bot.errors import DatabaseUnavailable

# The session factory: each call is a new `Session`; `unit_of_work(database)` is one transaction.
Database = sessionmaker[Session]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(database_url: str, *, echo: bool = False, pooled: bool = True) -> Engine:
    """`pooled=False` is for one-shot commands (migrations) that should leave no connection open.

    Parameters are hidden from SQLAlchemy's errors and logs: a failed statement would otherwise
    print what it was given, a bot token or a person's words among them.
    """
    pool_options: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            echo=echo,
            hide_parameters=True,
            **pool_options,
            # Bolt runs listeners on worker threads; each checks out its own connection.
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    if pooled:
        pool_options = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}
    return create_engine(database_url, echo=echo, hide_parameters=True, **pool_options)


# Execution option for a connection that only reads (the health check): it begins DEFERRED.
READ_ONLY = "eventbot_read_only"


def _configure_sqlite_connection(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    # The sqlite3 module's own BEGIN comes late (before the first INSERT/UPDATE/DELETE, so reads
    # before it see no transaction at all) and DEFERRED; with its BEGIN off, we emit our own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, and WAL lets readers carry on during a write.
    cursor.execute("PRAGMA foreign_keys=ON")
    if not _is_memory_database(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_sqlite_transaction(connection) -> None:  # type: ignore[no-untyped-def]
    """Take SQLite's write lock when a transaction begins, not at its first write.

    A DEFERRED transaction that has read and then writes must upgrade its lock; if another
    connection wrote in between, SQLite fails it at once with "database is locked" (waiting
    cannot help: its snapshot is stale). Taking the lock up front makes writers queue under
    busy_timeout instead. Every transaction does, reads included: a `unit_of_work` does not say
    whether it will write, transactions are short, and under WAL the cost is that reads queue
    behind writes. The health check opts out (READ_ONLY) so that a burst of writes cannot make a
    healthy process look dead.
    """
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _is_memory_database(dbapi_connection) -> bool:  # type: ignore[no-untyped-def]
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return any(row[1] == "main" and not row[2] for row in rows)


def make_session_factory(engine: Engine) -> Database:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(database: Database) -> Iterator[Session]:
    """A transaction: committed when the block ends, rolled back whole if anything raises.

    A database that cannot be reached (or stays locked past the busy timeout) raises
    `DatabaseUnavailable`, a refusal the person who asked is shown: nothing was saved.
    """
    try:
        with database() as session, session.begin():
            yield session
    except (OperationalError, InterfaceError, PoolTimeoutError) as error:
        logger.warning("the database did not answer: %s", str(error).splitlines()[0])
        raise DatabaseUnavailable() from error


@contextmanager
def reading(database: Database) -> Iterator[Session]:
    """A transaction that only reads. On SQLite it does not queue behind writers (WAL lets it read
    while they write), so a check made before Slack's 3-second ack is never held up by a burst."""
    with unit_of_work(database) as session:
        session.connection(execution_options={READ_ONLY: True})
        yield session


def database_answers(engine: Engine) -> bool:
    """True when the database answers a query against our schema (not merely accepts a connection:
    a SQLite file that went missing would be recreated empty and still answer `SELECT 1`)."""
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).first() is not None
    except Exception:
        return False


def connect_once(database_url: str) -> None:
    """Open one connection and close it: raises the driver's error when the database cannot be reached."""
    engine = make_engine(database_url, pooled=False)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def alembic_config(database_url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on % in passwords.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url, pooled=False)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()

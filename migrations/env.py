"""Alembic environment: the URL comes from eventbot's settings, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from bot import models
from bot.config import load_settings
from bot.db import make_engine

config = context.config
target_metadata = models.Base.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url if url else load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = make_engine(_database_url(), pooled=False)
    try:
        with engine.connect() as connection:
            _run_with(connection)
    finally:
        engine.dispose()


def _render_item(type_: str, obj: object, autogen_context) -> str | bool:  # type: ignore[no-untyped-def]
    # Migrations must not import the app's models (they change; old migrations must not), so
    # our UTC-enforcing column type is written out as the plain type it stores.
    if type_ == "type" and isinstance(obj, models.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_with(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Batch mode rewrites tables on SQLite, which cannot ALTER constraints; a no-op on PostgreSQL.
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

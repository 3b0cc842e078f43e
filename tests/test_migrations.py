"""Models and migrations agree, and migrations run both ways, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot import db
from bot.models import Base


def _schema_differences(url: str) -> list:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_create_exactly_what_the_models_describe(migrated_url: str) -> None:
    assert _schema_differences(migrated_url) == []


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    db.upgrade(database_url)
    expected = set(Base.metadata.tables) | {"alembic_version"}
    assert _tables(database_url) == expected

    db.downgrade(database_url, "base")
    assert _tables(database_url) <= {"alembic_version"}
    assert db.current_revision(database_url) is None

    db.upgrade(database_url)
    assert _tables(database_url) == expected
    assert _schema_differences(database_url) == []


def test_a_model_change_without_a_migration_is_noticed(migrated_url: str) -> None:
    """Guards the guard: the comparison above would see a forgotten migration."""
    from sqlalchemy import Column, Integer, MetaData, Table

    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("forgotten", extra, Column("id", Integer, primary_key=True))

    engine = db.make_engine(migrated_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), extra)
    finally:
        engine.dispose()
    assert [entry[0] for entry in diff] == ["add_table"]

"""Shared fixtures: a migrated database per test, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from tests.cast import cast, make_double
from tests.databases import scratch_postgres
from tests.slackdouble import SlackDouble

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def pytest_report_header(config: pytest.Config) -> str:
    return "database backends: " + ", ".join(BACKENDS)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'eventbot-test.sqlite3'}"
        return
    assert POSTGRES_URL is not None
    with scratch_postgres(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    """A local Slack with the seed event's people and channel (tests/cast.py); modules may override it."""
    double = make_double()
    double.start()
    cast(double)
    yield double
    double.stop()


@pytest.fixture
def migrated_url(database_url: str) -> str:
    db.upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = db.make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.make_session_factory(engine)

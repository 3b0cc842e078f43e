"""Shared fixtures: a migrated database per test, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot import db
from bot.db import Database
from bot.programme.importing import import_programme
from bot.programme.parsing import load_programme
from bot.slack.client import make_web_client
from tests.apprunner import BOT_TOKEN
from tests.cast import CHANNEL, DAY, at, cast, make_double, seed_programme
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
    """A local Slack with the seed event's people and channel (tests/cast.py); modules may extend it.

    A bug in the double itself (an HTTP 500 it answered) fails the test that met it.
    """
    double = make_double()
    double.start()
    cast(double)
    yield double
    assert double.internal_errors == []
    double.stop()


@pytest.fixture
def client(slack: SlackDouble) -> WebClient:
    """The app's own kind of WebClient (retries and all), pointed at the local Slack."""
    return make_web_client(token=BOT_TOKEN, base_url=slack.api_url)


@pytest.fixture
def event_id(database: Database, client: WebClient, tmp_path: Path) -> int:
    """The seed event, imported into its channel on DAY (tests/cast.py) at 09:00."""
    programme = load_programme(seed_programme(DAY, tmp_path))
    return import_programme(database, client, programme, channel_id=CHANNEL, now=at("09:00")).event_id


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
def database(engine: Engine) -> Database:
    return db.make_session_factory(engine)

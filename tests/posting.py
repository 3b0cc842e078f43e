"""Sending what is in the outbox, at a chosen time, as the sender of a running process would."""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient

from bot.app import outbox_kinds
from bot.db import Database
from bot.slack.sender import DeliveryRun, Sender


def deliver(database: Database, client: WebClient, now: datetime, *, threads: int = 2) -> DeliveryRun:
    """One sender pass with every domain's kinds, its clock stopped at `now`."""
    return Sender(database, client, outbox_kinds(), clock=lambda: now, threads=threads).deliver_due()

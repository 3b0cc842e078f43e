"""the chair's pace: holds, events that wait for the chair, who announced an item, items missed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

- events.held_at: the chair put the scheduled posts on hold at this moment (null when running).
- events.waits_for_chair: the event does not start itself at its planned time; `/event start` does.
- events.missed_notice_at: the organisers were told that eventbot was away while the event ran.
- agenda_segments.announced_by_slack_id: the chair whose `/event next` announced it (null: the schedule).
- agenda_segments.missed: passed over in a catch-up after downtime, and named in the next announcement.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("waits_for_chair", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("missed_notice_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("agenda_segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announced_by_slack_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("missed", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("agenda_segments", schema=None) as batch_op:
        batch_op.drop_column("missed")
        batch_op.drop_column("announced_by_slack_id")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("missed_notice_at")
        batch_op.drop_column("waits_for_chair")
        batch_op.drop_column("held_at")

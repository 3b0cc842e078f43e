"""the follow-up ledger: owners decline, are nudged; events open their ledger and close it out

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

- follow_ups.declined_reason, declined_at: the owner cannot answer it, and why.
- follow_ups.nudged_at, overdue_nudged_at: when its owner was last reminded, and once overdue.
- events.follow_up_lead_slack_id: who answers questions not asked of a presenter (else the chairs).
- events.follow_ups_opened_at, closed_out_at: the ledger opened after the close; the close-out posted.
- questions.answer_permalink: the written answer's link, for the close-out.
- reminders.include_team: DMs go to the event's organisers, chairs and presenters too.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declined_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overdue_nudged_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up_lead_slack_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("follow_ups_opened_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_out_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer_permalink", sa.String(length=500), nullable=True))
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("include_team", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_column("include_team")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("answer_permalink")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("closed_out_at")
        batch_op.drop_column("follow_ups_opened_at")
        batch_op.drop_column("follow_up_lead_slack_id")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_column("overdue_nudged_at")
        batch_op.drop_column("nudged_at")
        batch_op.drop_column("declined_at")
        batch_op.drop_column("declined_reason")

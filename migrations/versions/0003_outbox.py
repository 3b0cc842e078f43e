"""one outbox: the deliveries table carries every post eventbot must make, not only reminders

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

- deliveries.kind: which domain renders and records the row ('reminder' for the rows there are).
- deliveries.workspace_id, event_id: whose post it is (uninstall cancels a workspace's rows;
  permanent failures are told to the event's organisers).
- deliveries.reminder_id: now nullable (only reminder rows have one).
- deliveries.subject_id, payload: what the post is about, or the message itself.
- deliveries.dedupe_key (unique): one row per logical post; coalesce_key (unique): one pending
  row per coalesced post (card redraws).
- deliveries.created_at.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), server_default="reminder", nullable=False))
        batch_op.add_column(sa.Column("workspace_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("coalesce_key", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("reminder_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f("fk_deliveries_workspace_id_workspaces"), "workspaces",
                                    ["workspace_id"], ["id"], ondelete="CASCADE")
        batch_op.create_foreign_key(batch_op.f("fk_deliveries_event_id_events"), "events",
                                    ["event_id"], ["id"], ondelete="CASCADE")
        batch_op.create_unique_constraint(batch_op.f("uq_deliveries_dedupe_key"), ["dedupe_key"])
        batch_op.create_unique_constraint(batch_op.f("uq_deliveries_coalesce_key"), ["coalesce_key"])
        batch_op.create_index(batch_op.f("ix_deliveries_workspace_id"), ["workspace_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_event_id"), ["event_id"], unique=False)
    # The reminder rows there are belong to their reminder's event and workspace.
    op.execute(
        "UPDATE deliveries SET event_id = (SELECT reminders.event_id FROM reminders "
        "WHERE reminders.id = deliveries.reminder_id)"
    )
    op.execute(
        "UPDATE deliveries SET workspace_id = (SELECT events.workspace_id FROM events "
        "WHERE events.id = deliveries.event_id)"
    )
    op.execute("UPDATE deliveries SET created_at = due_at")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("created_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    # Rows that are not reminders have no place in the older table.
    op.execute("DELETE FROM deliveries WHERE reminder_id IS NULL")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_event_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_workspace_id"))
        batch_op.drop_constraint(batch_op.f("uq_deliveries_coalesce_key"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_deliveries_dedupe_key"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_deliveries_event_id_events"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_deliveries_workspace_id_workspaces"), type_="foreignkey")
        batch_op.alter_column("reminder_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("created_at")
        batch_op.drop_column("coalesce_key")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("payload")
        batch_op.drop_column("subject_id")
        batch_op.drop_column("event_id")
        batch_op.drop_column("workspace_id")
        batch_op.drop_column("kind")

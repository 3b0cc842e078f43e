"""whose voices are heard, and whose data it is: organisations per event, fair ordering, retention

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

- event_affiliations: the organisation each person chose at an event (null: prefer not to say),
  or the Slack Connect workspace they come from.
- questions.organisation_shared: an anonymous asker chose to let their question count for their
  organisation (named askers' questions always count).
- questions.asker_person_id becomes nullable: a person who asked eventbot to forget them leaves
  their public questions behind as anonymous text with no asker.
- events.fair_ordering: the chair's digest keeps organisations varied.
- events.retention_days, events.personal_data_purged_at: how long personal data is kept after
  the close, and when it was purged.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_affiliations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "person_id"),
    )
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_shared", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.alter_column("asker_person_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fair_ordering", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), server_default="180", nullable=False))
        batch_op.add_column(sa.Column("personal_data_purged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("personal_data_purged_at")
        batch_op.drop_column("retention_days")
        batch_op.drop_column("fair_ordering")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.alter_column("asker_person_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("organisation_shared")
    op.drop_table("event_affiliations")

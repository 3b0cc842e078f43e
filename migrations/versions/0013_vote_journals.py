"""how far each web process's journal of acknowledged clicks is written

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

- vote_journals: one row per journal file of acknowledged upvote clicks (bot/questions/journal.py),
  holding the last click in it that is written. It changes in the transaction that writes the
  clicks, so a journal read back after its process was killed applies only the clicks that were not.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vote_journals",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("written_through", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("vote_journals")

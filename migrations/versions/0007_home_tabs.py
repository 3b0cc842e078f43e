"""a Home tab for every person: who has opened it, and the pages they turned to

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

- home_tabs: one row per person who has opened eventbot's Home tab (only they get it republished
  when what it shows changes), with the page each of its lists shows and whether they may set
  events up (its list of commands depends on it, and it is redrawn without asking Slack).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_tabs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pages", sa.JSON(), nullable=False),
        sa.Column("may_organise", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id"),
    )


def downgrade() -> None:
    op.drop_table("home_tabs")

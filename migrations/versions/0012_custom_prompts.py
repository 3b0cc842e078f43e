"""Custom reflection prompts: an organiser's own questions beside the four themes

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02

- reflection_prompts.name: a custom prompt's short name (shown in digests, typed after
  `/event prompt`); NULL for the four themes, whose `theme` becomes NULL for custom prompts.
  Each name appears once per event (NULLs are distinct, so the themes' rows do not collide).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THEME = sa.Enum("improvement", "collaborative_working", "equity", "next_steps", name="reflection_theme",
                native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    # SQLite cannot alter a column's nullability in place: batch mode copies the table.
    with op.batch_alter_table("reflection_prompts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=40), nullable=True))
        batch_op.alter_column("theme", existing_type=THEME, nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_reflection_prompts_event_id_name"), ["event_id", "name"])


def downgrade() -> None:
    # The four themes' rows survive; custom prompts (and their reflections) have no place in the old schema.
    op.execute("DELETE FROM reflection_prompts WHERE theme IS NULL")
    with op.batch_alter_table("reflection_prompts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_reflection_prompts_event_id_name"), type_="unique")
        batch_op.alter_column("theme", existing_type=THEME, nullable=False)
        batch_op.drop_column("name")

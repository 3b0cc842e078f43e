"""Workspaces the app serves: every request is tied to one before anything else happens."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import Workspace


def find_workspace(session: Session, *, team_id: str) -> Workspace | None:
    return session.scalar(select(Workspace).where(Workspace.team_id == team_id))


def ensure_workspace(session: Session, *, team_id: str, enterprise_id: str | None = None) -> Workspace:
    """The workspace row for a team, created on first contact (two first requests may race)."""
    workspace = find_workspace(session, team_id=team_id)
    if workspace is not None:
        return workspace
    try:
        with session.begin_nested():
            workspace = Workspace(team_id=team_id, enterprise_id=enterprise_id)
            session.add(workspace)
            session.flush()
    except IntegrityError:
        workspace = session.scalars(select(Workspace).where(Workspace.team_id == team_id)).one()
    return workspace

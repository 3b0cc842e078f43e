"""Workspaces the app serves: every request is tied to one before anything else happens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import SLACK_ID, Workspace


def is_team_id(value: object) -> bool:
    """Whether a value read from a request can be a team's id; a number or a list would fail in SQL."""
    return isinstance(value, str) and SLACK_ID.fullmatch(value) is not None


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


def mark_installed(session: Session, *, team_id: str | None, enterprise_id: str | None) -> Workspace:
    """An install through OAuth finished: the workspace is served, again if it had removed the app."""
    if team_id is None:
        # Org-wide installs (Enterprise Grid) are not offered: manifest.yml has org_deploy_enabled false.
        raise ValueError("an install names no team")
    workspace = ensure_workspace(session, team_id=team_id, enterprise_id=enterprise_id)
    workspace.uninstalled_at = None
    return workspace


def mark_uninstalled(session: Session, *, team_id: str, now: datetime) -> Workspace:
    """The app was removed from a workspace, or its bot token revoked: forget the token.

    Safe to repeat (Slack sends both events on an uninstall, in either order, and may redeliver
    each): the first time is the one kept.
    """
    workspace = ensure_workspace(session, team_id=team_id)
    # In SQL, not through the attribute: a token that cannot be decrypted loads as None, and
    # setting None over None would clear nothing.
    session.execute(update(Workspace).where(Workspace.id == workspace.id).values(bot_token=None)
                    .execution_options(synchronize_session=False))
    workspace.bot_token = None
    if workspace.uninstalled_at is None:
        workspace.uninstalled_at = now
    return workspace


def is_installed(session: Session, *, team_id: str) -> bool:
    """False once the app was removed from the workspace; a workspace never seen is new, so True."""
    return session.scalar(select(Workspace.uninstalled_at).where(Workspace.team_id == team_id)) is None


def installed(workspace_id: ColumnElement[int]) -> ColumnElement[bool]:
    """SQL condition on a row's workspace: the app is still installed there, so its work may go on."""
    return workspace_id.in_(select(Workspace.id).where(Workspace.uninstalled_at.is_(None)))

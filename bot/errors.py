"""Errors a person can act on: the message is shown to them as it is, ephemerally."""

from __future__ import annotations


class UserError(Exception):
    """Something the person asked for cannot happen; the message says why and what to do."""

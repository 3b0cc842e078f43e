"""Errors a person can act on: the message is shown to them as it is, ephemerally."""

from __future__ import annotations


class UserError(Exception):
    """Something the person asked for cannot happen; the message says why and what to do."""


class DatabaseUnavailable(UserError):
    """The database did not answer, so the change was not saved; the person is told so and may retry."""

    def __init__(self) -> None:
        super().__init__("eventbot's database is not answering, so nothing was saved. Please try again in a minute.")


class NotYet(Exception):
    """Something this depends on is still being recorded: whoever sent it should send it again."""

"""A last guard on what reaches the log: Slack tokens and the app's secrets are masked in every line.

Nothing in eventbot logs a token on purpose, and slack_sdk masks the Authorization header at
DEBUG; this catches what a library might print one day (a request body, an exception's repr).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Slack's token kinds: bot, user, app-level, refresh and rotating ones (xoxb-, xoxp-, xapp-, xoxe.xoxb-…).
TOKEN_SHAPE = re.compile(r"\b(?:xox[a-z](?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]+")
MASK = "(redacted)"


class Redacting(logging.Filter):
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def redact(self, text: str) -> str:
        text = TOKEN_SHAPE.sub(MASK, text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def guard_handlers(secrets: Iterable[str | None]) -> None:
    """Put the filter on every handler of the root logger (filters on a logger skip its children)."""
    guard = Redacting(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(guard)

"""Workspaces' bot tokens, encrypted at rest with a key from the environment (EVENTBOT_TOKEN_KEY).

A token read from the database by someone who has only the database (a backup, a leaked dump)
is useless without the key, which lives with the app's other secrets. Fernet (AES-128-CBC with an
HMAC, from the `cryptography` package) authenticates as well as encrypts, so a value altered in
the database is refused rather than decrypted into garbage.

Without a key, eventbot refuses to store a token (it will not keep one in clear text) and reads
stored ones as absent; each is said once in the log, naming the variable and never a token.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from bot.config import TOKEN_KEY_VARIABLE, token_key

logger = logging.getLogger(__name__)

_said: set[str] = set()
_said_lock = threading.Lock()


class TokenNotStored(Exception):
    """A token could not be stored encrypted; the message names the cause, never the token."""


def _once(what: str, message: str) -> None:
    with _said_lock:
        if what in _said:
            return
        _said.add(what)
    logger.warning(message)


def _cipher() -> Fernet | None:
    key = token_key()
    return Fernet(key.encode()) if key else None


def encrypt(token: str) -> str:
    cipher = _cipher()
    if cipher is None:
        _once("no key to store", f"{TOKEN_KEY_VARIABLE} is not set: eventbot refuses to store a workspace's bot token "
                                 "unencrypted, so the install is not saved; set the key and install again")
        raise TokenNotStored(f"{TOKEN_KEY_VARIABLE} is not set, so the token was not stored")
    return cipher.encrypt(token.encode()).decode()


def decrypt(stored: str) -> str | None:
    cipher = _cipher()
    if cipher is None:
        _once("no key to read", f"{TOKEN_KEY_VARIABLE} is not set: stored bot tokens cannot be read and are treated "
                                "as absent")
        return None
    try:
        return cipher.decrypt(stored.encode()).decode()
    except InvalidToken:
        _once("wrong key", f"a stored bot token does not open with {TOKEN_KEY_VARIABLE} (another key, or stored "
                           "before tokens were encrypted): it is treated as absent; install the app again")
        return None


class EncryptedToken(TypeDecorator[str]):
    """A secret column: clear text in Python, Fernet ciphertext in the database.

    `EncryptedToken(500)` stores longer secrets (refresh tokens, rotating tokens); the length is
    of the ciphertext, about 1.4 times the secret's plus 76.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int = 255) -> None:
        super().__init__(length)

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        stored = encrypt(value)
        room = self.impl_instance.length
        if len(stored) > room:
            raise TokenNotStored(f"the encrypted token is {len(stored)} characters; the column holds {room}")
        return stored

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)

"""Slack request signing (v0), as Slack signs what it sends to an app."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_VERSION = "v0"


def sign_request(signing_secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Slack-Signature`` value for ``body`` sent at ``timestamp``.

    Slack signs the raw bytes, so the base string is built from bytes rather than
    decoded text; a body that is not valid UTF-8 must still sign the same way.
    """
    base = f"{SIGNATURE_VERSION}:{int(timestamp)}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signature_headers(signing_secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "X-Slack-Request-Timestamp": str(int(timestamp)),
        "X-Slack-Signature": sign_request(signing_secret, timestamp, body),
    }

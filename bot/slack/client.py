"""The one place a Slack WebClient is made: base URL from settings, retries that Slack asks for."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
)

# Slack's 429s carry Retry-After, which the rate-limit handler sleeps for; 5xx and dropped
# connections get exponential backoff with jitter so a flapping API is not hammered.
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 3
CONNECTION_ERROR_RETRIES = 3
REQUEST_TIMEOUT_SECONDS = 15


def retry_handlers() -> list:
    backoff = BackoffRetryIntervalCalculator(backoff_factor=0.5)
    return [
        RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES, interval_calculator=backoff),
        ConnectionErrorRetryHandler(max_retry_count=CONNECTION_ERROR_RETRIES, interval_calculator=backoff),
    ]


def make_web_client(*, token: str | None, base_url: str) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=REQUEST_TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(),
    )

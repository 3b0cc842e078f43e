"""Token-bucket rate limits with Slack's 429 behaviour."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["workspace", "channel", "method"]


@dataclass
class _Bucket:
    capacity: float
    refill_per_second: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        self.updated = now

    def seconds_until_token(self) -> float:
        missing = 1.0 - self.tokens
        return 0.0 if missing <= 0 else missing / self.refill_per_second


@dataclass
class _Rule:
    method: str | None  # None: every method
    per: Scope
    calls: int
    period: float
    buckets: dict[tuple[str, ...], _Bucket] = field(default_factory=dict)

    def key_for(self, method: str, channel: str | None) -> tuple[str, ...] | None:
        """The bucket this call draws from, or None if the rule does not apply."""
        if self.method is not None and self.method != method:
            return None
        if self.per == "channel":
            # Calls without a channel are outside a per-channel limit.
            return None if not channel else (method, channel)
        if self.per == "method":
            return (method,)
        return ("*",) if self.method is None else (method,)


class RateLimiter:
    """Applies every configured rule; a call proceeds only if all of them have a token."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()

    def add(self, method: str | None, *, per: Scope, calls: int, period: float) -> None:
        if per not in ("workspace", "channel", "method"):
            raise ValueError(f"per must be workspace, channel or method, not {per!r}")
        if calls < 1 or period <= 0:
            raise ValueError("calls must be >= 1 and period > 0")
        with self._lock:
            self._rules.append(_Rule(method, per, calls, float(period)))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def acquire(self, method: str, channel: str | None) -> int | None:
        """Take a token for this call; or return the Retry-After seconds if limited.

        Tokens are only taken when every applicable bucket has one, so a refused call
        costs nothing (Slack does not count 429ed calls against the limit either).
        """
        now = self._clock()
        with self._lock:
            buckets: list[_Bucket] = []
            for rule in self._rules:
                key = rule.key_for(method, channel)
                if key is None:
                    continue
                bucket = rule.buckets.get(key)
                if bucket is None:
                    bucket = _Bucket(rule.calls, rule.calls / rule.period, float(rule.calls), now)
                    rule.buckets[key] = bucket
                bucket.refill(now)
                buckets.append(bucket)
            wait = max((b.seconds_until_token() for b in buckets), default=0.0)
            if wait > 0:
                # Slack sends whole seconds; never 0, or clients would hammer straight back.
                return max(1, math.ceil(wait))
            for bucket in buckets:
                bucket.tokens -= 1.0
            return None

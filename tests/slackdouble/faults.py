"""Injected failures: the next N calls, or a deterministic share of calls."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal

# http_500, drop and error fail the call before Slack acts on it. The *_after modes are the
# in-doubt cases: Slack does what was asked (posts the message), then the caller hears a 500 or
# nothing at all, as when a connection drops on the way back.
FailureMode = Literal["http_500", "drop", "error", "http_500_after", "drop_after"]
_MODES = ("http_500", "drop", "error", "http_500_after", "drop_after")


@dataclass(frozen=True)
class Failure:
    mode: FailureMode
    error: str = "internal_error"


@dataclass
class _Countdown:
    method: str | None
    remaining: int
    failure: Failure


@dataclass
class _Share:
    method: str | None
    share: float
    failure: Failure
    rng: random.Random


class FaultInjector:
    def __init__(self) -> None:
        self._countdowns: list[_Countdown] = []
        self._shares: list[_Share] = []
        self._lock = threading.Lock()
        # Methods whose calls hang before Slack acts on them, until released: a Slack that is slow
        # to answer, so a caller is caught mid-call (holding whatever it claimed) when it is killed.
        self._stalled: dict[str | None, threading.Event] = {}

    def stall(self, method: str | None) -> None:
        with self._lock:
            self._stalled.setdefault(method, threading.Event()).clear()

    def release_stalls(self) -> None:
        with self._lock:
            stalled, self._stalled = list(self._stalled.values()), {}
        for gate in stalled:
            gate.set()

    def wait_if_stalled(self, method: str, *, longest: float = 300.0) -> None:
        with self._lock:
            gate = self._stalled.get(method) or self._stalled.get(None)
        if gate is not None:
            gate.wait(longest)

    def fail_next(self, method: str | None, count: int, mode: FailureMode, error: str) -> None:
        _check_mode(mode)
        with self._lock:
            self._countdowns.append(_Countdown(method, count, Failure(mode, error)))

    def fail_share(self, method: str | None, share: float, mode: FailureMode, seed: int, error: str) -> None:
        _check_mode(mode)
        if not 0.0 <= share <= 1.0:
            raise ValueError("share must be between 0 and 1")
        with self._lock:
            self._shares.append(_Share(method, share, Failure(mode, error), random.Random(seed)))

    def clear(self) -> None:
        with self._lock:
            self._countdowns.clear()
            self._shares.clear()

    def next_failure(self, method: str) -> Failure | None:
        """The failure to inflict on this call, if any (consumes a countdown)."""
        with self._lock:
            for countdown in self._countdowns:
                if countdown.remaining > 0 and countdown.method in (None, method):
                    countdown.remaining -= 1
                    return countdown.failure
            for share in self._shares:
                if share.method in (None, method) and share.rng.random() < share.share:
                    return share.failure
        return None


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, not {mode!r}")

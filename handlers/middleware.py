"""Middleware as a plain step, `step(body, context, next)`, without Bolt's keyword injection.

Bolt calls a function middleware through its keyword injection, which inspects the function and
builds a dict of some twenty arguments on every request. With six of them, that was about a tenth
of the web process's time holding the GIL in a vote burst (bench/qa_burst.py, profiled with
py-spy --gil); a bare Bolt app pays it once, for its listener. A `Middleware` object is called
directly.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

Next = Callable[[], BoltResponse]
Step = Callable[[dict, BoltContext, Next], "BoltResponse | None"]


class StepMiddleware(Middleware):
    def __init__(self, step: Step) -> None:
        self.step = step

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Next) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        return self.step(req.body, req.context, next)

    @property
    def name(self) -> str:
        return getattr(self.step, "__name__", "step")

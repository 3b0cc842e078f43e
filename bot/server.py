"""`eventbot serve`: the WSGI app under gunicorn, a production server, on $PORT."""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.app import build_app, make_runtime
from bot.config import Settings
from bot.web import EventbotWsgi

logger = logging.getLogger(__name__)

# Threads, not processes: Bolt acks from the request thread and finishes listeners on its own
# pool, and one process keeps the embedded scheduler single.
THREADS_PER_WORKER = 16
# Slack gives up on a request after 3 seconds; a request still busy at 30 is stuck, not slow.
REQUEST_TIMEOUT_SECONDS = 30
SWITCH_INTERVAL_SECONDS = 0.001


class EventbotServer(BaseApplication):
    def __init__(self, settings: Settings, *, workers: int, run_scheduler: bool) -> None:
        self.settings = settings
        self.run_scheduler = run_scheduler
        self.options = {
            "bind": f"{settings.host}:{settings.port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": THREADS_PER_WORKER,
            "timeout": REQUEST_TIMEOUT_SECONDS,
            "graceful_timeout": 10,
            "loglevel": settings.log_level.lower(),
            "errorlog": "-",
            "proc_name": "eventbot-web",
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # Gunicorn's control socket is one fixed path per user: a second `serve` on the same host
        # would take it over. eventbot never uses it, so no process opens one.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        # Acks wait for the GIL behind the vote writer and the outbox's sender; a shorter switch
        # interval than Python's 5 ms lets an ack through sooner (bench/qa_burst.py measures it).
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        # Built in the worker after the fork, so no database connection crosses a fork.
        runtime = make_runtime(self.settings)
        app = build_app(runtime, verify_token=False, signature_checked=True)
        # Every web process sends from the outbox: a question's card follows its ack at once.
        runtime.outbox().start()
        # Votes and questions are taken from the start: what a web process killed on this host
        # left in its journals is stored now, not when the next one comes.
        runtime.votes().start()
        runtime.asks().start()
        if self.run_scheduler:
            from bot.scheduler import start_in_background

            start_in_background(runtime)
        wsgi = EventbotWsgi(app, runtime.engine, signing_secret=self.settings.require_signing_secret())
        # What is built by now lives as long as the process. Frozen, it is left out of the garbage
        # collector's full passes: a pass over it all took ~150 ms here, holding the GIL, and every
        # ack in flight would wait for it.
        gc.collect()
        gc.freeze()
        return wsgi


def serve(settings: Settings, *, workers: int, run_scheduler: bool) -> None:
    EventbotServer(settings, workers=workers, run_scheduler=run_scheduler).run()

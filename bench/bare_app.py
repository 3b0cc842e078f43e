"""The baseline for bench/qa_burst.py: a Bolt app that only acks, served exactly as `eventbot serve` is.

Same server (gunicorn, gthread, one worker, the same thread count), same signature checks, no
database and no Slack calls: whatever eventbot adds on top of this is eventbot's own cost.
"""

from __future__ import annotations

import os

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.server import REQUEST_TIMEOUT_SECONDS, THREADS_PER_WORKER
from bot.slack.client import make_web_client


def build() -> SlackRequestHandler:
    # The same client eventbot uses (base URL, retry handlers): Bolt's authorize asks auth.test once.
    client = make_web_client(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], token_verification_enabled=False)

    def just_ack(ack) -> None:  # type: ignore[no-untyped-def]
        ack()

    app.command("/ask")(just_ack)
    app.action("question_upvote")(just_ack)
    return SlackRequestHandler(app)


if __name__ == "__main__":
    from gunicorn.app.base import BaseApplication

    class Bare(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": f"127.0.0.1:{os.environ['PORT']}", "workers": 1, "worker_class": "gthread",
                               "threads": THREADS_PER_WORKER, "timeout": REQUEST_TIMEOUT_SECONDS,
                               "loglevel": "warning"}.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            return build()

    Bare().run()

"""The Slack double in a process of its own, for benchmarks that time acknowledgements.

In the load generator's process, the double would answer the app's own calls (card posts,
redraws, replies to response URLs) on the same GIL as the threads timing the acks: a server that
calls Slack would look slower than one that does not, by the double's work rather than its own.
Here the double runs alone; the generator asks it for signed requests, built and registered
(their response URLs included) as Slack builds them, and sends them itself.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from tests.slackdouble import SlackDouble
from tests.slackdouble.driver import AppResponse


class _Capture:
    """Stands in for the double's transport: keeps the request Slack would send instead of sending it."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.kept: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, *, content_type: str, timeout: float, timestamp: int | None = None,
             extra_headers: Any = None, sign: bool = True) -> AppResponse:
        from tests.slackdouble.signing import signature_headers

        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        when = int(self.transport.wall_clock()) if timestamp is None else int(timestamp)
        headers.update(signature_headers(self.transport.signing_secret, when, body))
        self.kept.append((url, body, headers))
        return AppResponse(200, {}, "", None)


def _serve(connection: Any, team: str, token: str, secret: str, bot: str, users: list[str], channel: str) -> None:
    slack = SlackDouble(team_id=team, bot_token=token, signing_secret=secret, bot_user_id=bot)
    slack.start()
    for user in users:
        slack.add_user(user, user.lower())
    slack.add_channel(channel, "burst", members=users)
    capture = _Capture(slack._transport)
    slack._transport = capture  # type: ignore[assignment]
    connection.send(slack.api_url)
    while True:
        command, args = connection.recv()
        if command == "stop":
            slack.stop()
            connection.send(None)
            return
        if command == "app_url":
            slack.set_app_url(args)
            result: Any = None
        elif command == "asks":
            capture.kept.clear()
            for user, text in args:
                slack.send_slash_command("/ask", text, user_id=user, channel_id=channel)
            result = list(capture.kept)
        elif command == "clicks":
            capture.kept.clear()
            for user, value, ts in args:
                slack.send_block_action(user_id=user, action_id="question_upvote", value=value,
                                        channel_id=channel, message_ts=ts)
            result = list(capture.kept)
        elif command == "messages":
            result = slack.messages(channel)
        elif command == "calls":
            result = len(slack.calls_to(args))
        else:
            result = ValueError(command)
        connection.send(result)


class SlackElsewhere:
    def __init__(self, *, team: str, token: str, secret: str, bot: str, users: list[str], channel: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs, team, token, secret, bot, users, channel),
                                        daemon=True)
        self._process.start()
        self.api_url: str = self._connection.recv()

    def _ask(self, command: str, args: Any = None) -> Any:
        self._connection.send((command, args))
        return self._connection.recv()

    def set_app_url(self, url: str) -> None:
        self._ask("app_url", url)

    def asks(self, asks: list[tuple[str, str]]) -> list[tuple[str, bytes, dict[str, str]]]:
        """Signed `/ask` requests as Slack would send them, their response URLs registered."""
        return self._ask("asks", asks)

    def clicks(self, clicks: list[tuple[str, str, str]]) -> list[tuple[str, bytes, dict[str, str]]]:
        """Signed upvote clicks: (user, button value, card ts) each."""
        return self._ask("clicks", clicks)

    def messages(self) -> list[dict[str, Any]]:
        return self._ask("messages")

    def calls_to(self, method: str) -> int:
        return self._ask("calls", method)

    def stop(self) -> None:
        self._ask("stop")
        self._process.join(timeout=10)

"""How listeners tell a person that what they asked for did not happen."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import UserError
from bot.slack import messages
from bot.slack.dm import send_dm
from handlers.middleware import Next, StepMiddleware

logger = logging.getLogger(__name__)


@contextmanager
def answering_problems(respond: Respond) -> Iterator[None]:
    """Turn a refusal or a Slack failure into a short ephemeral answer for the person who asked."""
    try:
        yield
    except UserError as error:
        respond(messages.notice(str(error)).as_ephemeral())
    except SlackApiError as error:
        code = error.response.get("error", "unknown_error")
        logger.warning("Slack refused a call: %s", code)
        respond(messages.slack_refused(code).as_ephemeral())


def open_form(client: WebClient, respond: Respond, *, trigger_id: object, view: dict[str, Any]) -> None:
    """Open a modal, or tell the person why it did not open.

    A trigger lasts 3 seconds and works once, and views.open is rate limited: a slow answer or a
    double click leaves the person with nothing unless they are told.
    """
    try:
        client.views_open(trigger_id=trigger_id if isinstance(trigger_id, str) else "", view=view)
    except SlackApiError as error:
        code = error.response.get("error", "unknown_error")
        logger.warning("Slack would not open a form: %s", code)
        respond(messages.form_not_opened(code).as_ephemeral())


def tell(client: WebClient, *, channel_id: str, user_id: str, message: messages.Message) -> None:
    """An ephemeral message to one person in a channel, after the request was answered.

    Nothing was left undone if Slack refuses it (they left the channel, say), so a line in the log
    is all that is owed.
    """
    try:
        client.chat_postEphemeral(channel=channel_id, user=user_id, **message.as_post())
    except SlackApiError as error:
        logger.warning("could not tell %s in %s: %s", user_id, channel_id, error.response.get("error"))


class _EphemeralInstead:
    """`respond` for an interaction that came without a response URL, where Bolt's would raise.

    Slack leaves it out for buttons in modals and the Home tab, and a hand-made request may too.
    The answer goes to the person as an ephemeral message in the channel when both are known, and
    to their DM when only the person is (a Home tab button belongs to no channel).
    """

    def __init__(self, client: WebClient, *, channel_id: str | None, user_id: str | None) -> None:
        self.client, self.channel_id, self.user_id = client, channel_id, user_id

    def __call__(self, message: dict[str, Any] | str = "", **_: Any) -> None:
        if isinstance(message, str):
            message = {"text": message}
        if not isinstance(self.user_id, str):
            logger.warning("could not answer a request that had no response_url: %s", message.get("text", "")[:200])
            return
        answer = messages.Message(text=message.get("text") or "", blocks=message.get("blocks") or [])
        if isinstance(self.channel_id, str):
            tell(self.client, channel_id=self.channel_id, user_id=self.user_id, message=answer)
            return
        try:
            send_dm(self.client, user_id=self.user_id, message=answer)
        except SlackApiError as error:
            logger.warning("could not tell %s by DM: %s", self.user_id, error.response.get("error"))


def in_channel(client: WebClient, *, channel_id: str, user_id: str) -> Respond:
    """`respond` for answering one person privately in a channel (a Home button acting on an event
    answers where the event's command would)."""
    return _EphemeralInstead(client, channel_id=channel_id, user_id=user_id)  # type: ignore[return-value]


def _respond_where_possible(body: dict, context: BoltContext, next: Next) -> BoltResponse | None:  # noqa: A002 - Bolt's name
    if not context.response_url:
        context["respond"] = _EphemeralInstead(context.client, channel_id=context.channel_id,
                                               user_id=context.user_id)
    return next()


def register(app: App) -> None:
    app.use(StepMiddleware(_respond_where_possible))

"""How listeners tell a person that what they asked for did not happen."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from slack_bolt import Respond
from slack_sdk.errors import SlackApiError

from bot.errors import UserError
from bot.slack import messages

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

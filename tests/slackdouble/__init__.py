"""A faithful local double of Slack's Web API (standard library only).

    from tests.slackdouble import SlackDouble, sign_request

    with SlackDouble(team_id="T0TEAM", bot_token="xoxb-test", signing_secret="sekrit") as slack:
        WebClient(token="xoxb-test", base_url=slack.api_url).chat_postMessage(...)
"""

from .api import RecordedCall
from .double import SlackDouble
from .driver import AppResponse, Delivery
from .signing import sign_request

__all__ = ["AppResponse", "Delivery", "RecordedCall", "SlackDouble", "sign_request"]

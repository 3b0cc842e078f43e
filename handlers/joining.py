"""Someone joins an event's channel: they are an attendee from then on; someone changes their profile: names follow.

Run by the composition root before Slack is answered (handlers.STORED_EVENTS), not as a Bolt listener.
"""

from __future__ import annotations

from slack_bolt import BoltContext

from bot.events import slack as events_slack
from handlers import payloads


def change_profile(event: dict, context: BoltContext) -> None:
    """A person renamed themselves (or moved zone, or was deactivated): names shown follow."""
    user = event.get("user")
    if isinstance(user, dict):
        events_slack.profile_changed(context["database"], workspace_id=context["workspace_id"], user=user)


def join_channel(event: dict, context: BoltContext) -> None:
    if event.get("user") == context.bot_user_id:
        return
    with payloads.ignoring_malformed("a member_joined_channel event"):
        events_slack.enrol_joiner(context["database"], workspace_id=context["workspace_id"],
                                  channel_id=payloads.slack_id(event.get("channel"), what="channel"),
                                  slack_user_id=payloads.slack_id(event.get("user"), what="person"))

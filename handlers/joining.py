"""Someone joins an event's channel: they are an attendee from then on."""

from __future__ import annotations

from slack_bolt import App, BoltContext

from bot.events import slack as events_slack


def join_channel(event: dict, context: BoltContext) -> None:
    if event.get("user") == context.bot_user_id:
        return
    events_slack.enrol_joiner(context["database"], workspace_id=context["workspace_id"], channel_id=event["channel"],
                        slack_user_id=event["user"])


def register(app: App) -> None:
    app.event("member_joined_channel")(join_channel)

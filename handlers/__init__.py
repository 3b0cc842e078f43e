"""Thin Slack listeners, one module per thing a person does; each module has `register(app)`."""

from __future__ import annotations

from slack_bolt import App, BoltContext

from handlers import (
    affiliating,
    asking,
    changing_plans,
    digesting,
    editing_the_programme,
    event_command,
    following_up,
    home,
    joining,
    minding_my_data,
    moderating,
    reflecting,
    reminding,
    replies,
    setting_up,
    speaking,
    uninstalling,
    voting,
)


# Events whose listeners store what a person gave: the composition root runs these before Slack
# gets its answer, so one that could not be stored is answered 503 and delivered again.
def _on_message(event: dict, context: BoltContext) -> None:
    if editing_the_programme.is_programme_file(event):
        editing_the_programme.receive_programme_file(event, context)
    else:
        reflecting.on_message(event, context)


STORED_EVENTS = {"message": _on_message, "member_joined_channel": joining.join_channel,
                 "user_change": joining.change_profile}


def register_all(app: App) -> None:
    replies.register(app)
    # Bolt tries listeners in the order they were registered, each request until one matches: the
    # room's own clicks and questions, most of all requests in a burst, are tried first.
    voting.register(app)
    asking.register(app)
    event_command.register(app)
    setting_up.register(app)
    moderating.register(app)
    speaking.register(app)
    reflecting.register(app)
    affiliating.register(app)
    home.register(app)
    digesting.register(app)
    reminding.register(app)
    following_up.register(app)
    uninstalling.register(app)
    minding_my_data.register(app)
    editing_the_programme.register(app)
    changing_plans.register(app)

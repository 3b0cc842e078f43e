"""`/event setup`: an organiser sets an event up for the channel in a modal."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.config import load_settings
from bot.errors import UserError
from bot.events import blocks as event_blocks
from bot.events import rules as events
from bot.events import slack as events_slack
from bot.events.rules import FormProblems
from bot.reminders import rules as reminders
from bot.slack import messages
from bot.slack.text import escape, local_date_and_time
from handlers import payloads
from handlers.middleware import Next, StepMiddleware
from handlers.replies import answering_problems, open_form, tell

# Slack gives up on a form's submission after 3 seconds, and Bolt stops waiting for its answer then.
# The checks before saving call Slack, which answers at once unless it is rate limiting us (the
# client then sleeps for Retry-After): past this budget the form says so and keeps what was typed.
SLACK_CHECKS_BUDGET_SECONDS = 2.0
WHO_MAY_ORGANISE = "who_may_organise"


class SlackTooSlow(UserError):
    pass


def _within(seconds: float, work: Callable[[], None]) -> None:
    """Run `work`, or give up waiting for it after `seconds` (it finishes on its own thread)."""
    outcome: queue.Queue[BaseException | None] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting listener, which raises it
            outcome.put(error)
        else:
            outcome.put(None)

    threading.Thread(target=run, name="setup-checks", daemon=True).start()
    try:
        error = outcome.get(timeout=seconds)
    except queue.Empty:
        raise SlackTooSlow(
            "Slack is slow to answer just now, so nothing was saved yet: press Save again in a moment."
        ) from None
    if error is not None:
        raise error


def open_setup_form(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id, event, chairs, presenters = events_slack.setup_form_defaults(
            context["database"], client, who_may_organise=context[WHO_MAY_ORGANISE],
            workspace_id=context["workspace_id"], channel_id=command["channel_id"], slack_user_id=command["user_id"],
        )
        defaults = (event_blocks.SetupDefaults.from_event(event, chairs=chairs, presenters=presenters)
                    if event is not None else event_blocks.SetupDefaults())
        today = utcnow().astimezone(ZoneInfo(defaults.timezone))
        open_form(client, respond, trigger_id=command.get("trigger_id"), view=event_blocks.event_setup(
            channel_id=command["channel_id"], event_id=event_id, defaults=defaults, today=today))


def save_setup_form(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    try:
        metadata = payloads.metadata(view, "channel_id")
        channel_id = payloads.slack_id(metadata["channel_id"], what="channel it is for")
        event_id = payloads.optional_id(metadata.get("event_id"))
        user_id = payloads.user_id(body)
        values = payloads.form_values(view)
        details = events.details_from_form(
            title=values.get("title"), date=values.get("date"), start=values.get("start"), end=values.get("end"),
            timezone=values.get("timezone"), evaluation_form_url=values.get("evaluation_form_url"),
            chairs=values.get("chairs") or [], presenters=values.get("presenters") or [],
            waits_for_chair=bool(values.get(event_blocks.WAITS_FOR_CHAIR)),
        )
        _within(SLACK_CHECKS_BUDGET_SECONDS, lambda: events_slack.check_before_saving(
            context["database"], client, who_may_organise=context[WHO_MAY_ORGANISE],
            workspace_id=context["workspace_id"], channel_id=channel_id, event_id=event_id, slack_user_id=user_id,
        ))
        event = events_slack.save_setup(
            context["database"], workspace_id=context["workspace_id"], channel_id=channel_id,
            event_id=event_id, slack_user_id=user_id, details=details, now=utcnow(),
            # Reminders counted from the close follow a close that moved.
            follow_close=reminders.follow_close,
        )
    except FormProblems as problems:
        ack(response_action="errors", errors=problems.problems)
        return
    except UserError as error:
        ack(response_action="errors", errors={"title": str(error)})
        return
    ack()
    tell(client, channel_id=channel_id, user_id=user_id, message=messages.ok(
        f"*{escape(event.title)}* is set up for this channel, "
        f"{local_date_and_time(event.starts_at, timezone=event.timezone)}. "
        + ("It waits for a chair to type `/event start`." if event.waits_for_chair
           else "It starts on its own at that time, or when a chair types `/event start`.")
    ))
    # Names for the ask form, the CSVs and reports: each person named is looked up once.
    events_slack.refresh_profiles(context["database"], client, workspace_id=context["workspace_id"],
                                  slack_user_ids=[user_id, *details.chairs, *details.presenters], now=utcnow())


SUBCOMMANDS = {"setup": open_setup_form}


def register(app: App) -> None:
    # The composition root hands listeners the database but not the settings it started from; the
    # environment is the same, so reading them again gives the same answer. One WhoMayOrganise per
    # app, so what it remembers of Slack's answers is shared by every request.
    who_may_organise = events_slack.WhoMayOrganise.from_settings(load_settings())

    def knowing_who_may_organise(body: dict, context: BoltContext, next: Next) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        context[WHO_MAY_ORGANISE] = who_may_organise
        return next()

    app.use(StepMiddleware(knowing_who_may_organise))
    app.view(event_blocks.SETUP_CALLBACK)(save_setup_form)

"""`/event cancel`, `/event postpone`, `/event duplicate`: an organiser changes an event's plans over time.

Cancelling asks once more (a button with a confirm dialog); postponing and duplicating open a form
whose day and times can be changed before anything is saved.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.clock import utcnow
from bot.errors import UserError
from bot.events import blocks as event_blocks
from bot.events import slack as events_slack
from bot.events.rules import FormProblems
from bot.models import Event
from bot.reminders import rules as reminders
from bot.slack import messages
from bot.slack.text import escape, local_date_and_time
from handlers import payloads
from handlers.replies import answering_problems, open_form, tell


def _takes_nothing(ack: Ack, command: dict, name: str, what: str) -> bool:
    if (command.get("text") or "").strip():
        ack(messages.notice(f"`/event {name}` takes nothing after it: {what}").as_ephemeral())
        return False
    return True


def ask_to_cancel(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    if not _takes_nothing(ack, command, "cancel", "it asks before cancelling this channel's coming event."):
        return
    ack()
    with answering_problems(respond):
        event = events_slack.event_to_change_plans(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"], action="cancel", refusal="be cancelled")
        respond(event_blocks.cancel_question(event).as_ephemeral())


def cancel_confirmed(ack: Ack, body: dict, action: dict, context: BoltContext, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = payloads.positive_id(payloads.fields(action.get("value"), "event_id")["event_id"])
        event = events_slack.cancel(context["database"], workspace_id=context["workspace_id"], event_id=event_id,
                                    slack_user_id=payloads.user_id(body), now=utcnow())
        respond({**messages.ok(f"*{escape(event.title)}* is cancelled: the channel and the organisers are told, "
                               "and nothing more will be posted for it.").as_ephemeral(), "replace_original": True})


def open_postpone_form(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    if not _takes_nothing(ack, command, "postpone", "it opens a form with the new day and times."):
        return
    ack()
    with answering_problems(respond):
        event = events_slack.event_to_change_plans(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"], action="postpone", refusal="be postponed")
        open_form(client, respond, trigger_id=command.get("trigger_id"), view=event_blocks.postpone_form(event))


def _saved_from_form(ack: Ack, save: Callable[[], Event]) -> Event | None:
    """Run a form's change (close-relative reminders follow the new close in the same transaction);
    a problem is shown on the form (and nothing is saved) instead."""
    try:
        event = save()
    except FormProblems as problems:
        ack(response_action="errors", errors=problems.problems)
        return None
    except UserError as error:
        ack(response_action="errors", errors={"date": str(error)})
        return None
    ack()
    return event


def save_postponement(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    def postpone() -> Event:
        event_id = payloads.positive_id(payloads.metadata(view, "event_id")["event_id"])
        values = payloads.form_values(view)
        return events_slack.postpone(context["database"], workspace_id=context["workspace_id"], event_id=event_id,
                                     slack_user_id=payloads.user_id(body), date=values.get("date"), start=values.get("start"),
                                     end=values.get("end"), now=utcnow(),
                                     follow_close=reminders.follow_close)

    event = _saved_from_form(ack, postpone)
    if event is not None:
        tell(client, channel_id=event.channel_id, user_id=payloads.user_id(body), message=messages.ok(
            f"*{escape(event.title)}* now starts {local_date_and_time(event.starts_at, timezone=event.timezone)}; "
            "the channel is told."))


def open_duplicate_form(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    if not _takes_nothing(ack, command, "duplicate", "it opens a form for the next event like this channel's last."):
        return
    ack()
    with answering_problems(respond):
        source, day = events_slack.event_to_duplicate(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"], now=utcnow())
        open_form(client, respond, trigger_id=command.get("trigger_id"),
                  view=event_blocks.duplicate_form(source, day=day))


def save_duplicate(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    def duplicate() -> Event:
        source_id = payloads.positive_id(payloads.metadata(view, "event_id")["event_id"])
        values = payloads.form_values(view)
        return events_slack.duplicate(context["database"], workspace_id=context["workspace_id"], source_id=source_id,
                                      slack_user_id=payloads.user_id(body), title=values.get("title"), date=values.get("date"),
                                      start=values.get("start"), end=values.get("end"), now=utcnow(),
                                      follow_close=reminders.follow_close)

    event = _saved_from_form(ack, duplicate)
    if event is not None:
        tell(client, channel_id=event.channel_id, user_id=payloads.user_id(body), message=messages.ok(
            f"*{escape(event.title)}* is set up for this channel, "
            f"{local_date_and_time(event.starts_at, timezone=event.timezone)}, with the same programme. "
            "`/event setup` changes it."))


SUBCOMMANDS = {"cancel": ask_to_cancel, "postpone": open_postpone_form, "duplicate": open_duplicate_form}


def register(app: App) -> None:
    app.action(event_blocks.CANCEL_ACTION)(cancel_confirmed)
    app.view(event_blocks.POSTPONE_CALLBACK)(save_postponement)
    app.view(event_blocks.DUPLICATE_CALLBACK)(save_duplicate)

"""`/event start|next|hold|resume|extend|prompt|status|close|reflections`: a chair running the session."""

from __future__ import annotations

import logging

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import utcnow
from bot.events import slack as events_slack
from bot.events.rules import THEME_WORDS, prompt_word
from bot.reflections import blocks as reflection_blocks
from bot.reflections import slack as reflections_slack
from bot.reflections.blocks import topic_name
from bot.reminders import slack as reminders_slack
from bot.run_of_show import blocks as run_of_show_blocks
from bot.run_of_show import slack as run_of_show_slack
from bot.run_of_show.rules import WHICH_PROMPT, RunOfShowError, minutes
from bot.slack import messages
from bot.slack.dm import send_to_dm
from bot.slack.text import escape
from handlers import payloads
from handlers.replies import answering_problems

logger = logging.getLogger(__name__)



def _event_id(context: BoltContext, command: dict, action: str, *, include_closed: bool = False) -> int:
    return events_slack.event_id_to_run(
        context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
        slack_user_id=command["user_id"], action=action, include_closed=include_closed,
    )


def start_event(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = _event_id(context, command, "start the session")
        started = run_of_show_slack.start_event(
            context["database"], client, event_id=event_id, now=utcnow(), by_chair=True,
            exclude_from_attendees=frozenset(filter(None, [context.bot_user_id])),
        )
        if started:
            # A late or early start moves the close, and reminders timed from it.
            reminders_slack.follow_close(context["database"], event_id=event_id)
        reply = (messages.ok("The session has started: the welcome is posted.") if started
                 else messages.notice("The session has already started. `/event next` moves to the next agenda item."))
        respond(reply.as_ephemeral())


def next_segment(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = _event_id(context, command, "move the session on")
        outcome = run_of_show_slack.announce_next_segment(
            context["database"], event_id=event_id, now=utcnow(), by_chair=command["user_id"])
        respond(run_of_show_blocks.next_item_reply(outcome).as_ephemeral())


def hold_event(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = _event_id(context, command, "put the session on hold")
        pace = run_of_show_slack.hold_event(context["database"], event_id=event_id, now=utcnow())
        respond(run_of_show_blocks.pace_changed(pace.state, what=(
            ":double_vertical_bar: On hold: nothing more is posted on schedule until `/event resume`. "
            "Everything not yet posted then moves on by the time held:")).as_ephemeral())


def resume_event(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = _event_id(context, command, "resume the session")
        pace = run_of_show_slack.resume_event(context["database"], event_id=event_id, now=utcnow())
        moved = reminders_slack.follow_close(context["database"], event_id=event_id)
        respond(run_of_show_blocks.pace_changed(pace.state, what=(
            f":arrow_forward: Resumed after {minutes(pace.moved_by_seconds)} on hold; the rest moves on by as much"
            + (f" ({_reminders(moved)} with it)" if moved else "") + ":")).as_ephemeral())


def extend_item(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        word = (command.get("text") or "").strip().removesuffix("m").removesuffix(" minutes").strip()
        if not word.isdigit():
            raise RunOfShowError("By how many minutes? For example `/event extend 10` gives the current item "
                                 "10 more minutes, and moves everything after it.")
        event_id = _event_id(context, command, "extend the session")
        pace = run_of_show_slack.extend_event(context["database"], event_id=event_id, now=utcnow(), minutes=int(word))
        moved = reminders_slack.follow_close(context["database"], event_id=event_id)
        current = pace.state.current_segment
        respond(run_of_show_blocks.pace_changed(pace.state, what=(
            f":hourglass_flowing_sand: {escape(current.title) if current else 'The session'} has "
            f"{minutes(pace.moved_by_seconds)} more; everything after it moves by as much"
            + (f" ({_reminders(moved)} with it)" if moved else "") + ":")).as_ephemeral())


def _reminders(count: int) -> str:
    return f"{count} reminder{'s' if count != 1 else ''} timed from the close move{'s' if count == 1 else ''}"


def post_prompt(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        word = (command.get("text") or "").strip()
        if not word:
            raise RunOfShowError(WHICH_PROMPT)
        event_id = _event_id(context, command, "post a reflection prompt")
        # A theme's word, or the name of one of the event's own prompts (checked when it is posted).
        theme = THEME_WORDS.get(prompt_word(word), word)
        prompt = run_of_show_slack.post_prompt(context["database"], event_id=event_id, theme=theme, now=utcnow())
        respond(messages.ok(f"Posted the {topic_name(prompt.topic)} prompt.").as_ephemeral())


def show_status(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = _event_id(context, command, "see the session's status", include_closed=True)
        state = run_of_show_slack.status_of(context["database"], event_id=event_id)
        respond(run_of_show_blocks.status(state).as_ephemeral())


def close_event(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = _event_id(context, command, "close the session")
        closed = run_of_show_slack.close_event(context["database"], event_id=event_id, now=utcnow())
        reply = (messages.ok("The session is closed: thanks and the evaluation form are posted.") if closed
                 else messages.notice("The session is already closed."))
        respond(reply.as_ephemeral())


def pull_reflections(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        event_id = events_slack.event_id_to_read(
            context["database"], workspace_id=context["workspace_id"], channel_id=command["channel_id"],
            slack_user_id=command["user_id"], action="see the reflections",
            on=payloads.only_a_day(command, usage="/event reflections"), usage="/event reflections")
        title, shared, csv_text = reflections_slack.export(context["database"], client, event_id=event_id,
                                                           now=utcnow())
        csv_sent = True
        try:
            send_to_dm(client, user_id=command["user_id"], filename=f"reflections-event-{event_id}.csv",
                       content=csv_text, title=f"Reflections: {title}",
                       comment=f"All {len(shared)} reflections from {escape(title)}.")
        except SlackApiError as error:
            logger.warning("could not send reflections CSV: %s", error.response.get("error"))
            csv_sent = False
        custom = reflections_slack.own_prompts(context["database"], event_id=event_id)
        respond(reflection_blocks.reflections_digest(title, shared, csv_sent=csv_sent, custom=custom).as_ephemeral())


SUBCOMMANDS = {
    "start": start_event,
    "next": next_segment,
    "hold": hold_event,
    "resume": resume_event,
    "extend": extend_item,
    "prompt": post_prompt,
    "status": show_status,
    "close": close_event,
    "reflections": pull_reflections,
}

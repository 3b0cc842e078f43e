"""`/event programme`: an organiser builds and changes the event's programme in a modal, and
`/event programme export` sends it to them as a programme file.

The editor lists the programme; each part opens a form on top of it, and a form's Save is one
change, checked as a programme file is checked, saved whole or not at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import utcnow
from bot.config import load_settings
from bot.errors import UserError
from bot.events.slack import WhoMayOrganise
from bot.programme import blocks
from bot.programme import rules as programme
from bot.programme import slack as programme_slack
from bot.slack import messages, views
from handlers import payloads
from handlers.replies import answering_problems, open_form
from handlers.setting_up import WHO_MAY_ORGANISE

logger = logging.getLogger(__name__)


def run_programme_command(ack: Ack, command: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    ack()
    with answering_problems(respond):
        database, user_id = context["database"], command["user_id"]
        event_id = programme_slack.event_in_channel(database, workspace_id=context["workspace_id"],
                                                    channel_id=command["channel_id"])
        common = dict(who_may_organise=context[WHO_MAY_ORGANISE], workspace_id=context["workspace_id"],
                      event_id=event_id, slack_user_id=user_id)
        wanted = (command.get("text") or "").strip().lower()
        if wanted == "export":
            filename = programme_slack.export_programme(database, client, **common)
            respond(messages.ok(f"The programme is in your DMs with me, as `{filename}`.").as_ephemeral())
            return
        if wanted:
            respond(messages.notice("`/event programme` opens the programme editor; "
                                    "`/event programme export` sends it to you as a file.").as_ephemeral())
            return
        opened = programme_slack.open_programme(database, client, **common)
        open_form(client, respond, trigger_id=command.get("trigger_id"),
                  view=blocks.editor(opened.editable, title=opened.title))


def open_editor_from_home(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient) -> None:
    ack()
    try:
        event_id = payloads.positive_id(payloads.fields(action.get("value"), "event_id")["event_id"])
        opened = programme_slack.open_programme(
            context["database"], client, who_may_organise=context[WHO_MAY_ORGANISE],
            workspace_id=context["workspace_id"], event_id=event_id, slack_user_id=payloads.user_id(body))
        view = blocks.editor(opened.editable, title=opened.title)
    except UserError as error:
        view = views.notice_modal(messages.notice(str(error)))
    _show(lambda: client.views_open(trigger_id=body.get("trigger_id") or "", view=view))


def _show(call: Callable[[], Any]) -> None:
    """Open, push or redraw a view; a refusal (an expired trigger, a view changed meanwhile) is logged,
    since the change itself, if any, is saved and the editor shows it when next opened."""
    try:
        call()
    except SlackApiError as error:
        logger.warning("Slack would not show the programme editor: %s", error.response.get("error"))


def _editor_context(body: dict) -> tuple[int, int, str]:
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    metadata = payloads.metadata(view, "event_id")
    page = metadata.get("page", 0)
    page = page if isinstance(page, int) and not isinstance(page, bool) and 0 <= page < 10_000 else 0
    view_id = view.get("id")
    if not isinstance(view_id, str):
        raise payloads.OutOfDate("it does not say which form")
    return payloads.positive_id(metadata["event_id"]), page, view_id


def _index(value: str) -> tuple[str, int]:
    operation, _, position = value.partition(":")
    if not position.isdigit() or len(position) > 4:
        raise payloads.OutOfDate("it does not say which item")
    return operation, int(position)


def act_in_editor(ack: Ack, body: dict, action: dict, context: BoltContext, client: WebClient) -> None:
    """A button or menu in the editor: open a form on top of it, or make the change and redraw it."""
    ack()
    try:
        event_id, page, view_id = _editor_context(body)
        user_id = payloads.user_id(body)
        common = dict(who_may_organise=context[WHO_MAY_ORGANISE], workspace_id=context["workspace_id"],
                      event_id=event_id, slack_user_id=user_id)
        action_id = action.get("action_id")
        change: Callable[[programme.Editable], programme.Change] | None = None
        form: Callable[[programme.Editable], dict[str, Any]] | None = None
        if action_id in blocks.PAGE_ACTIONS:
            wanted_page = payloads.text(action.get("value"))
            if not wanted_page.isdigit() or len(wanted_page) > 4:
                raise payloads.OutOfDate("it does not say which page")
            page = int(wanted_page)
        elif action_id == blocks.ADD_ITEM_ACTION:
            form = lambda e: blocks.item_form(e, index=None, root_view_id=view_id)  # noqa: E731
        elif action_id == blocks.ADD_REMINDER_ACTION:
            form = lambda e: blocks.reminder_form(e, index=None, root_view_id=view_id)  # noqa: E731
        elif action_id == blocks.NOTES_ACTION:
            form = lambda e: blocks.notes_form(e, root_view_id=view_id)  # noqa: E731
        elif action_id == blocks.PROMPT_ACTION:
            theme = payloads.text(action.get("value"))
            form = lambda e: blocks.prompt_form(e, theme=theme, root_view_id=view_id)  # noqa: E731
        elif action_id == blocks.ADD_PROMPT_ACTION:
            form = lambda e: blocks.own_prompt_form(e, index=None, root_view_id=view_id)  # noqa: E731
        elif action_id == blocks.OWN_PROMPT_ACTION:
            operation, index = _index(payloads.selected_value(action))
            if operation == "edit":
                form = lambda e: blocks.own_prompt_form(e, index=index, root_view_id=view_id)  # noqa: E731
            elif operation == "remove":
                change = lambda e: programme.remove_own_prompt(e, index)  # noqa: E731
        elif action_id == blocks.AGENDA_ITEM_ACTION:
            operation, index = _index(payloads.selected_value(action))
            if operation == "edit":
                form = lambda e: blocks.item_form(e, index=index, root_view_id=view_id)  # noqa: E731
            elif operation in ("up", "down"):
                other = index - 1 if operation == "up" else index + 1
                change = lambda e: programme.swap_agenda_items(e, index, other)  # noqa: E731
            elif operation == "remove":
                change = lambda e: programme.remove_agenda_item(e, index)  # noqa: E731
        elif action_id == blocks.REMINDER_ACTION:
            operation, index = _index(payloads.selected_value(action))
            if operation == "edit":
                form = lambda e: blocks.reminder_form(e, index=index, root_view_id=view_id)  # noqa: E731
            elif operation == "remove":
                change = lambda e: programme.remove_reminder(e, index)  # noqa: E731
        if form is not None:
            opened = programme_slack.open_programme(context["database"], client, **common)
            pushed = form(opened.editable)
            _show(lambda: client.views_push(trigger_id=body.get("trigger_id") or "", view=pushed))
            return
        notice = None
        if change is not None:
            try:
                opened = programme_slack.change_programme(context["database"], client, change=change, now=utcnow(),
                                                          **common)
            except UserError as refused:
                notice = f"Nothing was changed: {refused}"
                opened = programme_slack.open_programme(context["database"], client, **common)
        else:
            opened = programme_slack.open_programme(context["database"], client, **common)
        redrawn = blocks.editor(opened.editable, title=opened.title, page=page, notice=notice)
    except UserError as error:
        redrawn = views.notice_modal(messages.notice(str(error)))
        view = body.get("view")
        view_id = view.get("id") if isinstance(view, dict) and isinstance(view.get("id"), str) else ""
    _show(lambda: client.views_update(view_id=view_id, view=redrawn))


# --- the forms: each Save is one change ---------------------------------------------------------


def _lines(value: object) -> list[str]:
    return [line.strip() for line in payloads.text(value).splitlines() if line.strip()]


def _item(values: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": values.get("kind") or "other", "speakers": _lines(values.get("speakers"))}
    if values.get("title") is not None:
        item["title"] = values["title"]
    if values.get("start") is not None:
        item["start"] = values["start"]
    return item


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text  # the file's check says what a number of hours must be


def _reminder(values: dict[str, Any], timezone: str) -> dict[str, Any]:
    when = values.get("when") or ""
    if when == blocks.PICKED:
        if values.get("when_at") is None:
            raise programme.ProgrammeProblems([programme.Problem(
                "when_at", "pick the date and time, or choose another time above", key="when_at")])
        try:
            when = blocks.picked_when(values["when_at"], timezone)
        except (OverflowError, ValueError, OSError):  # past any date a picker offers
            raise payloads.OutOfDate("its date and time is not one Slack's picker gives") from None
    entry: dict[str, Any] = {"when": when, "audience": values.get("audience") or "dm",
                             "text": payloads.text(values.get("text"))}
    if entry["audience"] == "dm":
        # A channel post reaches everyone: these two are for DMs only, and the file refuses them there.
        entry["only_incomplete"] = "only_incomplete" in (values.get("only_incomplete") or [])
        entry["include_team"] = "include_team" in (values.get("include_team") or [])
    grace = payloads.text(values.get("grace_hours")).strip()
    if grace:
        entry["grace_hours"] = _number(grace)
    return entry


def _save(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient, *,
          fields: tuple[str, ...], fallback: str,
          change_for: Callable[[dict[str, Any], dict[str, Any]], tuple[str, Callable[[programme.Editable],
                                                                              programme.Change]]]) -> None:
    """Check and save one form's change; on a problem the form shows it and nothing is saved.

    `change_for` gives the change and where its problems are keyed in the programme ("agenda[{}]",
    filled in with the item's place once the change has put it in time order).
    """
    focus: list[int | None] = []

    def noting_focus(make: Callable[[programme.Editable], programme.Change]) -> Callable[..., programme.Change]:
        def change(editable: programme.Editable) -> programme.Change:
            made = make(editable)
            focus.append(made.focus)
            return made
        return change

    prefix = ""
    try:
        metadata = payloads.metadata(view, "event_id", "root")
        event_id = payloads.positive_id(metadata["event_id"])
        root = payloads.text(metadata["root"])
        prefix, make = change_for(metadata, payloads.form_values(view))
        opened = programme_slack.change_programme(
            context["database"], client, who_may_organise=context[WHO_MAY_ORGANISE],
            workspace_id=context["workspace_id"], event_id=event_id, slack_user_id=payloads.user_id(body),
            change=noting_focus(make), now=utcnow())
    except programme.ProgrammeProblems as problems:
        where = prefix.format(focus[-1] + 1) if focus and focus[-1] is not None else prefix
        ack(response_action="errors", errors=blocks.field_errors(problems.problems, prefix=where, fields=fields,
                                                                 fallback=fallback))
        return
    except UserError as error:
        ack(response_action="errors", errors={fallback: str(error)[:blocks.ERROR_LIMIT]})
        return
    ack()
    _show(lambda: client.views_update(view_id=root, view=blocks.editor(opened.editable, title=opened.title)))


def _position(metadata: dict[str, Any]) -> int | None:
    index = metadata.get("index")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 10_000):
        raise payloads.OutOfDate("it does not say which part of the programme")
    return index


def save_item(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    def change_for(metadata: dict[str, Any], values: dict[str, Any]) -> tuple[str, Any]:
        index, item = _position(metadata), _item(values)
        return "agenda[{}]", lambda e: programme.put_agenda_item(e, index, item)

    _save(ack, body, view, context, client, fields=("title", "start", "kind", "speakers"), fallback="start",
          change_for=change_for)


def save_prompt(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    def change_for(metadata: dict[str, Any], values: dict[str, Any]) -> tuple[str, Any]:
        theme = payloads.text(metadata.get("theme"))
        text = payloads.text(values.get("text"))
        # The document lists the four prompts in theme order.
        position = list(blocks.THEME_LABELS).index(theme) + 1 if theme in blocks.THEME_LABELS else 0
        return f"prompts[{position}]", lambda e: programme.put_prompt(e, theme, text=text, at=values.get("at"))

    _save(ack, body, view, context, client, fields=("text", "at"), fallback="text", change_for=change_for)


def save_own_prompt(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    def change_for(metadata: dict[str, Any], values: dict[str, Any]) -> tuple[str, Any]:
        index = _position(metadata)
        name, text = payloads.text(values.get("name")), payloads.text(values.get("text"))
        return "prompts[{}]", lambda e: programme.put_own_prompt(e, index, name=name, text=text, at=values.get("at"))

    _save(ack, body, view, context, client, fields=("name", "text", "at"), fallback="name", change_for=change_for)


def save_notes(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    def change_for(metadata: dict[str, Any], values: dict[str, Any]) -> tuple[str, Any]:
        next_event = payloads.text(values.get("next_event")).strip() or None
        return "event", lambda e: programme.put_notes(
            e, housekeeping=_lines(values.get("housekeeping")), partners=_lines(values.get("partners")),
            next_event=next_event)

    _save(ack, body, view, context, client, fields=("housekeeping", "partners", "next_event"),
          fallback="housekeeping", change_for=change_for)


def save_reminder(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient) -> None:
    def change_for(metadata: dict[str, Any], values: dict[str, Any]) -> tuple[str, Any]:
        index = _position(metadata)

        def make(editable: programme.Editable) -> programme.Change:
            entry = _reminder(values, editable.document["event"]["timezone"])
            return programme.put_reminder(editable, index, entry)

        return "reminders[{}]", make

    _save(ack, body, view, context, client, fields=("when", "when_at", "audience", "only_incomplete",
                                                    "include_team", "text", "grace_hours"),
          fallback="when", change_for=change_for)


# --- a programme file sent to the app's DM ------------------------------------------------------


def is_programme_file(event: dict) -> bool:
    """A person sharing a file in their DM with the app (the app's own uploads there are not one)."""
    return (event.get("channel_type") == "im" and event.get("subtype") == "file_share"
            and not event.get("bot_id") and isinstance(event.get("files"), list))


_who_may_organise: list[WhoMayOrganise] = []  # set by register(): the one this app's requests share


def receive_programme_file(event: dict, context: BoltContext) -> None:
    """Read, check and import the file on a thread of its own, answering in the DM when done.

    Events are answered before their listener's work (handlers.STORED_EVENTS runs this before
    Slack's answer): reading the file and looking people up in Slack could take past Slack's 3
    seconds, and Slack would then send the file again. A process that stops meanwhile leaves the
    organiser without an answer; sending the file again is safe.
    """
    with payloads.ignoring_malformed("a file shared with eventbot"):
        user_id = payloads.slack_id(event.get("user"), what="person")
        channel_id = payloads.slack_id(event.get("channel"), what="DM")
        files = [file for file in event["files"] if isinstance(file, dict)]
        file_id = payloads.slack_id(files[0].get("id") if files else None, what="file")
        if user_id == context.bot_user_id:
            return
        database, client, workspace_id = context["database"], context.client, context["workspace_id"]
        who_may_organise = _who_may_organise[0]
        more = len(files) > 1

        def take() -> None:
            try:
                answer = programme_slack.take_programme_file(
                    database, client, who_may_organise=who_may_organise, workspace_id=workspace_id,
                    slack_user_id=user_id, file_id=file_id, now=utcnow())
                if more:
                    answer += "\n(Only the first file was read: send one programme file at a time.)"
                client.chat_postMessage(channel=channel_id, **blocks.file_answer(answer).as_post())
            except SlackApiError as error:
                logger.warning("could not take a programme file from %s: %s", user_id, error.response.get("error"))
            except Exception:  # noqa: BLE001 - a thread of its own: nothing above it would log this
                logger.exception("could not take a programme file from %s", user_id)

        threading.Thread(target=take, name="programme-file", daemon=True).start()


SUBCOMMANDS = {"programme": run_programme_command}


def register(app: App) -> None:
    _who_may_organise[:] = [WhoMayOrganise.from_settings(load_settings())]
    app.action(blocks.OPEN_EDITOR_ACTION)(open_editor_from_home)
    for action_id in blocks.EDITOR_ACTIONS:
        app.action(action_id)(act_in_editor)
    app.view(blocks.ITEM_CALLBACK)(save_item)
    app.view(blocks.PROMPT_CALLBACK)(save_prompt)
    app.view(blocks.OWN_PROMPT_CALLBACK)(save_own_prompt)
    app.view(blocks.NOTES_CALLBACK)(save_notes)
    app.view(blocks.REMINDER_CALLBACK)(save_reminder)

"""Block Kit for the programme editor: the editor modal, the forms it pushes, and its field errors.

The editor shows the programme as it is stored; each form changes one part of it, and the change
is saved (or refused with field errors) when that form is submitted. Organisers' words are escaped.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DateTimePickerElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    TimePickerElement,
)
from slack_sdk.models.views import View

from bot.clock import UTC, zone
from bot.events.rules import DEFAULT_PROMPTS
from bot.models import MAX_PROMPT_NAME_CHARS, SegmentKind
from bot.programme.rules import Editable
from bot.programme.schema import Problem
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import escape, truncate
from bot.slack.views import VALUE

OPEN_EDITOR_ACTION = "programme_open_editor"  # the Home tab's button, value {"event_id": …}
AGENDA_ITEM_ACTION = "programme_agenda_item"  # an item's menu: edit, up, down, remove
ADD_ITEM_ACTION = "programme_add_item"
PROMPT_ACTION = "programme_prompt"
OWN_PROMPT_ACTION = "programme_own_prompt"  # a custom prompt's menu: edit, remove
ADD_PROMPT_ACTION = "programme_add_prompt"
NOTES_ACTION = "programme_notes"
REMINDER_ACTION = "programme_reminder"  # a reminder's menu: edit, remove
ADD_REMINDER_ACTION = "programme_add_reminder"
# Two buttons in one block need two action ids; both say which page in their value.
PAGE_ACTIONS = ("programme_page_earlier", "programme_page_later")
EDITOR_ACTIONS = (AGENDA_ITEM_ACTION, ADD_ITEM_ACTION, PROMPT_ACTION, OWN_PROMPT_ACTION, ADD_PROMPT_ACTION,
                  NOTES_ACTION, REMINDER_ACTION, ADD_REMINDER_ACTION, *PAGE_ACTIONS)

EDITOR_CALLBACK = "programme_editor"
ITEM_CALLBACK = "programme_item"
PROMPT_CALLBACK = "programme_prompt"
OWN_PROMPT_CALLBACK = "programme_own_prompt"
NOTES_CALLBACK = "programme_notes"
REMINDER_CALLBACK = "programme_reminder"

# A view holds at most 100 blocks: the agenda is shown a page at a time, and reminders past this
# many are counted rather than listed.
AGENDA_PAGE = 25
REMINDERS_SHOWN = 15
# Slack shows a field error of any length, but a wall of text helps nobody.
ERROR_LIMIT = 300

KIND_LABELS = {SegmentKind.WELCOME: "Welcome", SegmentKind.PRESENTATION: "Presentation", SegmentKind.QA: "Q&A",
               SegmentKind.BREAK: "Break", SegmentKind.CLOSE: "Close", SegmentKind.OTHER: "Other"}
THEME_LABELS = {"improvement": "Improvement", "collaborative_working": "Collaborative working",
                "equity": "Equity", "next_steps": "Next steps"}
# The reminder form's choices of when; a time counted from the close follows the chair's pace.
PICKED = "picked"
WHEN_CHOICES = {"at close": "At the close", "1 hour after": "An hour after the close",
                "2 hours after": "Two hours after the close", "next day 09:00": "Next day, 09:00",
                "next day 10:00": "Next day, 10:00", "next day 14:00": "Next day, 14:00",
                PICKED: "At the date and time picked below"}


def _section(text: str, accessory: Any = None) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)), accessory=accessory)


def _option(value: str, text: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=truncate(text, 75)))


def editor(editable: Editable, *, title: str, page: int = 0, notice: str | None = None) -> dict[str, Any]:
    """The editor: the programme as stored, a menu on everything still to come."""
    document = editable.document
    event = document["event"]
    agenda = document["agenda"]
    blocks: list[Any] = [_section(f"*{escape(title)}*, {event['date'].isoformat()}, {event['start']}–{event['end']} "
                                  f"({escape(event['timezone'])}). Each change is saved when you press Save on its "
                                  "form, and reaches every post not yet made.")]
    if notice:
        blocks.append(_section(f":warning: {escape(notice)}"))
    blocks.append(HeaderBlock(text="Agenda"))
    pages = max(1, -(-len(agenda) // AGENDA_PAGE))
    page = min(max(page, 0), pages - 1)
    first = page * AGENDA_PAGE
    for index, item in enumerate(agenda[first:first + AGENDA_PAGE], start=first):
        speakers = "; ".join(item.get("speakers") or [])
        line = f"*{item['start']}*  {escape(item['title'])}  _({escape(item.get('kind', 'other'))})_"
        if speakers:
            line += f"\n{escape(speakers)}"
        if editable.announced[index]:
            blocks.append(_section(line + "\n_announced_"))
            continue
        options = [_option(f"edit:{index}", "Edit")]
        if index > 0 and not editable.announced[index - 1]:
            options.append(_option(f"up:{index}", "Move up (times stay)"))
        if index + 1 < len(agenda):
            options.append(_option(f"down:{index}", "Move down (times stay)"))
        options.append(_option(f"remove:{index}", "Remove"))
        blocks.append(SectionBlock(block_id=f"item-{index}", text=MarkdownTextObject(text=truncate(line, SECTION_LIMIT)),
                                   accessory=OverflowMenuElement(action_id=AGENDA_ITEM_ACTION, options=options)))
    if not agenda:
        blocks.append(_section("_No agenda yet._"))
    buttons = [ButtonElement(text="Add agenda item", action_id=ADD_ITEM_ACTION, value="add")]
    if pages > 1:
        if page > 0:
            buttons.append(ButtonElement(text="Earlier items", action_id=PAGE_ACTIONS[0], value=str(page - 1)))
        if page + 1 < pages:
            buttons.append(ButtonElement(text="Later items", action_id=PAGE_ACTIONS[1], value=str(page + 1)))
    blocks.append(ActionsBlock(block_id="agenda-actions", elements=buttons))

    blocks.append(HeaderBlock(text="Reflection prompts"))
    for index, prompt in enumerate(document["prompts"]):
        when = prompt.get("at") or "when a chair posts it"
        if "name" in prompt:  # one of the organiser's own
            line = f"*{escape(prompt['name'])}* (your own), {when}\n{escape(prompt['text'])}"
            if prompt["name"] in editable.posted_themes:
                blocks.append(_section(line + "\n_posted_"))
                continue
            blocks.append(SectionBlock(
                block_id=f"own-prompt-{index}", text=MarkdownTextObject(text=truncate(line, SECTION_LIMIT)),
                accessory=OverflowMenuElement(action_id=OWN_PROMPT_ACTION, options=[
                    _option(f"edit:{index}", "Edit"), _option(f"remove:{index}", "Remove")])))
            continue
        theme = prompt["theme"]
        line = f"*{THEME_LABELS.get(theme, theme)}*, {when}\n{escape(prompt['text'])}"
        if theme in editable.posted_themes:
            blocks.append(_section(line + "\n_posted_"))
        else:
            blocks.append(SectionBlock(block_id=f"prompt-{theme}", text=MarkdownTextObject(
                text=truncate(line, SECTION_LIMIT)), accessory=ButtonElement(text="Edit", action_id=PROMPT_ACTION,
                                                                               value=theme)))
    blocks.append(ActionsBlock(block_id="prompt-actions", elements=[
        ButtonElement(text="Add a prompt of your own", action_id=ADD_PROMPT_ACTION, value="add")]))

    blocks.append(HeaderBlock(text="Notes"))
    notes = event.get("housekeeping") or []
    partners = event.get("partners") or []
    summary = [f"{len(notes)} housekeeping note{'s' if len(notes) != 1 else ''}",
               "partners: " + (escape(", ".join(partners)) if partners else "none"),
               "next event: " + (escape(event["next_event"]) if event.get("next_event") else "none")]
    blocks.append(SectionBlock(block_id="notes", text=MarkdownTextObject(text=truncate("\n".join(summary), SECTION_LIMIT)),
                               accessory=ButtonElement(text="Edit", action_id=NOTES_ACTION, value="notes")))

    blocks.append(HeaderBlock(text="Evaluation reminders"))
    reminders = document["reminders"]
    for index, reminder in enumerate(reminders[:REMINDERS_SHOWN]):
        to = "the channel" if reminder["audience"] == "channel" else "DMs"
        line = f"*{escape(reminder['when'])}*, to {to}\n{escape(truncate(reminder['text'], 300))}"
        if not editable.reminder_open[index]:
            blocks.append(_section(line + "\n_gone out_"))
            continue
        blocks.append(SectionBlock(
            block_id=f"reminder-{index}", text=MarkdownTextObject(text=truncate(line, SECTION_LIMIT)),
            accessory=OverflowMenuElement(action_id=REMINDER_ACTION, options=[
                _option(f"edit:{index}", "Edit"), _option(f"remove:{index}", "Remove")])))
    if len(reminders) > REMINDERS_SHOWN:
        blocks.append(_section(f"…and {len(reminders) - REMINDERS_SHOWN} more: `/event reminders` lists them all."))
    if not reminders:
        blocks.append(_section("_No reminders yet._"))
    blocks.append(ActionsBlock(block_id="reminder-actions", elements=[
        ButtonElement(text="Add reminder", action_id=ADD_REMINDER_ACTION, value="add")]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="`/event programme export` sends you this programme as a file; a programme file sent to me in a DM "
             "replaces it.")]))
    return View(type="modal", callback_id=EDITOR_CALLBACK, title="Programme", close="Done", blocks=blocks,
                private_metadata=json.dumps({"event_id": editable.event_id, "page": page})).to_dict()


def _form(callback_id: str, title: str, blocks: list[Any], metadata: dict[str, Any]) -> dict[str, Any]:
    return View(type="modal", callback_id=callback_id, title=title, submit="Save", close="Back", blocks=blocks,
                private_metadata=json.dumps(metadata)).to_dict()


def _text_input(block_id: str, label: str, *, initial: str | None, multiline: bool = False, optional: bool = False,
                hint: str | None = None, max_length: int = SECTION_LIMIT) -> InputBlock:
    return InputBlock(block_id=block_id, label=label, optional=optional, hint=hint, element=PlainTextInputElement(
        action_id=VALUE, initial_value=initial or None, multiline=multiline, max_length=max_length))


def item_form(editable: Editable, *, index: int | None, root_view_id: str) -> dict[str, Any]:
    item = editable.document["agenda"][index] if index is not None else {}
    kinds = [_option(kind.value, label) for kind, label in KIND_LABELS.items()]
    initial_kind = next((option for option in kinds if option.value == item.get("kind", "other")), kinds[-1])
    blocks = [
        _text_input("title", "Title", initial=item.get("title"), max_length=255),
        InputBlock(block_id="start", label="Starts at", hint=f"In the event's time zone, "
                   f"{editable.document['event']['timezone']}. The agenda is kept in order of start.",
                   element=TimePickerElement(action_id=VALUE, initial_time=item.get("start"))),
        InputBlock(block_id="kind", label="Kind", element=StaticSelectElement(
            action_id=VALUE, options=kinds, initial_option=initial_kind)),
        _text_input("speakers", "Speakers", initial="\n".join(item.get("speakers") or []), multiline=True,
                    optional=True, hint="One per line."),
    ]
    return _form(ITEM_CALLBACK, "Agenda item", blocks,
                 {"event_id": editable.event_id, "index": index, "root": root_view_id})


def prompt_form(editable: Editable, *, theme: str, root_view_id: str) -> dict[str, Any]:
    prompt = next((entry for entry in editable.document["prompts"] if entry["theme"] == theme), {})
    default = next((text for known, text in DEFAULT_PROMPTS.items() if known.value == theme), "")
    blocks = [
        _section(f"*{THEME_LABELS.get(theme, escape(theme))}*"),
        _text_input("text", "Prompt", initial=prompt.get("text") or default, multiline=True,
                    hint="Replies in the prompt's thread are collected as reflections."),
        InputBlock(block_id="at", label="Posted at", optional=True,
                   hint="Leave it empty for a chair to post it with `/event prompt`.",
                   element=TimePickerElement(action_id=VALUE, initial_time=prompt.get("at"))),
    ]
    return _form(PROMPT_CALLBACK, "Reflection prompt", blocks,
                 {"event_id": editable.event_id, "theme": theme, "root": root_view_id})


def own_prompt_form(editable: Editable, *, index: int | None, root_view_id: str) -> dict[str, Any]:
    """A prompt of the organiser's own: its name (shown in digests, typed after `/event prompt`),
    its question and when it is posted."""
    prompt = editable.document["prompts"][index] if index is not None else {}
    blocks = [
        # Longer than a name may be, so that the programme's own check says what is wrong.
        _text_input("name", "Name", initial=prompt.get("name"), max_length=255,
                    hint=f"A few words, at most {MAX_PROMPT_NAME_CHARS} characters: the digest groups its "
                         "reflections under it, and `/event prompt` followed by it posts the prompt."),
        _text_input("text", "Prompt", initial=prompt.get("text"), multiline=True,
                    hint="Replies in the prompt's thread are collected as reflections."),
        InputBlock(block_id="at", label="Posted at", optional=True,
                   hint="Leave it empty for a chair to post it with `/event prompt` and its name.",
                   element=TimePickerElement(action_id=VALUE, initial_time=prompt.get("at"))),
    ]
    return _form(OWN_PROMPT_CALLBACK, "Your own prompt", blocks,
                 {"event_id": editable.event_id, "index": index, "root": root_view_id})


def notes_form(editable: Editable, *, root_view_id: str) -> dict[str, Any]:
    event = editable.document["event"]
    blocks = [
        _text_input("housekeeping", "Housekeeping notes", initial="\n".join(event.get("housekeeping") or []),
                    multiline=True, optional=True, hint="One per line; they are listed in the welcome."),
        _text_input("partners", "Partner organisations", initial="\n".join(event.get("partners") or []),
                    multiline=True, optional=True, hint="One per line."),
        _text_input("next_event", "Next event", initial=event.get("next_event"), multiline=True, optional=True,
                    hint="Shown in the close."),
    ]
    return _form(NOTES_CALLBACK, "Notes", blocks, {"event_id": editable.event_id, "root": root_view_id})


def reminder_form(editable: Editable, *, index: int | None, root_view_id: str) -> dict[str, Any]:
    reminder = editable.document["reminders"][index] if index is not None else {
        "when": "at close", "audience": "dm", "only_incomplete": True, "include_team": False,
        "text": "Please complete the evaluation form: {form_url}", "grace_hours": 6}
    choices = dict(WHEN_CHOICES)
    when = reminder["when"]
    picked_at: int | None = None
    if when not in choices:
        picked_at = _picked_epoch(when, editable.document["event"]["timezone"])
        if picked_at is None:  # a form of words from a file, kept as one of the choices
            choices = {when: when, **choices}
    when_options = [_option(value, label) for value, label in choices.items()]
    initial_when = next(option for option in when_options
                        if option.value == (PICKED if picked_at is not None else when))
    audiences = [_option("dm", "A DM to each attendee"), _option("channel", "A post in the channel")]
    incomplete = _option("only_incomplete", "Only people who have not said they completed the form")
    team = _option("include_team", "Include the event's organisers, chairs and presenters")
    blocks = [
        InputBlock(block_id="when", label="When", element=StaticSelectElement(
            action_id=VALUE, options=when_options, initial_option=initial_when)),
        InputBlock(block_id="when_at", label="Date and time", optional=True,
                   hint="For 'At the date and time picked below'.",
                   element=DateTimePickerElement(action_id=VALUE, initial_date_time=picked_at)),
        InputBlock(block_id="audience", label="To whom", element=RadioButtonsElement(
            action_id=VALUE, options=audiences, initial_option=audiences[reminder["audience"] == "channel"])),
        InputBlock(block_id="only_incomplete", label="Already done it?", optional=True, hint="For DMs.",
                   element=CheckboxesElement(action_id=VALUE, options=[incomplete],
                                             initial_options=[incomplete] if reminder.get("only_incomplete") else None)),
        InputBlock(block_id="include_team", label="The event's team", optional=True, hint="For DMs.",
                   element=CheckboxesElement(action_id=VALUE, options=[team],
                                             initial_options=[team] if reminder.get("include_team") else None)),
        _text_input("text", "Text", initial=reminder["text"], multiline=True,
                    hint="{form_url} becomes the evaluation form's link."),
        _text_input("grace_hours", "Grace hours", initial=str(reminder.get("grace_hours", 6)), optional=True,
                    hint="How late a reminder may still go out after eventbot was away.", max_length=10),
    ]
    return _form(REMINDER_CALLBACK, "Evaluation reminder", blocks,
                 {"event_id": editable.event_id, "index": index, "root": root_view_id})


def _picked_epoch(when: str, zone_name: str) -> int | None:
    try:
        moment = datetime.strptime(" ".join(when.split()), "%Y-%m-%d %H:%M").replace(tzinfo=zone(zone_name))
    except ValueError:
        return None
    return int(moment.timestamp())


def picked_when(epoch: str | int, zone_name: str) -> str:
    """A datetimepicker's moment as a programme file writes it: the event's wall clock."""
    return datetime.fromtimestamp(int(epoch), tz=UTC).astimezone(zone(zone_name)).strftime("%Y-%m-%d %H:%M")


def field_errors(problems: list[Problem], *, prefix: str, fields: tuple[str, ...], fallback: str) -> dict[str, str]:
    """The programme's problems as a form's field errors: a problem with one of the form's own keys
    on its field, any other (a later item the change collides with) on `fallback`, saying where."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        key = problem.key
        field = fallback
        message = problem.message
        if key in fields:  # the form's own check, keyed by its field
            field = key
        elif prefix and (key == prefix or key.startswith(prefix + ".")):
            rest = key[len(prefix):].lstrip(".")
            name = rest.split("[")[0]
            if name in fields:
                field = name
                if rest != name:
                    message = f"{rest}: {message}"
            else:
                message = f"{key}: {message}"
        else:
            message = f"{key}: {message}"
        errors.setdefault(field, []).append(message)
    return {field: truncate("; ".join(messages), ERROR_LIMIT) for field, messages in errors.items()}


def file_answer(text: str) -> Message:
    """What became of a programme file, in the words `eventbot event import` prints."""
    chunk = SECTION_LIMIT - 8
    pieces = [text[start:start + chunk] for start in range(0, len(text), chunk)][:40] or [""]
    return Message(text=truncate(text, 3000), blocks=blocks_of(*(_section("```" + escape(piece) + "```")
                                                                  for piece in pieces)))


def exported(*, title: str) -> str:
    return f"The programme of {title}, as a file: change it and send it back to me here to replace the programme."

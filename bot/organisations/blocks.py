"""Block Kit for organisations: the one-click choice, and the figures per organisation."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.organisations.rules import NOT_SAID, OrganisationFigures, OrganisationRow
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import escape, truncate

CHOOSE_ORGANISATION_ACTION = "choose_organisation"
PREFER_NOT_TO_SAY = "Prefer not to say"
# Buttons read well up to about this many; a longer partner list becomes a menu.
MOST_BUTTONS = 5


def choice_value(event_id: int, index: int | None) -> str:
    """What a choice carries: the event, and the partner's place in its list (None: prefer not to say)."""
    return json.dumps({"event_id": event_id, "partner": index})


def choice_elements(event_id: int, partners: list[str], *, current: str | None = None) -> list[Any]:
    """One click: a button per partner (a menu if there are many) and "Prefer not to say"."""
    if len(partners) <= MOST_BUTTONS:
        buttons = [ButtonElement(text=truncate(name, 75), action_id=f"{CHOOSE_ORGANISATION_ACTION}:{index}",
                                 value=choice_value(event_id, index),
                                 style="primary" if name == current else None)
                   for index, name in enumerate(partners)]
        return [*buttons, ButtonElement(text=PREFER_NOT_TO_SAY, action_id=f"{CHOOSE_ORGANISATION_ACTION}:none",
                                        value=choice_value(event_id, None))]
    options = [Option(value=choice_value(event_id, index), text=PlainTextObject(text=truncate(name, 75)))
               for index, name in enumerate(partners[:99])]
    options.append(Option(value=choice_value(event_id, None), text=PlainTextObject(text=PREFER_NOT_TO_SAY)))
    return [StaticSelectElement(action_id=f"{CHOOSE_ORGANISATION_ACTION}:menu", placeholder="Your organisation",
                                options=options)]


WHY = ("Counted per organisation, never shown by name: it lets the chair see whose questions get asked, "
       "voted up and answered.")


def choice_blocks(event_id: int, partners: list[str], *, current: str | None = None) -> list[Any]:
    return [
        SectionBlock(text=MarkdownTextObject(text="*Which organisation are you joining from?* One click.")),
        ActionsBlock(elements=choice_elements(event_id, partners, current=current)),
        ContextBlock(elements=[MarkdownTextObject(text=WHY)]),
    ]


def choice_prompt(event_id: int, title: str, partners: list[str], *, current: str | None) -> Message:
    said = f"You count for *{escape(current)}* at this event; change it here. " if current else ""
    return Message(text=f"Which organisation are you joining {title} from?", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=truncate(f"{said}*Which organisation are you joining from?*", 3000))),
        ActionsBlock(elements=choice_elements(event_id, partners, current=current)),
        ContextBlock(elements=[MarkdownTextObject(text=WHY)]),
    ))


def chosen(organisation: str | None, title: str, *, own_workspace: bool = False) -> Message:
    if own_workspace:
        text = (f"Thank you: in this shared channel you count for your own workspace, *{escape(organisation or '')}*, "
                f"at *{escape(title)}*. \"Prefer not to say\" is always there if you would rather not.")
    elif organisation is None:
        text = (f"Noted: you prefer not to say, so you are counted under \"{NOT_SAID}\" at *{escape(title)}*. "
                "`/event organisation` changes it.")
    else:
        text = (f"Thank you: you count for *{escape(organisation)}* at *{escape(title)}*. "
                "`/event organisation` changes it.")
    return Message(text=text, blocks=blocks_of(SectionBlock(text=MarkdownTextObject(text=text))))


# --- the figures ------------------------------------------------------------------------------------


def _line(row: OrganisationRow) -> str:
    name = f"*{escape(row.organisation)}*"
    if row.too_small:
        return f"• {name}: fewer than 3 people, so no figures are shown"
    return (f"• {name}: {_count(row.people, 'person', 'people')} · {_count(row.questions, 'question')} "
            f"({row.answered_live} live, {row.answered_in_writing} in writing, {row.answered_after} after, "
            f"{row.not_answered} not answered) · votes {row.votes_given} given, {row.votes_received} received · "
            f"{_count(row.reflections, 'reflection')}")


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def figure_blocks(found: OrganisationFigures) -> list[Any]:
    """The digest's section on whose voices are heard: one line per organisation, and the flags."""
    if not found.rows:
        return []
    lines = [_line(row) for row in found.rows]
    text = "*By organisation*\n" + "\n".join(lines)
    parts: list[Any] = [SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))]
    if found.flags:
        parts.append(SectionBlock(text=MarkdownTextObject(text=truncate(
            ":warning: " + "\n:warning: ".join(escape(flag) for flag in found.flags), SECTION_LIMIT))))
    return parts

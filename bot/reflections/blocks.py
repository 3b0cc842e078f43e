"""Block Kit for reflections: the theme names, the "Share a reflection" modal and the chair's digest."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.models import ReflectionPrompt, ReflectionTheme
from bot.reflections.rules import MAX_REFLECTION_LENGTH, Shareable, SharedReflection, Topic
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import escape, plain, truncate
from bot.slack.views import VALUE

SHARE_REFLECTION_ACTION = "share_reflection"

THEME_NAMES: dict[ReflectionTheme, str] = {
    ReflectionTheme.IMPROVEMENT: "improvement",
    ReflectionTheme.COLLABORATIVE_WORKING: "collaborative working",
    ReflectionTheme.EQUITY: "equity",
    ReflectionTheme.NEXT_STEPS: "next steps",
}


def topic_name(topic: Topic, *, capital: bool = False) -> str:
    """A group of reflections as mrkdwn: the theme's words, or the custom prompt's name (escaped)."""
    if isinstance(topic, ReflectionTheme):
        return THEME_NAMES[topic].capitalize() if capital else THEME_NAMES[topic]
    return escape(topic)


SHARE_REFLECTION_CALLBACK = "share_reflection"


def share_reflection(prompt: ReflectionPrompt) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=SHARE_REFLECTION_CALLBACK,
        title="Share a reflection",
        submit="Share",
        close="Cancel",
        private_metadata=json.dumps({"prompt_id": prompt.id}),
        blocks=[
            SectionBlock(text=MarkdownTextObject(
                text=f"*{topic_name(prompt.topic, capital=True)}*\n{truncate(escape(prompt.text), 2900)}")),
            InputBlock(block_id="reflection", label="Your reflection", element=PlainTextInputElement(
                action_id=VALUE, multiline=True, max_length=MAX_REFLECTION_LENGTH)),
            InputBlock(block_id="anonymous", label="Name", optional=True, element=CheckboxesElement(
                action_id=VALUE, options=[Option(value="anonymous", text=PlainTextObject(text="Share anonymously"))])),
            ContextBlock(elements=[MarkdownTextObject(
                text="Anonymous reflections are shown to the chairs without your name.")]),
        ],
    ).to_dict()


MAX_MESSAGE_BLOCKS = 50


def reflections_digest(title: str, reflections: list[SharedReflection], *, csv_sent: bool,
                       custom: tuple[str, ...] = ()) -> Message:
    """Grouped by theme, then by the event's own prompts (`custom`, by name); anonymous ones carry
    no name. Long digests are cut to fit one message, and the CSV sent to the chair's DM always
    holds every reflection."""
    blocks: list = [HeaderBlock(text=truncate(plain(f"Reflections: {title}"), 150))]
    by_topic: dict[Topic, list[SharedReflection]] = {t: [] for t in (*ReflectionTheme, *custom)}
    for reflection in reflections:
        by_topic.setdefault(reflection.topic, []).append(reflection)
    omitted = 0
    for topic, items in by_topic.items():
        header = f"*{topic_name(topic, capital=True)}* ({len(items)})"
        if not items:
            chunks = [header + "\n_No reflections yet._"]
        else:
            chunks, current = [], header
            for item in items:
                who = f"<@{item.author_slack_id}>" if item.author_slack_id else "_anonymous_"
                line = f"\n• {truncate(escape(item.text), 600)} ({who})"
                if len(current) + len(line) > SECTION_LIMIT:
                    chunks.append(current)
                    current = ""
                current += line
            chunks.append(current)
        for chunk in chunks:
            # Keep two blocks for the closing context line and the "more in the CSV" note.
            if len(blocks) >= MAX_MESSAGE_BLOCKS - 2:
                omitted += chunk.count("\n• ")
                continue
            blocks.append(SectionBlock(text=MarkdownTextObject(text=chunk)))
    notes = []
    if omitted:
        notes.append(f"{omitted} more reflections did not fit here.")
    notes.append("The full list is in your DMs as a CSV file." if csv_sent else "The CSV file could not be sent to your DMs.")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" ".join(notes))]))
    return Message(text=f"Reflections: {escape(title)} ({len(reflections)})", blocks=blocks_of(*blocks))


SHARE_WITH_ROOM_ACTION = "share_reflections_with_room"
SHARE_WITH_ROOM_CALLBACK = "share_reflections_with_room"


def invite_to_share(*, event_id: int, event_title: str, count: int) -> Message:
    """To each chair after the close: choose which reflections go back to the room."""
    text = (f":speech_balloon: *{escape(event_title)}* has closed with {count} reflection{'s' if count != 1 else ''}. "
            "Choose which to share back with the room: nothing is published until you do.")
    return Message(text=f"Share reflections from {event_title}", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=text)),
        ActionsBlock(elements=[ButtonElement(text="Choose reflections to share", action_id=SHARE_WITH_ROOM_ACTION,
                                             value=str(event_id), style="primary")]),
    ))


def share_picker(*, event_id: int, choices: dict[Topic, list[Shareable]]) -> dict[str, Any]:
    """One set of checkboxes per prompted theme; only what the chair ticks is posted."""
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(
        text="Tick the reflections to share in the channel. The summary also gives the count for each theme. "
             "Anonymous reflections stay anonymous."))]
    for n, (topic, picks) in enumerate(choices.items()):
        options = [Option(value=str(p.reflection_id), text=PlainTextObject(
            text=truncate(plain(p.text) + (" (anonymous)" if p.anonymous else ""), 75))) for p in picks]
        # A plain-text label: a custom prompt's name goes in as written, cut to the label's limit.
        label = THEME_NAMES[topic].capitalize() if isinstance(topic, ReflectionTheme) else topic
        block_id = topic.value if isinstance(topic, ReflectionTheme) else f"prompt-{n}"
        blocks.append(InputBlock(block_id=block_id, label=truncate(label, 2000),
                                 optional=True, element=CheckboxesElement(action_id=VALUE, options=options)))
    if not choices:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text="_No reflections were shared this time._")]))
    return View(type="modal", callback_id=SHARE_WITH_ROOM_CALLBACK, title="Share reflections", submit="Post summary",
                close="Cancel", private_metadata=json.dumps({"event_id": event_id}), blocks=blocks).to_dict()


def back_to_the_room(*, event_title: str, counts: dict[Topic, int], picked: list[Shareable]) -> Message:
    """In the channel: how many reflections each prompted theme drew, and the ones the chair chose."""
    tally = "\n".join(f"• {topic_name(topic, capital=True)}: {count} reflection{'s' if count != 1 else ''}"
                      for topic, count in counts.items())
    blocks: list[Any] = [HeaderBlock(text="What you reflected"),
                         SectionBlock(text=MarkdownTextObject(text=truncate(
                             f"From *{escape(event_title)}*:\n{tally}", SECTION_LIMIT)))]
    for topic in counts:
        lines = [f"> {truncate(escape(p.text), 600)}" + (f" — <@{p.author_slack_id}>" if p.author_slack_id else "")
                 for p in picked if p.topic == topic]
        if lines:
            blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(
                f"*{topic_name(topic, capital=True)}*\n" + "\n".join(lines), SECTION_LIMIT))))
    return Message(text=f"What you reflected at {event_title}", blocks=blocks_of(*blocks))

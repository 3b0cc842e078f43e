"""Block Kit for reflections: the theme names, the "Share a reflection" modal and the chair's digest."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
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
from bot.reflections.rules import MAX_REFLECTION_LENGTH, SharedReflection
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
                text=f"*{THEME_NAMES[prompt.theme].capitalize()}*\n{truncate(escape(prompt.text), 2900)}")),
            InputBlock(block_id="reflection", label="Your reflection", element=PlainTextInputElement(
                action_id=VALUE, multiline=True, max_length=MAX_REFLECTION_LENGTH)),
            InputBlock(block_id="anonymous", label="Name", optional=True, element=CheckboxesElement(
                action_id=VALUE, options=[Option(value="anonymous", text=PlainTextObject(text="Share anonymously"))])),
            ContextBlock(elements=[MarkdownTextObject(
                text="Anonymous reflections are shown to the chairs without your name.")]),
        ],
    ).to_dict()


MAX_MESSAGE_BLOCKS = 50


def reflections_digest(title: str, reflections: list[SharedReflection], *, csv_sent: bool) -> Message:
    """Grouped by theme; anonymous ones carry no name. Long digests are cut to fit one message,
    and the CSV sent to the chair's DM always holds every reflection."""
    blocks: list = [HeaderBlock(text=truncate(plain(f"Reflections: {title}"), 150))]
    by_theme: dict[ReflectionTheme, list[SharedReflection]] = {t: [] for t in ReflectionTheme}
    for reflection in reflections:
        by_theme[reflection.theme].append(reflection)
    omitted = 0
    for theme, items in by_theme.items():
        header = f"*{THEME_NAMES[theme].capitalize()}* ({len(items)})"
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

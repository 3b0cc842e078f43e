"""What eventbot says about a person's data: what it holds, the question before forgetting, what
forgetting did, and the organisers' notice of a purge."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.privacy.rules import KINDS, RECENT_SHOWN, Forgotten, Holdings, Purged
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import escape, truncate

FORGET_ME_ACTION = "privacy_forget_me"
# One item's words in the summary; the file has them whole.
ITEM_SHOWN = 150


def holdings(found: Holdings, *, file_sent: bool) -> Message:
    """Counts of each kind with the latest few items; the whole goes to the person's DM as a file."""
    if not found.known and not found.items:
        return Message(text="eventbot holds nothing about you in this workspace.", blocks=blocks_of(
            SectionBlock(text=MarkdownTextObject(text="eventbot holds nothing about you in this workspace."))))
    blocks: list = [HeaderBlock(text="What eventbot holds about you")]
    if found.profile:
        profile = "\n".join(f"*{name}:* {escape(value)}" for name, value in found.profile)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(profile, SECTION_LIMIT))))
    counts = ", ".join(f"{kind}: {count}" for kind, count in found.counts())
    blocks.append(SectionBlock(text=MarkdownTextObject(text=counts)))
    for kind in KINDS:
        items = found.of_kind(kind)
        if not items:
            continue
        lines = [f"• {truncate(escape(item.event), 60)}: {truncate(escape(item.detail), ITEM_SHOWN)}"
                 for item in items[:RECENT_SHOWN]]
        more = f"\n…and {len(items) - RECENT_SHOWN} more" if len(items) > RECENT_SHOWN else ""
        heading = f"*{kind.capitalize()}* (latest {min(len(items), RECENT_SHOWN)} of {len(items)})"
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=truncate(heading + "\n" + "\n".join(lines) + more, SECTION_LIMIT))))
    where = ("Everything is in the CSV file sent to your DMs." if file_sent
             else "I could not send the full list to your DMs; please try again in a moment.")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"Only you can see this. {where} `/event forget-me` erases it all.")]))
    return Message(text="What eventbot holds about you: " + counts, blocks=blocks_of(*blocks))


def forget_me_question() -> Message:
    text = ("*Forget me?* This erases you from eventbot in this whole workspace and cannot be undone: your "
            "reflections and votes are deleted, your questions stay only as anonymous text, messages addressed to "
            "you, your evaluation completions, organisations and roles are deleted, and follow-ups you own go back "
            "to the chairs. Press the button, or type `/event forget-me confirm`.")
    button = ButtonElement(
        text="Forget me", action_id=FORGET_ME_ACTION, style="danger", value=json.dumps({"confirm": True}),
        confirm=ConfirmObject(title="Forget you?", text="This cannot be undone.", confirm="Forget me",
                              deny="Keep my data"))
    return Message(text="Forget me? This cannot be undone.", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=text)), ActionsBlock(elements=[button])))


def forgotten(done: Forgotten) -> Message:
    if not done.profile and not done.deliveries and not done.mentions_removed:
        return Message(text="eventbot held nothing about you, so there was nothing to forget.", blocks=blocks_of(
            SectionBlock(text=MarkdownTextObject(
                text="eventbot held nothing about you, so there was nothing to forget."))))
    lines = [
        f"• reflections deleted: {done.reflections}",
        f"• votes deleted: {done.votes}",
        f"• questions kept only as anonymous text: {done.questions_kept_anonymous}",
        f"• questions deleted (never shown to the room): {done.questions_deleted}",
        f"• messages addressed to you deleted: {done.deliveries}",
        f"• evaluation completions deleted: {done.completions}",
        f"• organisations chosen deleted: {done.affiliations}",
        f"• roles at events deleted: {done.roles}",
        f"• follow-ups you owned, given back to the chairs: {done.follow_ups_to_chairs}",
        f"• places in a queue to speak deleted: {done.queue_places}",
        f"• other places your name, ID or email appeared, cleared: {done.mentions_removed}",
        f"• your profile (name, email, time zone, organisation) deleted: {'yes' if done.profile else 'none held'}",
    ]
    cards = (f" {len(done.redrawn)} question card(s) in Slack are being redrawn without you."
             if done.redrawn else "")
    text = "eventbot has forgotten you." + cards
    return Message(text=text, blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=f":white_check_mark: {text}")),
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
        ContextBlock(elements=[MarkdownTextObject(
            text="Messages already in Slack (your own posts, DMs you received) are Slack's to delete, not eventbot's.")]),
    ))


def purged(found: Purged, *, channel_id: str) -> Message:
    """The organisers' notice: what the purge removed, and the report's figures as they stood."""
    title = escape(found.title)
    removed = (f"reflections {found.reflections}, votes {found.votes}, questions made anonymous "
               f"{found.questions_anonymised}, messages to people {found.deliveries}, evaluation completions "
               f"{found.completions}, organisations chosen {found.affiliations}, attendees' roles {found.attendees}, "
               f"profiles of people who took part in nothing else {found.profiles}")
    text = (f"The retention period of *{title}* in <#{channel_id}> is over, so its personal data was purged: "
            f"{removed}. Its questions, their answers and the programme are kept, without names.")
    blocks: list = [SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))]
    if found.figures:
        lines = "\n".join(f"• {name}: {value}" for name, value in found.figures)
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=truncate("*The report's figures before the purge* (a report pulled now counts what remains):\n"
                          + lines, SECTION_LIMIT))))
    return Message(text=f"Personal data of {found.title} was purged after its retention period.",
                   blocks=blocks_of(*blocks))

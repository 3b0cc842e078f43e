"""Block Kit for the follow-up ledger: an owner's list, the chair's ledger, the forms, the close-out."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.questions.blocks import ANSWER_IN_THREAD
from bot.questions.follow_ups import MAX_DECLINE_LENGTH, LedgerRow, Outcomes
from bot.questions.rules import QuestionCard
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of, notice
from bot.slack.text import escape, local_date_and_time, plain, truncate
from bot.slack.views import VALUE

HAND_OVER = "follow_up_hand_over"
DECLINE = "follow_up_decline"
HAND_OVER_CALLBACK = "follow_up_hand_over"
DECLINE_CALLBACK = "follow_up_decline"
# Three blocks a question (its text, its buttons, a divider) within a message's 50.
LISTED = 15
QUESTION_ROOM = 1500


def _question_line(row: LedgerRow) -> str:
    asker = f"<@{row.asker_slack_id}>" if row.asker_slack_id else "anonymous"
    votes = f"{row.votes} vote{'s' if row.votes != 1 else ''}"
    return f":question: {truncate(escape(row.text), QUESTION_ROOM)}\n_{votes} · asked by {asker}_"


def owner_list(*, event_title: str, channel_id: str, timezone: str, rows: list[LedgerRow], for_chairs: bool,
               nudge: str | None, now: datetime) -> Message:
    """One owner's open questions, most voted first, each with Answer, Hand over to… and Can't answer…"""
    open_rows = [r for r in rows if r.state == "open"]
    due = min((r.due_at for r in open_rows if r.due_at), default=None)
    when = f" by {local_date_and_time(due, timezone=timezone)}" if due else ""
    whose = "the chairs'" if for_chairs else "your"
    lead = {
        "overdue": f":alarm_clock: These questions from *{escape(event_title)}* are past their due date.",
        "due": f":hourglass: A reminder: these questions from *{escape(event_title)}* are due{when}.",
    }.get(nudge or "", f":wave: *{escape(event_title)}* has closed, and these questions were left for {whose} "
                       f"answer{when}. The askers, and everyone who upvoted, get your answer by DM.")
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=lead))]
    for row in open_rows[:LISTED]:
        value = str(row.question_id)
        blocks += [
            SectionBlock(text=MarkdownTextObject(text=_question_line(row))),
            ActionsBlock(elements=[
                ButtonElement(text="Answer", action_id=ANSWER_IN_THREAD, value=value, style="primary"),
                ButtonElement(text="Hand over to…", action_id=HAND_OVER, value=value),
                ButtonElement(text="Can't answer…", action_id=DECLINE, value=value),
            ]),
            DividerBlock(),
        ]
    more = len(open_rows) - LISTED
    footer = (f"…and {more} more: `/event followups` in <#{channel_id}> lists them all." if more > 0
              else f"`/event followups` in <#{channel_id}> shows where every question stands.")
    if not open_rows:
        footer = "Every one of them has been dealt with. Thank you."
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=footer)]))
    return Message(text=f"{len(open_rows)} question{'s' if len(open_rows) != 1 else ''} to answer from {event_title}",
                   blocks=blocks_of(*blocks))


def ledger(*, event_title: str, timezone: str, rows: list[LedgerRow], now: datetime, whose: str) -> Message:
    """The ledger as chairs see it (or a presenter's own part): per owner, open, answered, overdue."""
    by_owner: dict[str | None, list[LedgerRow]] = {}
    for row in rows:
        by_owner.setdefault(row.owner_slack_id, []).append(row)
    blocks: list[Any] = [HeaderBlock(text=truncate(plain(f"Follow-ups: {event_title}"), 150))]
    if not rows:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="No questions were left to answer after the event.")))
    for owner, owned in list(by_owner.items())[:20]:
        opened = [r for r in owned if r.state == "open"]
        overdue = [r for r in opened if r.overdue(now)]
        answered = [r for r in owned if r.state == "answered"]
        declined = [r for r in owned if r.state == "declined"]
        who = f"<@{owner}>" if owner else "The chairs"
        lines = [f"*{who}*: {len(opened)} open ({len(overdue)} overdue), {len(answered)} answered"
                 + (f", {len(declined)} could not be answered" if declined else "")]
        for row in owned[:8]:
            mark = {"answered": ":white_check_mark:", "declined": ":no_entry_sign:"}.get(
                row.state, ":red_circle:" if row.overdue(now) else ":hourglass:")
            due = f" (due {local_date_and_time(row.due_at, timezone=timezone)})" if row.due_at and row.state == "open" else ""
            lines.append(f"{mark} {truncate(escape(row.text), 200)}{due}")
        if len(owned) > 8:
            lines.append(f"…and {len(owned) - 8} more in the CSV.")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), SECTION_LIMIT))))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"{whose} The full list is in your DMs as a CSV file.")]))
    return Message(text=f"Follow-ups for {event_title}: {len(rows)}", blocks=blocks_of(*blocks))


def hand_over_form(card: QuestionCard) -> dict[str, Any]:
    return View(type="modal", callback_id=HAND_OVER_CALLBACK, title="Hand over", submit="Hand over", close="Cancel",
                private_metadata=json.dumps({"question_id": card.question_id}), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f":question: {truncate(escape(card.text), 2900)}")),
                    InputBlock(block_id="to", label="Who should answer it?", element=UserSelectElement(action_id=VALUE)),
                ]).to_dict()


def decline_form(card: QuestionCard) -> dict[str, Any]:
    return View(type="modal", callback_id=DECLINE_CALLBACK, title="Can't answer", submit="Send", close="Cancel",
                private_metadata=json.dumps({"question_id": card.question_id}), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f":question: {truncate(escape(card.text), 2900)}")),
                    InputBlock(block_id="reason", label="Why (sent to the askers)", element=PlainTextInputElement(
                        action_id=VALUE, multiline=True, max_length=MAX_DECLINE_LENGTH)),
                ]).to_dict()


def declined_dm(question_text: str, reason: str) -> Message:
    return notice(f"Your question _{truncate(escape(question_text), 1500)}_ could not be answered after the event. "
                  f"Why: {truncate(escape(reason), 1000)}")


def close_out(*, event_title: str, outcomes: Outcomes) -> Message:
    """In the channel: how the questions were answered, with links to the answers given afterwards."""
    total = outcomes.answered_live + outcomes.answered_in_session + outcomes.answered_after + outcomes.not_answered
    lines = [
        f"*{total} question{'s' if total != 1 else ''}* were asked at *{escape(event_title)}*:",
        f"• {outcomes.answered_live} answered live",
        f"• {outcomes.answered_in_session} answered in writing during the session",
        f"• {outcomes.answered_after} answered after the event",
        f"• {outcomes.not_answered} not answered",
    ]
    blocks: list[Any] = [HeaderBlock(text="Your questions, answered"),
                         SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))]
    links = [f"• <{link}|{truncate(escape(text), 120)}>" if link else f"• {truncate(escape(text), 120)}"
             for text, link in outcomes.answers_after[:30]]
    if links:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=truncate("*Answered after the event*\n" + "\n".join(links), SECTION_LIMIT))))
    return Message(text=f"Your questions from {event_title}, answered", blocks=blocks_of(*blocks))

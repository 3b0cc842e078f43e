"""Block Kit for questions: the card in the channel, the moderation modals, approvals, the queue."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.models import QuestionStatus
from bot.questions.rules import (
    MAX_ANSWER_LENGTH,
    MAX_QUESTION_LENGTH,
    MAX_REASON_LENGTH,
    QuestionCard,
)
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of, notice, ok
from bot.slack.text import escape, plain, truncate
from bot.slack.views import VALUE

UPVOTE = "question_upvote"
ANSWERED_LIVE = "question_answered_live"
ANSWER_IN_THREAD = "question_answer_in_thread"
FOLLOW_UP = "question_follow_up"
MORE = "question_more"  # the card's overflow: every moderation, for chairs and moderators only
DISMISS = "question_dismiss"
APPROVE = "question_approve"
BRING_IN = "speaking_bring_in"
RAISE_HAND = "speaking_raise_hand"

ASK_CALLBACK = "question_ask"
ANSWER_CALLBACK = "question_answer"
DISMISS_CALLBACK = "question_dismiss"
MERGE_CALLBACK = "question_merge"

STATUS_LINES = {
    QuestionStatus.AWAITING_APPROVAL: ":hourglass: Waiting for a chair's approval",
    QuestionStatus.OPEN: ":speech_balloon: Open",
    QuestionStatus.ANSWERED_LIVE: ":white_check_mark: Answered live",
    QuestionStatus.ANSWERED: ":white_check_mark: Answered in the thread",
    QuestionStatus.FOLLOW_UP: ":pushpin: Kept for follow-up: it will be answered after the event",
    QuestionStatus.DISMISSED: ":no_entry_sign: Removed by a chair",
    QuestionStatus.MERGED: ":link: Merged into another question",
}


def credit(card: QuestionCard) -> str:
    if not card.askers:
        return "Asked anonymously"
    names = [f"<@{slack_id}>" for slack_id in card.askers]
    if card.anonymous_askers:
        names.append("someone anonymous" if card.anonymous_askers == 1 else f"{card.anonymous_askers} people anonymously")
    return "Asked by " + " and ".join(names)


def _shown(user_text: str, room: int = SECTION_LIMIT - 100) -> str:
    """Escaped user text cut to `room`. Texts are checked to fit as Slack shows them before they are
    stored (questions.rules.check_text); the cut keeps a card buildable for any stored earlier."""
    return truncate(escape(user_text), room)


def question_card(card: QuestionCard) -> Message:
    about = [credit(card)]
    if card.presenter_slack_id:
        about.append(f"for <@{card.presenter_slack_id}>")
    if card.segment_title:
        about.append(f"during {truncate(escape(card.segment_title), 200)}")
    if card.status in (QuestionStatus.DISMISSED, QuestionStatus.MERGED):
        body = STATUS_LINES[card.status]
        if card.merged_into_text:
            body += f": _{truncate(escape(card.merged_into_text), 300)}_"
        return Message(text="A question was closed", blocks=blocks_of(SectionBlock(text=MarkdownTextObject(text=body))))
    parts: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=f":question: {_shown(card.text)}")),
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(about)), MarkdownTextObject(text=STATUS_LINES[card.status])]),
    ]
    # A public card carries what everyone may do (upvote); moderation sits in one overflow menu,
    # which answers anyone but a chair or moderator with a private refusal.
    buttons: list[Any] = []
    if card.status in (QuestionStatus.OPEN, QuestionStatus.FOLLOW_UP):
        buttons.append(ButtonElement(text=f":thumbsup: Upvote ({card.votes})", action_id=UPVOTE, value=str(card.question_id)))
        buttons.append(moderation_menu(card.question_id, card.status))
    elif card.status in (QuestionStatus.ANSWERED, QuestionStatus.ANSWERED_LIVE):
        parts[1] = ContextBlock(elements=[MarkdownTextObject(text=" · ".join(about)),
                                          MarkdownTextObject(text=f"{STATUS_LINES[card.status]} · {card.votes} votes")])
    if buttons:
        parts.append(ActionsBlock(elements=buttons))
    return Message(text=f"Question: {truncate(escape(card.text), 200)}", blocks=blocks_of(*parts))


def moderation_menu(question_id: int, status: QuestionStatus) -> OverflowMenuElement:
    """Every moderation of a question in one overflow menu: on its card, and in the Home tab's queue
    (where a question awaiting approval, which has no card yet, can be approved)."""
    if status == QuestionStatus.AWAITING_APPROVAL:
        choices = [("approve", "Approve"), ("dismiss", "Dismiss…")]
    else:
        choices = [("answered_live", "Answered live"), ("answer", "Answer in thread…")]
        if status == QuestionStatus.OPEN:
            choices.append(("follow_up", "Keep for follow-up"))
        choices += [("dismiss", "Dismiss…"), ("merge", "Merge into…")]
    return OverflowMenuElement(action_id=MORE, options=[
        Option(value=f"{choice}:{question_id}", text=PlainTextObject(text=label)) for choice, label in choices])


def answer_posted(card: QuestionCard, answerer_slack_id: str) -> Message:
    # The answer has a section of its own: an answer at its limit fills one.
    return Message(text=f"Answer: {truncate(escape(card.answer_text or ''), 200)}", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=f":speech_balloon: *Answer from <@{answerer_slack_id}>*")),
        SectionBlock(text=MarkdownTextObject(text=_shown(card.answer_text or "", SECTION_LIMIT)))))


def dismissed_dm(question_text: str, reason: str) -> Message:
    """To each asker only: their question was taken out of the Q&A, and why."""
    return notice(f"A chair removed your question _{truncate(escape(question_text), 1500)}_ from the Q&A. "
                  f"Their reason: {truncate(escape(reason), 1000)}")


def answered_dm(card: QuestionCard) -> Message:
    """To each asker: their question and its answer, in full, so they need not go looking."""
    # The answer has a section of its own, as in the thread: an answer at its limit fills one.
    return Message(
        text=f"Your question has been answered: {truncate(escape(card.text), 150)}",
        blocks=blocks_of(
            SectionBlock(text=MarkdownTextObject(
                text=f":speech_balloon: *Your question has been answered*\n>{_shown(card.text, SECTION_LIMIT - 60)}")),
            SectionBlock(text=MarkdownTextObject(text=_shown(card.answer_text or "", SECTION_LIMIT))),
        ),
    )


def upvoted_dm(card: QuestionCard) -> Message:
    """To each upvoter: a question they wanted answered has its answer."""
    return Message(
        text=f"A question you upvoted has been answered: {truncate(escape(card.text), 150)}",
        blocks=blocks_of(
            SectionBlock(text=MarkdownTextObject(
                text=f":speech_balloon: *A question you upvoted has been answered*\n>{_shown(card.text, SECTION_LIMIT - 60)}")),
            SectionBlock(text=MarkdownTextObject(text=_shown(card.answer_text or "", SECTION_LIMIT))),
        ),
    )


def approval_request(card: QuestionCard) -> Message:
    return Message(text="A question is waiting for approval", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=f":hourglass: *Waiting for approval* in <#{card.channel_id}>\n"
                                                  f"{_shown(card.text, 2000)}\n_{credit(card)}_")),
        ActionsBlock(elements=[
            ButtonElement(text="Approve", action_id=APPROVE, value=str(card.question_id), style="primary"),
            ButtonElement(text="Dismiss…", action_id=DISMISS, value=str(card.question_id)),
        ]),
    ))


def ask_form(*, channel_id: str, presenters: list[tuple[str, str]]) -> dict[str, Any]:
    blocks: list[Any] = [
        InputBlock(block_id="question", label="Your question", element=PlainTextInputElement(
            action_id=VALUE, multiline=True, max_length=MAX_QUESTION_LENGTH)),
    ]
    if presenters:
        blocks.append(InputBlock(block_id="for_presenter", label="For", optional=True, element=StaticSelectElement(
            action_id=VALUE, placeholder="Anyone",
            options=[Option(value=slack_id, text=PlainTextObject(text=truncate(name, 75))) for slack_id, name in presenters[:100]])))
    blocks.append(InputBlock(block_id="anonymous", label="Name", optional=True, element=CheckboxesElement(
        action_id=VALUE, options=[
            Option(value="anonymous", text=PlainTextObject(text="Ask anonymously")),
            Option(value="share_organisation", text=PlainTextObject(text="If anonymous, still count it for my organisation")),
        ])))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="Anonymous questions are shown to everyone, chairs included, without your name. "
             "You will still be told when yours is answered. Counting it for your organisation only adds it "
             "to your organisation's figures, never to your name.")]))
    return View(type="modal", callback_id=ASK_CALLBACK, title="Ask a question", submit="Ask", close="Cancel",
                private_metadata=json.dumps({"channel_id": channel_id}), blocks=blocks).to_dict()


def _text_form(*, callback_id: str, title: str, submit: str, question: QuestionCard, label: str,
               max_length: int, block_id: str) -> dict[str, Any]:
    return View(type="modal", callback_id=callback_id, title=title, submit=submit, close="Cancel",
                private_metadata=json.dumps({"question_id": question.question_id}), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f":question: {_shown(question.text)}")),
                    InputBlock(block_id=block_id, label=label, element=PlainTextInputElement(
                        action_id=VALUE, multiline=True, max_length=max_length)),
                ]).to_dict()


def answer_form(question: QuestionCard) -> dict[str, Any]:
    return _text_form(callback_id=ANSWER_CALLBACK, title="Answer in thread", submit="Post answer", question=question,
                      label="Answer", max_length=MAX_ANSWER_LENGTH, block_id="answer")


def dismiss_form(question: QuestionCard) -> dict[str, Any]:
    return _text_form(callback_id=DISMISS_CALLBACK, title="Dismiss question", submit="Dismiss", question=question,
                      label="Reason (sent privately to the asker)", max_length=MAX_REASON_LENGTH, block_id="reason")


def merge_form(question: QuestionCard, candidates: list[tuple[int, str]]) -> dict[str, Any]:
    return View(type="modal", callback_id=MERGE_CALLBACK, title="Merge duplicate", submit="Merge", close="Cancel",
                private_metadata=json.dumps({"question_id": question.question_id}), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f":question: {_shown(question.text)}")),
                    InputBlock(block_id="into", label="Merge into", element=StaticSelectElement(
                        action_id=VALUE, placeholder="Choose the question to keep",
                        options=[Option(value=str(qid), text=PlainTextObject(text=truncate(plain(text), 75)))
                                 for qid, text in candidates[:100]])),
                ]).to_dict()


def top_questions(title: str, rows: list[tuple[str, int]]) -> Message:
    """`/ask top`: the leading questions, for anyone; the texts and counts every card shows, no names."""
    if not rows:
        text = f"No open questions at *{escape(title)}* yet: `/ask` asks one."
        return Message(text=text, blocks=blocks_of(SectionBlock(text=MarkdownTextObject(text=text))))
    lines = "\n".join(f"{n}. *{votes}* vote{'' if votes == 1 else 's'} · {_shown(text, 500)}"
                      for n, (text, votes) in enumerate(rows, start=1))
    return Message(text=f"The leading questions at {escape(title)}", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=truncate(f"*Leading questions* at *{escape(title)}*\n{lines}",
                                                           SECTION_LIMIT))),
        ContextBlock(elements=[MarkdownTextObject(text="Upvote the ones you want answered on their cards in the channel.")]),
    ))


def speaking_queue(slack_ids: list[str]) -> Message:
    if not slack_ids:
        return Message(text="Nobody is waiting to speak.", blocks=blocks_of(
            SectionBlock(text=MarkdownTextObject(text="Nobody is waiting to speak."))))
    lines = "\n".join(f"{n}. <@{slack_id}>" for n, slack_id in enumerate(slack_ids[:50], start=1))
    return Message(text=f"{len(slack_ids)} waiting to speak", blocks=blocks_of(
        SectionBlock(text=MarkdownTextObject(text=f"*Waiting to speak* ({len(slack_ids)})\n{lines}")),
        ActionsBlock(elements=[ButtonElement(text="Bring in the next person", action_id=BRING_IN, value="next",
                                             style="primary")]),
    ))


def you_are_brought_in(channel_id: str) -> Message:
    return Message(text="The chair is bringing you in now", blocks=blocks_of(SectionBlock(text=MarkdownTextObject(
        text=f":raised_hand: The chair is bringing you in now (<#{channel_id}>): please unmute and, if you can, "
             "turn your camera on."))))


def asked(status: QuestionStatus) -> Message:
    """What an asker is told once their question is stored."""
    if status == QuestionStatus.AWAITING_APPROVAL:
        return notice(":hourglass: Thanks: your question is waiting for a chair's approval, "
                      "and will appear in the channel once approved.")
    return ok("Your question is posted in the channel. Others can upvote it.")

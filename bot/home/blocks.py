"""The Home tab: each list a page at a time, with Previous/Next buttons, inside Slack's 100 blocks.

Buttons on it are the same as elsewhere, so the same listeners answer them: the question's
moderation menu (`questions.blocks.moderation_menu`), a follow-up's Answer, Hand over and Can't
answer, the evaluation form's "I've completed it". The Home's own buttons name an event or a page
in a JSON value.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.capabilities import Capability
from bot.home.rules import (
    AskedItem,
    EventLine,
    FollowUpItem,
    FormToDo,
    Home,
    MyQuestion,
    MyReflection,
    Page,
    QueueItem,
)
from bot.models import EventStatus, QuestionStatus
from bot.questions.blocks import ANSWER_IN_THREAD, STATUS_LINES, moderation_menu
from bot.questions.follow_up_blocks import DECLINE, HAND_OVER
from bot.reflections.blocks import THEME_NAMES
from bot.reminders.blocks import COMPLETED_ACTION
from bot.slack.messages import help_message
from bot.slack.text import escape, local_date_and_time, truncate

PAGE_PREVIOUS = "home_page_previous"
PAGE_NEXT = "home_page_next"
RUN_SESSION = "home_run_session"
QUESTION_DIGEST = "home_question_digest"
REPORT = "home_report"
# The programme editor's own listener opens it (another part of eventbot); Home only offers the button.
OPEN_PROGRAMME_EDITOR = "programme_open_editor"

MAX_BLOCKS = 100  # Slack's limit for a Home tab
TEXT_ROOM = 600  # of a question or reflection, in a list line

STATUS_WORDS = {
    EventStatus.LIVE: ":red_circle: Live",
    EventStatus.SCHEDULED: ":calendar: Coming up",
    EventStatus.CLOSED: ":checkered_flag: Closed",
}


def event_value(event_id: int) -> str:
    return json.dumps({"event_id": event_id})


def page_value(name: str, page: int) -> str:
    return json.dumps({"list": name, "page": page})


def home_view(home: Home, capabilities: tuple[Capability, ...]) -> dict[str, Any]:
    blocks: list[Any] = [
        HeaderBlock(text="Your eventbot"),
        ContextBlock(elements=[MarkdownTextObject(
            text="Your events, questions and follow-ups. This page follows along as things change.")]),
    ]
    if home.runs_events:
        blocks += _list("Your events", home.events, "events", _event_blocks,
                        empty="None of your events is coming up.")
    if home.moderates:
        blocks += _list("Questions to moderate", home.queue, "queue", _queue_blocks,
                        empty="No question is waiting for you: new ones appear here as they are asked.")
    if home.presents or home.asked.total:
        blocks += _list("Questions asked of you", home.asked, "asked", _asked_blocks,
                        empty="Nobody has asked you a question yet.")
    if home.presents or home.follow_ups.total:
        blocks += _list("Your follow-ups", home.follow_ups, "follow_ups", _follow_up_blocks,
                        empty="No question is waiting for your answer.")
    blocks += _list("Your questions", home.questions, "questions", _my_question_blocks,
                    empty="You have not asked a question yet: `/ask` in an event's channel.")
    blocks += _list("Your reflections", home.reflections, "reflections", _reflection_blocks,
                    empty="You have not shared a reflection yet: reply in a prompt's thread.")
    if home.forms.total:
        blocks += _list("Evaluation forms to fill in", home.forms, "forms", _form_blocks, empty="")
    blocks += [DividerBlock(), *help_message(capabilities, for_you=True).blocks]
    rendered = [b if isinstance(b, dict) else b.to_dict() for b in blocks]
    # The page sizes keep every list at its fullest within the limit (tests add them up); should
    # the help ever outgrow it, its last lines go rather than the whole tab.
    return View(type="home", blocks=rendered[:MAX_BLOCKS]).to_dict()


def _list(title: str, page: Page[Any], name: str, render: Any, *, empty: str) -> list[Any]:
    count = f" ({page.total})" if page.total else ""
    out: list[Any] = [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=f"*{title}*{count}"))]
    if not page.items:
        out.append(ContextBlock(elements=[MarkdownTextObject(text=empty or "Nothing here.")]))
        return out
    for item in page.items:
        out += render(item)
    if page.pages > 1:
        buttons = []
        if page.number > 1:
            buttons.append(ButtonElement(text="Previous", action_id=PAGE_PREVIOUS, value=page_value(name, page.number - 1)))
        if page.number < page.pages:
            buttons.append(ButtonElement(text="Next", action_id=PAGE_NEXT, value=page_value(name, page.number + 1)))
        out.append(ActionsBlock(elements=buttons))
        out.append(ContextBlock(elements=[MarkdownTextObject(text=f"Page {page.number} of {page.pages}")]))
    return out


# Blocks per item, which PAGE_SIZES in rules.py is chosen against: events 2, queue 1, asked 1,
# follow-ups 2, questions 1, reflections 1, forms 1; each list adds up to 5 (divider, title, pager).
BLOCKS_PER_ITEM = {"events": 2, "queue": 1, "asked": 1, "follow_ups": 2, "questions": 1, "reflections": 1, "forms": 1}
BLOCKS_PER_LIST = 5


def _when(moment: Any, zone: str) -> str:
    return local_date_and_time(moment, timezone=zone) if moment is not None else "when a chair says"


def _event_blocks(line: EventLine) -> list[Any]:
    status = STATUS_WORDS.get(line.status, line.status.value)
    if line.held:
        status += " (on hold)"
    lines = [f"*{_title(line.title)}* in <#{line.channel_id}> · {status} · starts "
             f"{local_date_and_time(line.starts_at, timezone=line.timezone)}"]
    for up in line.next_up:
        lines.append(f"• Next {up.what.lower()}: {truncate(escape(up.title), 150)}, {_when(up.due_at, line.timezone)}")
    if not line.next_up:
        lines.append("Nothing more is scheduled.")
    value = event_value(line.event_id)
    buttons = [ButtonElement(text="Edit the programme", action_id=OPEN_PROGRAMME_EDITOR, value=value)]
    if line.status == EventStatus.SCHEDULED:
        buttons.append(ButtonElement(text="Start the session", action_id=RUN_SESSION, value=value, style="primary"))
    elif line.status == EventStatus.LIVE:
        buttons.append(ButtonElement(text="Next agenda item", action_id=RUN_SESSION, value=value, style="primary"))
    buttons.append(ButtonElement(text="Question digest", action_id=QUESTION_DIGEST, value=value))
    if line.status == EventStatus.CLOSED:
        buttons.append(ButtonElement(text="Report", action_id=REPORT, value=value))
    return [SectionBlock(text=MarkdownTextObject(text=truncate("\n".join(lines), 2900))),
            ActionsBlock(elements=buttons)]


def _title(event_title: str) -> str:
    return truncate(escape(event_title), 150)


def _who(slack_id: str | None) -> str:
    return f"<@{slack_id}>" if slack_id else "anonymous"


def _votes(count: int) -> str:
    return f"{count} vote{'s' if count != 1 else ''}"


def _queue_blocks(item: QueueItem) -> list[Any]:
    about = [f"asked by {_who(item.asker_slack_id)}", _votes(item.votes), _title(item.event_title)]
    if item.presenter_slack_id:
        about.insert(1, f"for <@{item.presenter_slack_id}>")
    state = STATUS_LINES[item.status]
    return [SectionBlock(text=MarkdownTextObject(
        text=f":question: {truncate(escape(item.text), TEXT_ROOM)}\n_{' · '.join(about)}_ · {state}"),
        accessory=moderation_menu(item.question_id, item.status))]


def _asked_blocks(item: AskedItem) -> list[Any]:
    text = (f":question: {truncate(escape(item.text), TEXT_ROOM)}\n"
            f"_{_votes(item.votes)} · {_title(item.event_title)}_ · {STATUS_LINES[item.status]}")
    if item.status in (QuestionStatus.OPEN, QuestionStatus.FOLLOW_UP):
        return [SectionBlock(text=MarkdownTextObject(text=text), accessory=ButtonElement(
            text="Answer…", action_id=ANSWER_IN_THREAD, value=str(item.question_id)))]
    return [SectionBlock(text=MarkdownTextObject(text=text))]


def _follow_up_blocks(item: FollowUpItem) -> list[Any]:
    due = f" · due {local_date_and_time(item.due_at, timezone=item.timezone)}" if item.due_at else ""
    value = str(item.question_id)
    return [
        SectionBlock(text=MarkdownTextObject(
            text=f":question: {truncate(escape(item.text), TEXT_ROOM)}\n"
                 f"_{_votes(item.votes)} · asked by {_who(item.asker_slack_id)} · {_title(item.event_title)}{due}_")),
        ActionsBlock(elements=[
            ButtonElement(text="Answer", action_id=ANSWER_IN_THREAD, value=value, style="primary"),
            ButtonElement(text="Hand over to…", action_id=HAND_OVER, value=value),
            ButtonElement(text="Can't answer…", action_id=DECLINE, value=value),
        ]),
    ]


def _my_question_blocks(item: MyQuestion) -> list[Any]:
    lines = [f":question: {truncate(escape(item.text), TEXT_ROOM)}",
             f"_{_title(item.event_title)} · {_votes(item.votes)}_ · {STATUS_LINES[item.status]}"]
    if item.answer_text:
        lines.append(f":speech_balloon: {truncate(escape(item.answer_text), 1500)}")
    elif item.declined_reason:
        lines.append(f":no_entry_sign: Could not be answered: {truncate(escape(item.declined_reason), 500)}")
    return [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)))]


def _reflection_blocks(item: MyReflection) -> list[Any]:
    how = " (anonymous)" if item.anonymous else ""
    return [SectionBlock(text=MarkdownTextObject(
        text=f":thought_balloon: {truncate(escape(item.text), 1500)}\n"
             f"_{THEME_NAMES[item.theme]} · {_title(item.event_title)}{how}_"))]


def _form_blocks(item: FormToDo) -> list[Any]:
    return [
        SectionBlock(text=MarkdownTextObject(text=f":memo: *{_title(item.event_title)}*: <{escape(item.form_url)}|open the form>"),
                     accessory=ButtonElement(text="I've completed it", action_id=COMPLETED_ACTION,
                                             value=json.dumps({"event_id": item.event_id}))),
    ]


"""Block Kit for the chair's question digest: paged, so a long digest never breaks Slack's limits.

A page holds at most `QUESTIONS_PER_PAGE` questions, and every piece of a question line is capped,
so one question always fits in a section with its group's heading; a page therefore needs at
most one section per question plus four blocks of its own, well under Slack's 50. The CSV export
always holds every question in full.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.errors import UserError
from bot.models import QuestionStatus
from bot.organisations import blocks as organisation_blocks
from bot.questions.digest import (
    ANONYMOUS,
    ANYONE,
    STATUS_NAMES,
    DigestGroup,
    DigestRow,
    QuestionDigest,
    StatusFilter,
)
from bot.slack.messages import SECTION_LIMIT, Message, blocks_of
from bot.slack.text import escape, plain, truncate

PREVIOUS_PAGE_ACTION = "questions_page_previous"
NEXT_PAGE_ACTION = "questions_page_next"
EXPORT_CSV_ACTION = "questions_export_csv"

MAX_MESSAGE_BLOCKS = 50
QUESTIONS_PER_PAGE = 20
# Caps on each piece of a question line (after escaping), so a heading (at most 180 + 90 + a few
# words) and one line always fit in a section: 300 + 1200 + 600 + 600 + markers stays under 3000.
QUESTION_LIMIT = 1200
ASKERS_LIMIT = 600
ANSWER_LIMIT = 600
MAX_ASKERS_SHOWN = 12

FILTER_NAMES = {
    StatusFilter.OPEN: "open",
    StatusFilter.ANSWERED: "answered",
    StatusFilter.FOLLOWUP: "follow-up",
    StatusFilter.ALL: "all",
}

# The order statuses are counted in at the top of the digest.
COUNT_ORDER = (
    QuestionStatus.OPEN, QuestionStatus.AWAITING_APPROVAL, QuestionStatus.ANSWERED_LIVE, QuestionStatus.ANSWERED,
    QuestionStatus.FOLLOW_UP, QuestionStatus.DISMISSED, QuestionStatus.MERGED,
)


@dataclass(frozen=True)
class DigestRequest:
    """What a digest button asks for: which event, which filter, which page."""

    event_id: int
    status_filter: StatusFilter
    page: int = 1

    def to_value(self) -> str:
        return json.dumps({"event_id": self.event_id, "filter": self.status_filter.value, "page": self.page},
                          separators=(",", ":"))

    @classmethod
    def from_value(cls, value: str | None) -> DigestRequest:
        try:
            data = json.loads(value or "")
            event_id, page = data["event_id"], data.get("page", 1)
            if not (isinstance(event_id, int) and isinstance(page, int)) or isinstance(event_id, bool):
                raise TypeError("the event and the page are whole numbers")
            return cls(event_id=event_id, status_filter=StatusFilter(data["filter"]), page=max(1, page))
        except (ValueError, KeyError, TypeError, RecursionError):
            raise UserError("That button is out of date: type `/event questions` for a fresh digest.") from None


def _presenter(group: DigestGroup) -> str:
    if group.presenter_slack_id is None:
        return ANYONE
    if group.presenter_name:
        return escape(group.presenter_name)
    return f"<@{group.presenter_slack_id}>"


def _heading(group: DigestGroup, *, continued: bool) -> str:
    segment = truncate(escape(group.segment_title), 180)
    presenter = "anyone" if group.for_anyone else truncate(_presenter(group), 90)
    return f"*{segment}* · for {presenter}" + (" (continued)" if continued else "")


def _askers(row: DigestRow) -> str:
    """Named askers as mentions (Slack shows their names), anonymous ones as a placeholder only."""
    credits = [f"<@{a.slack_user_id}>" if not a.anonymous else f"_{ANONYMOUS}_" for a in row.askers]
    kept: list[str] = []
    for credit in credits[:MAX_ASKERS_SHOWN]:
        if len(", ".join([*kept, credit])) + len(" and 9999 more") > ASKERS_LIMIT:
            break  # whole credits only, never half a mention
        kept.append(credit)
    more = len(credits) - len(kept)
    return ", ".join(kept) + (f" and {more} more" if more else "")


def _question_line(row: DigestRow) -> str:
    votes = f"*{row.votes}* vote{'' if row.votes == 1 else 's'}"
    marker = "" if row.status is QuestionStatus.OPEN else f" _({STATUS_NAMES[row.status]})_"
    line = f"• {votes}{marker} · {truncate(escape(row.text), QUESTION_LIMIT)}\n      asked by {_askers(row)}"
    if row.answer_text:
        line += f"\n      _Answer:_ {truncate(escape(row.answer_text), ANSWER_LIMIT)}"
    return line


def _sections_for(items: list[tuple[DigestGroup, DigestRow, bool]]) -> list[str]:
    """One page's questions as section texts: a heading starts each group, then its lines."""
    sections: list[str] = []
    current = ""
    previous_group: DigestGroup | None = None
    for group, row, continued in items:
        line = _question_line(row)
        if group is not previous_group:
            if current:
                sections.append(current)
            current = _heading(group, continued=continued) + "\n" + line
            previous_group = group
        elif len(current) + 1 + len(line) > SECTION_LIMIT:
            sections.append(current)
            current = line
        else:
            current += "\n" + line
    if current:
        sections.append(current)
    return sections


def _paged(found: QuestionDigest) -> list[list[tuple[DigestGroup, DigestRow, bool]]]:
    """The digest's questions cut into pages; the flag marks a group carried over from the last page."""
    pages: list[list[tuple[DigestGroup, DigestRow, bool]]] = [[]]
    for group in found.groups:
        for n, row in enumerate(group.rows):
            if len(pages[-1]) == QUESTIONS_PER_PAGE:
                pages.append([])
            continued = n > 0 and not any(g is group for g, _, _ in pages[-1])
            pages[-1].append((group, row, continued))
    return pages


def page_count(found: QuestionDigest) -> int:
    return len(_paged(found))


def _how_many(found: QuestionDigest) -> str:
    count = found.question_count
    plural = "" if count == 1 else "s"
    if found.status_filter is StatusFilter.ALL:
        return f"all {count} question{plural}"
    return f"{count} {FILTER_NAMES[found.status_filter]} question{plural}"


def _counts_line(found: QuestionDigest) -> str:
    parts = [f"{STATUS_NAMES[s].capitalize()} {found.counts.get(s, 0)}" for s in COUNT_ORDER]
    return " · ".join(parts)


def digest_page(found: QuestionDigest, *, page: int = 1) -> Message:
    """Page `page` (from 1; clamped to the pages there are) of the digest, with its buttons."""
    pages = _paged(found)
    total = len(pages)
    page = min(max(page, 1), total)
    blocks: list = [
        HeaderBlock(text=truncate(plain(f"Questions: {found.title}"), 150)),
        SectionBlock(text=MarkdownTextObject(text=(
            f"{_counts_line(found)}\n"
            f"Showing {_how_many(found)}, by agenda item and presenter, most votes first"
            + (", keeping organisations varied (no more than two in a row from one while another's wait)."
               if found.fair_ordering else ".")
        ))),
    ]
    sections = _sections_for(pages[page - 1])
    if not sections:
        sections = ["_No questions yet._" if found.status_filter is StatusFilter.ALL
                    else f"_No {FILTER_NAMES[found.status_filter]} questions yet._"]
    blocks.extend(SectionBlock(text=MarkdownTextObject(text=s)) for s in sections)
    if page == 1 and found.organisations is not None:
        blocks.extend(organisation_blocks.figure_blocks(found.organisations))
    request = DigestRequest(event_id=found.event_id, status_filter=found.status_filter)
    buttons = []
    if page > 1:
        buttons.append(ButtonElement(text="Previous", action_id=PREVIOUS_PAGE_ACTION,
                                     value=DigestRequest(found.event_id, found.status_filter, page - 1).to_value()))
    if page < total:
        buttons.append(ButtonElement(text="Next page", action_id=NEXT_PAGE_ACTION,
                                     value=DigestRequest(found.event_id, found.status_filter, page + 1).to_value()))
    buttons.append(ButtonElement(text="Export CSV", action_id=EXPORT_CSV_ACTION, value=request.to_value()))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"Page {page} of {total}. Export CSV sends these {found.question_count} in full to your DMs.")]))
    blocks.append(ActionsBlock(elements=buttons))
    assert len(blocks) <= MAX_MESSAGE_BLOCKS, "a digest page outgrew Slack's block limit"
    return Message(
        text=f"Questions: {escape(found.title)}: {_how_many(found)}, page {page} of {total}",
        blocks=blocks_of(*blocks),
    )

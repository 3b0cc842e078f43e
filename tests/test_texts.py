"""Texts people give that always fit: limits measured as Slack shows the text, "empty" meaning
nothing visible, and no bidirectional control reordering what is shown around the text."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from bot import outbox
from bot.db import Database, unit_of_work
from bot.errors import NotYet
from bot.events.rules import MAX_TITLE_LENGTH, EventDetails, FormProblems, create_event, details_from_form
from bot.models import Event, EventStatus, Question, QuestionStatus, Reflection, ReflectionPrompt, Reminder
from bot.questions import rules as questions
from bot.questions import slack as questions_slack
from bot.questions.blocks import answer_posted, approval_request, dismiss_form, merge_form, question_card
from bot.questions.digest import StatusFilter, digest
from bot.questions.digest_blocks import digest_page
from bot.questions.rules import MAX_ANSWER_LENGTH, MAX_QUESTION_LENGTH, MAX_REASON_LENGTH, QuestionError
from bot.reflections import rules as reflections
from bot.reflections import slack as reflections_slack
from bot.reflections.blocks import reflections_digest
from bot.reflections.rules import MAX_REFLECTION_LENGTH, ReflectionError
from bot.reminders import rules as reminders
from bot.reminders.blocks import reminder_message
from bot.reminders.rules import ReminderForm
from bot.reminders.timing import MAX_TEXT_CHARS
from bot.slack.messages import SECTION_LIMIT
from bot.slack.text import BIDI_CONTROLS, escape, plain, too_long, visible
from bot.workspaces import ensure_workspace
from tests.apprunner import TEAM_ID
from tests.cast import ATTENDEES, CHAIR, CHANNEL, PRESENTERS
from tests.posting import deliver
from tests.slackdouble import SlackDouble
from tests.slackdouble.blockkit import validate_blocks, validate_view

NOW = datetime(2031, 3, 3, 15, 0, tzinfo=timezone.utc)
FORM_URL = "https://forms.example.org/eval?event=7&lang=en"
ASKER = ATTENDEES[0]
PRESENTER = next(iter(PRESENTERS.values()))
# Invisible on their own: zero-width space, non-joiner and joiner, word joiner, byte order mark,
# soft hyphen, whitespace, a Hangul filler, a right-to-left override.
INVISIBLE = ["\u200b", "\u200c\u200d", "\u2060", "\ufeff", "\u00ad", " \t\n\u00a0", "\u3164", "\u202e",
             "\u200b \u00ad\ufeff\u2060"]


def markup(length: int) -> str:
    """`&`, `<` and `>` only, exactly `length` characters once escaped (& is 5, < and > are 4)."""
    ampersands = length % 4 + 4 * (length // 40)
    angles = (length - 5 * ampersands) // 4
    text = "".join("&<>"[n % 3] for n in range(3 * min(ampersands, angles // 2)))
    text += "&" * (ampersands - text.count("&")) + "<>" * ((angles - text.count("<") - text.count(">")) // 2)
    text += "<" * (angles - text.count("<") - text.count(">"))
    assert len(escape(text)) == length and set(text) == {"&", "<", ">"}
    return text


def sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [block["text"]["text"] for block in blocks if block["type"] == "section" and "text" in block]


@pytest.fixture
def workspace_id(database: Database) -> int:
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id=TEAM_ID)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=CHAIR,
                             details=EventDetails(title="Texts & limits", starts_at=NOW - timedelta(hours=1),
                                                  ends_at=NOW + timedelta(hours=1), timezone="Europe/London",
                                                  evaluation_form_url=FORM_URL, chairs=(CHAIR,),
                                                  presenters=(PRESENTER,)))
        event.status = EventStatus.LIVE
        for n, prompt in enumerate(event.prompts):
            prompt.message_ts = f"2000000000.00010{n}"
        return workspace.id


def store(database: Database, workspace_id: int, text: str) -> int:
    return questions_slack.ask(database, workspace_id=workspace_id, channel_id=CHANNEL, asker_slack_id=ASKER,
                               text=text, now=NOW).id


def count(database: Database, model: Any) -> int:
    with unit_of_work(database) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def card_of(database: Database, question_id: int) -> questions.QuestionCard:
    with unit_of_work(database) as session:
        return questions.card(session, question_id=question_id)


def event_id_of(database: Database) -> int:
    with unit_of_work(database) as session:
        return session.scalars(select(Event.id)).one()


def prompt_id_of(database: Database) -> int:
    with unit_of_work(database) as session:
        return session.scalars(select(ReflectionPrompt.id).order_by(ReflectionPrompt.id)).first() or 0


# --- the platform helpers ------------------------------------------------------------------------


@pytest.mark.parametrize("control", sorted(BIDI_CONTROLS))
def test_bidi_controls_are_dropped_wherever_user_text_is_shown(control: str) -> None:
    assert escape(f"pay {control}evil{control} <now>") == "pay evil &lt;now&gt;"
    assert plain(f"pay {control}evil") == "pay evil"


@pytest.mark.parametrize("text", INVISIBLE)
def test_text_of_invisible_characters_has_nothing_visible(text: str) -> None:
    assert visible(text) == ""
    assert visible(text + "a") == "a"


def test_visible_keeps_what_shows() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # an emoji sequence held together by joiners
    assert visible(family) == "\U0001f468\U0001f469\U0001f467"
    assert visible(" \u00e9t\u00e9 ") == "\u00e9t\u00e9"


def test_too_long_counts_as_slack_shows_and_says_so_when_that_differs() -> None:
    assert too_long("&" * 200, limit=1000, subject="Your question") is None
    escaped = too_long("&" * 201, limit=1000, subject="Your question")
    assert escaped is not None and "too long once & < > are counted as Slack shows them" in escaped
    assert "1005 characters" in escaped and "1000 or fewer" in escaped
    assert too_long("x" * 1001, limit=1000, subject="Your question") == (
        "Your question is 1001 characters long; please keep it to 1000 or fewer.")
    # Dropped bidi controls do not let a text outgrow what is stored.
    assert too_long("\u202e" * 1001, limit=1000, subject="Your question") is not None


# --- at the limit it fits; one more character is refused and nothing is stored ------------------------


def test_a_question_answer_and_reason_at_their_limits_make_valid_posts(
    database: Database, client: WebClient, slack: SlackDouble, workspace_id: int
) -> None:
    question_text = markup(MAX_QUESTION_LENGTH)
    question_id = store(database, workspace_id, question_text)
    deliver(database, client, NOW)  # the double checks every block
    card = card_of(database, question_id)
    shown = question_card(card)
    assert validate_blocks(shown.blocks) == []
    assert f":question: {escape(question_text)}" in sections(shown.blocks)  # whole, not cut
    assert validate_blocks(approval_request(card).blocks) == []
    assert validate_view(dismiss_form(card)) == []
    assert validate_view(merge_form(card, [(card.question_id, question_text)])) == []

    answer_text = markup(MAX_ANSWER_LENGTH)
    questions_slack.answer(database, workspace_id=workspace_id, question_id=question_id, by_slack_id=CHAIR,
                           text=answer_text, now=NOW)
    deliver(database, client, NOW)
    posted = slack.replies(CHANNEL, card.card_message_ts or "")[-1]
    assert escape(answer_text) in sections(posted["blocks"])
    assert validate_blocks(answer_posted(card_of(database, question_id), CHAIR).blocks) == []

    reason = markup(MAX_REASON_LENGTH)
    other_id = store(database, workspace_id, question_text)
    deliver(database, client, NOW)
    questions_slack.dismiss(database, workspace_id=workspace_id, question_id=other_id, by_slack_id=CHAIR,
                            reason=reason, now=NOW)
    deliver(database, client, NOW)
    notice = slack.wait_for(lambda: [m for m in slack.dms(ASKER) if "removed your question" in m["text"]])[-1]
    assert escape(reason) in notice["text"] and escape(question_text) in notice["text"]

    with unit_of_work(database) as session:
        page = digest_page(digest(session, event_id=event_id_of(database), status_filter=StatusFilter.ALL))
    assert validate_blocks(page.blocks) == []
    assert all(len(text) <= SECTION_LIMIT for text in sections(page.blocks))


def test_one_character_over_is_refused_clearly_and_nothing_is_stored(
    database: Database, workspace_id: int
) -> None:
    with pytest.raises(QuestionError, match="too long once & < > are counted as Slack shows them"):
        store(database, workspace_id, markup(MAX_QUESTION_LENGTH) + "x")
    assert count(database, Question) == 0

    question_id = store(database, workspace_id, "How do we keep going?")
    with pytest.raises(QuestionError, match=f"3001 characters; please keep it to {MAX_ANSWER_LENGTH}"):
        questions_slack.answer(database, workspace_id=workspace_id, question_id=question_id, by_slack_id=CHAIR,
                               text=markup(MAX_ANSWER_LENGTH) + "x", now=NOW)
    with pytest.raises(QuestionError, match="The reason is too long once & < >"):
        questions_slack.dismiss(database, workspace_id=workspace_id, question_id=question_id, by_slack_id=CHAIR,
                                reason=markup(MAX_REASON_LENGTH) + "x", now=NOW)
    card = card_of(database, question_id)
    assert card.status == QuestionStatus.OPEN and card.answer_text is None
    with unit_of_work(database) as session:
        assert session.get_one(Question, question_id).dismissed_reason is None


def test_a_reflection_at_its_limit_fits_the_digest_and_one_more_is_refused(
    database: Database, workspace_id: int
) -> None:
    prompt_id = prompt_id_of(database)
    text = markup(MAX_REFLECTION_LENGTH)
    with unit_of_work(database) as session:
        reflections.share_privately(session, workspace_id=workspace_id, prompt_id=prompt_id, slack_user_id=ASKER,
                                    text=text, anonymous=False)
    too_long_reflection = pytest.raises(ReflectionError, match="Your reflection is too long once & < >")
    with too_long_reflection, unit_of_work(database) as session:
        reflections.share_privately(session, workspace_id=workspace_id, prompt_id=prompt_id, slack_user_id=ASKER,
                                    text=text + "x", anonymous=False)
    assert count(database, Reflection) == 1
    with unit_of_work(database) as session:
        shared = reflections.shared_reflections(session, event=session.get_one(Event, event_id_of(database)))
    message = reflections_digest("Texts & limits", shared, csv_sent=True)
    assert validate_blocks(message.blocks) == []


def test_an_event_title_at_its_limit_is_accepted_and_one_more_is_refused() -> None:
    def details(title: str) -> EventDetails:
        return details_from_form(title=title, date="2031-03-03", start="14:30", end="16:00",
                                 timezone="Europe/London", evaluation_form_url=None)

    assert details(markup(MAX_TITLE_LENGTH)).title == markup(MAX_TITLE_LENGTH)
    with pytest.raises(FormProblems) as over:
        details(markup(MAX_TITLE_LENGTH) + "x")
    assert "The title is too long once & < > are counted" in over.value.problems["title"]
    with pytest.raises(FormProblems) as plain_over:
        details("x" * (MAX_TITLE_LENGTH + 1))
    assert plain_over.value.problems["title"] == "The title is 256 characters long; please keep it to 255 or fewer."


def test_a_reminder_at_its_limit_with_the_form_filled_in_is_sent_whole(database: Database, workspace_id: int) -> None:
    # The form's address has an & in it, and counts as it will be sent: filled in, then escaped.
    room = MAX_TEXT_CHARS - len(escape(FORM_URL + " "))

    def remind(text: str) -> Reminder:
        with unit_of_work(database) as session:
            event = session.get_one(Event, event_id_of(database))
            form = ReminderForm(when="at close", audience="channel", only_incomplete=False, text=text)
            reminder = reminders.create_reminder(session, event=event, created_by=CHAIR, form=form, now=NOW)
            session.expunge(reminder)
            return reminder

    reminder = remind("{form_url} " + markup(room))
    message = reminder_message(text=reminder.text, form_url=FORM_URL, event_id=event_id_of(database), in_channel=True)
    assert validate_blocks(message.blocks) == []
    assert escape(reminder.text) in sections(message.blocks)  # whole, not cut
    with pytest.raises(FormProblems) as over:
        remind("{form_url} " + markup(room) + "x")
    assert "with the form's address filled in, is too long once & < >" in over.value.problems["text"]
    assert count(database, Reminder) == 1


def test_a_question_stored_before_the_limits_were_measured_as_shown_can_still_be_shown_and_dismissed(
    database: Database, client: WebClient, slack: SlackDouble, workspace_id: int
) -> None:
    question_id = store(database, workspace_id, "placeholder")
    with unit_of_work(database) as session:
        session.get_one(Question, question_id).text = "&" * 700  # 3,500 characters once escaped
    deliver(database, client, NOW)
    card = card_of(database, question_id)
    for message in (question_card(card), approval_request(card)):
        assert validate_blocks(message.blocks) == []
    assert validate_view(dismiss_form(card)) == []
    questions_slack.dismiss(database, workspace_id=workspace_id, question_id=question_id, by_slack_id=CHAIR,
                            reason="Too long to read aloud", now=NOW)
    deliver(database, client, NOW + timedelta(seconds=2))  # the redraw waits for its turn
    slack.wait_for(lambda: any("Too long to read aloud" in m["text"] for m in slack.dms(ASKER)))
    assert "Removed by a chair" in json.dumps(slack.message(CHANNEL, card.card_message_ts or "")["blocks"])


# --- empty means nothing visible ---------------------------------------------------------------------


@pytest.mark.parametrize("text", INVISIBLE)
def test_text_with_nothing_visible_is_empty_everywhere(database: Database, workspace_id: int, text: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        store(database, workspace_id, text)
    assert count(database, Question) == 0
    question_id = store(database, workspace_id, "A real question")
    with pytest.raises(QuestionError, match="empty"):
        questions_slack.answer(database, workspace_id=workspace_id, question_id=question_id, by_slack_id=CHAIR,
                               text=text, now=NOW)
    with pytest.raises(QuestionError, match="empty"):
        questions_slack.dismiss(database, workspace_id=workspace_id, question_id=question_id, by_slack_id=CHAIR,
                                reason=text, now=NOW)
    assert card_of(database, question_id).status == QuestionStatus.OPEN

    with pytest.raises(ReflectionError, match="empty"), unit_of_work(database) as session:
        reflections.share_privately(session, workspace_id=workspace_id, prompt_id=prompt_id_of(database),
                                    slack_user_id=ASKER, text=text, anonymous=False)
    with unit_of_work(database) as session:
        prompt = session.get_one(ReflectionPrompt, prompt_id_of(database))
        assert reflections.record_thread_reply(
            session, workspace_id=workspace_id, channel_id=CHANNEL, thread_ts=prompt.message_ts or "",
            message_ts="2000000001.000100", slack_user_id=ASKER, text=text) is None
    assert count(database, Reflection) == 0

    with pytest.raises(FormProblems) as untitled:
        details_from_form(title=text, date="2031-03-03", start="14:30", end="16:00", timezone="Europe/London",
                          evaluation_form_url=None)
    assert untitled.value.problems == {"title": "Give the event a title."}

    with pytest.raises(FormProblems) as blank, unit_of_work(database) as session:
        reminders.create_reminder(session, event=session.get_one(Event, event_id_of(database)), created_by=CHAIR,
                                  form=ReminderForm(when="at close", audience="channel", only_incomplete=False,
                                                    text=text), now=NOW)
    assert blank.value.problems == {"text": "Write the reminder's text."}
    assert count(database, Reminder) == 0


# --- bidi controls cannot reorder what is shown -------------------------------------------------------


def test_no_post_shows_a_bidi_control_a_person_typed(database: Database, workspace_id: int) -> None:
    controls = "".join(sorted(BIDI_CONTROLS))
    question_id = store(database, workspace_id, f"Is {controls}this{controls} right?")
    questions_slack.answer(database, workspace_id=workspace_id, question_id=question_id, by_slack_id=CHAIR,
                           text=f"Yes {controls}it is", now=NOW)
    # Looked up first: on SQLite a second transaction inside this one would wait for its lock.
    prompt_id, event_id = prompt_id_of(database), event_id_of(database)
    with unit_of_work(database) as session:
        reflections.share_privately(session, workspace_id=workspace_id, prompt_id=prompt_id,
                                    slack_user_id=ASKER, text=f"I {controls}learnt", anonymous=False)
        found = digest(session, event_id=event_id, status_filter=StatusFilter.ALL)
        shared = reflections.shared_reflections(session, event=session.get_one(Event, event_id))
        # What people typed is kept as typed; only what is shown loses the controls.
        assert controls in session.get_one(Question, question_id).text
    card = card_of(database, question_id)
    shown = [question_card(card), answer_posted(card, CHAIR), approval_request(card), digest_page(found),
             reflections_digest("Texts", shared, csv_sent=True)]
    everything = json.dumps([[m.text, m.blocks] for m in shown] + [dismiss_form(card)], ensure_ascii=False)
    assert "Is this right?" in everything and "Yes it is" in everything and "I learnt" in everything
    assert not BIDI_CONTROLS & set(everything)


# --- replies sent to the channel too -------------------------------------------------------------


def test_a_reply_racing_its_prompts_post_is_stored_or_sent_again(database: Database, workspace_id: int) -> None:
    """A reply can come in while the sender records its prompt's ts: it is never dropped.

    The sender's commit is put between the listener's first and second look at the database. On
    PostgreSQL it lands there; on SQLite it waits for the listener's lock (one writer at a time).
    """
    prompt_id, ts = prompt_id_of(database), "2000000009.000100"
    with unit_of_work(database) as session:
        prompt = session.get_one(ReflectionPrompt, prompt_id)
        prompt.message_ts = None  # posted by the outbox, which is about to record where
        outbox.enqueue(session, kind=reflections.PROMPT_POST, recipient=CHANNEL, now=NOW, workspace_id=workspace_id,
                       event_id=prompt.event_id, subject_id=prompt_id)
    with unit_of_work(database) as session:
        [item] = outbox.claim(session, worker="sender", now=NOW)

    def record_the_post() -> None:  # what the sender does once Slack has answered
        with unit_of_work(database) as session:
            session.get_one(ReflectionPrompt, prompt_id).message_ts = ts
            outbox.mark_sent(session, item, ts=ts, sent_at=NOW)

    sender = threading.Thread(target=record_the_post)

    def after_the_first_look(conn, cursor, statement: str, *args: object) -> None:  # type: ignore[no-untyped-def]
        if sender.ident is None and statement.lstrip().upper().startswith("SELECT"):
            sender.start()
            sender.join(timeout=0.5)

    engine = database.kw["bind"]
    reply = {"database": database, "workspace_id": workspace_id, "channel_id": CHANNEL, "thread_ts": ts,
             "message_ts": "2000000009.000200", "slack_user_id": ASKER, "text": "Seen before its prompt was"}
    sqlalchemy_event.listen(engine, "after_cursor_execute", after_the_first_look)
    try:
        reflections_slack.record_thread_reply(**reply)  # type: ignore[arg-type]
        stored = True
    except NotYet:
        stored = False  # answered 503: Slack sends it again
    finally:
        sqlalchemy_event.remove(engine, "after_cursor_execute", after_the_first_look)
        sender.join()
    if not stored:
        reflections_slack.record_thread_reply(**reply)  # type: ignore[arg-type]
    assert count(database, Reflection) == 1


@pytest.mark.parametrize("text", ["", *INVISIBLE])
def test_a_reply_edited_down_to_nothing_visible_is_taken_back(database: Database, workspace_id: int,
                                                               text: str) -> None:
    with unit_of_work(database) as session:
        prompt = session.get_one(ReflectionPrompt, prompt_id_of(database))
        reflections.record_thread_reply(session, workspace_id=workspace_id, channel_id=CHANNEL,
                                        thread_ts=prompt.message_ts or "", message_ts="2000000001.000300",
                                        slack_user_id=ASKER, text="Shared, then emptied")
        event = session.get_one(Event, prompt.event_id)
    with unit_of_work(database) as session:
        assert reflections.edit_thread_reply(session, workspace_id=workspace_id, channel_id=CHANNEL,
                                             message_ts="2000000001.000300", text=text) is True
        reflection = session.scalars(select(Reflection)).one()
        # Taken back as a deletion is: out of the digest, its last words kept for nobody to see.
        assert reflection.deleted_at is not None and reflection.text == "Shared, then emptied"
        assert reflections.shared_reflections(session, event=event) == []


def test_an_unchanged_edit_changes_nothing(database: Database, workspace_id: int) -> None:
    with unit_of_work(database) as session:
        prompt = session.get_one(ReflectionPrompt, prompt_id_of(database))
        reflections.record_thread_reply(session, workspace_id=workspace_id, channel_id=CHANNEL,
                                        thread_ts=prompt.message_ts or "", message_ts="2000000001.000200",
                                        slack_user_id=ASKER, text="Sent to the channel too")
    edit = dict(workspace_id=workspace_id, channel_id=CHANNEL, message_ts="2000000001.000200")
    with unit_of_work(database) as session:
        assert reflections.edit_thread_reply(session, text="Sent to the channel too", **edit) is False
        assert session.scalars(select(Reflection)).one().edited_at is None
    with unit_of_work(database) as session:
        assert reflections.edit_thread_reply(session, text="Sent, then edited", **edit) is True
        assert session.scalars(select(Reflection)).one().edited_at is not None

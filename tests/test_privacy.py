"""People's control of their data, with chosen clocks: what eventbot holds about a person, forgetting
them across the workspace (then searching every column of every table for them), and the purge of an
event's personal data when its retention period is over."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import func, insert, select, text

from bot.capabilities import CAPABILITIES
from bot.db import Database, unit_of_work
from bot.models import (
    AgendaSegment,
    Base,
    Delivery,
    EvaluationCompletion,
    Event,
    EventAffiliation,
    EventRole,
    FollowUp,
    Person,
    ProcessedSlackEvent,
    Question,
    QuestionStatus,
    Reflection,
    ReflectionPrompt,
    Reminder,
    ReminderAudience,
    Role,
    SpeakingQueueEntry,
    Vote,
    slack_installations,
)
from bot.outbox import notice
from bot.privacy import blocks as privacy_blocks
from bot.privacy import rules as privacy
from bot.privacy import slack as privacy_slack
from bot.programme.importing import import_programme
from bot.programme.parsing import load_programme
from bot.programme.plan import format_plan
from bot.questions import digest as questions_digest
from bot.questions import follow_ups
from bot.questions import rules as questions
from bot.questions import slack as questions_slack
from bot.reflections import rules as reflections
from bot.reports import rules as reports
from bot.run_of_show import slack as run_of_show_slack
from bot.slack.messages import help_message
from bot.slack.messages import notice as notice_message
from bot.workspaces import mark_uninstalled
from tests.apprunner import BOT_USER_ID, TEAM_ID
from tests.cast import ATTENDEES, CHAIR, CHANNEL, DAY, ORGANISER, PRESENTERS, at, seed_programme
from tests.posting import deliver
from tests.slackdouble import SlackDouble

PRIYA = ATTENDEES[0]
NAME = "Priya Forgettable"
EMAIL = "priya.forgettable@example.org"
MINARA = PRESENTERS["minara.chowdhury@example.org"]
CLOSED = at("16:00")


def workspace_of(database: Database, event_id: int) -> int:
    with unit_of_work(database) as session:
        return session.get_one(Event, event_id).workspace_id


def ask(database: Database, event_id: int, asker: str, words: str, *, anonymous: bool = False) -> int:
    return questions_slack.ask(database, workspace_id=workspace_of(database, event_id), channel_id=CHANNEL,
                               asker_slack_id=asker, text=words, anonymous=anonymous, for_presenter_slack_id=None,
                               now=at("15:00")).id


def vote(database: Database, event_id: int, question_id: int, voters: list[str]) -> None:
    workspace_id = workspace_of(database, event_id)
    with unit_of_work(database) as session:
        for voter in voters:
            questions.toggle_vote(session, workspace_id=workspace_id, question_id=question_id,
                                  voter_slack_id=voter, now=at("15:10"))


@pytest.fixture
def lived(database: Database, client: WebClient, slack: SlackDouble, event_id: int) -> dict[str, int]:
    """The seed event run: Priya asks, votes, reflects, chooses an organisation, completes the form, owns a
    follow-up (she leads them, and one was asked of her); her ID, name and email are written into every table that can hold them."""
    run_of_show_slack.run_due_work(database, client, now=at("14:30"), exclude_from_attendees=frozenset({BOT_USER_ID}))
    workspace_id = workspace_of(database, event_id)
    q = {
        "named": ask(database, event_id, PRIYA, "How do we scale this across four trusts?"),
        "quiet": ask(database, event_id, PRIYA, "Is it safe to name our gaps?", anonymous=True),
        "other": ask(database, event_id, ATTENDEES[1], f"Could <@{PRIYA}> ({EMAIL}) share her slides?"),
        "merged": ask(database, event_id, PRIYA, "How to scale it?"),
        "for_her": ask(database, event_id, ATTENDEES[4], "What would you change first?"),
    }
    vote(database, event_id, q["other"], [PRIYA, ATTENDEES[2]])
    vote(database, event_id, q["named"], [ATTENDEES[3]])
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        person = session.scalars(select(Person).where(Person.slack_user_id == PRIYA)).one()
        person.display_name, person.email, person.timezone, person.organisation = (
            NAME, EMAIL, "Europe/London", "Wye Valley NHS Trust")
        prompt = session.scalars(select(ReflectionPrompt).where(ReflectionPrompt.event_id == event_id)).first()
        reflections.share_privately(session, workspace_id=workspace_id, prompt_id=prompt.id, slack_user_id=PRIYA,
                                    text="Naming our gaps felt safe here.", anonymous=False)
        reflections.share_privately(session, workspace_id=workspace_id, prompt_id=prompt.id,
                                    slack_user_id=ATTENDEES[1], text=f"I learnt a lot from <@{PRIYA}>.",
                                    anonymous=False)
        session.add(EventAffiliation(event_id=event_id, person_id=person.id, organisation="Wye Valley NHS Trust",
                                     source="chosen"))
        session.add(EvaluationCompletion(event_id=event_id, person_id=person.id, completed_at=at("16:10")))
        session.add(SpeakingQueueEntry(event_id=event_id, person_id=person.id, joined_at=at("15:20")))
        session.add(EventRole(event_id=event_id, person_id=person.id, role=Role.PRESENTER))
        session.get_one(Question, q["for_her"]).for_presenter_person_id = person.id
        session.add(Question(event_id=event_id, asker_person_id=person.id, text="Waiting for approval?",
                             status=QuestionStatus.AWAITING_APPROVAL))
        event.created_by_slack_user_id = PRIYA
        event.follow_up_lead_slack_id = PRIYA
        event.next_event_notice = f"Next time, {EMAIL} hosts."
        segment = session.scalars(select(AgendaSegment).where(AgendaSegment.event_id == event_id)).first()
        segment.announced_by_slack_id = PRIYA
        segment.speakers = [NAME, "Minara Chowdhury"]
        reminder = Reminder(event_id=event_id, when_spec="next day 10:00", due_at=at("10:00") + timedelta(days=1),
                            audience=ReminderAudience.DIRECT_MESSAGE, text=f"Thanks to <@{PRIYA}>, fill the form.",
                            created_by_slack_user_id=PRIYA)
        session.add(reminder)
        session.flush()
        notice(session, recipient=PRIYA, message=notice_message("A DM to Priya."), now=at("15:30"),
               workspace_id=workspace_id, event_id=event_id, dedupe_key=f"private:{PRIYA}")
        notice(session, recipient=ORGANISER, message=notice_message(f"{NAME} (<@{PRIYA}>) asked for slides."),
               now=at("15:30"), workspace_id=workspace_id, event_id=event_id, dedupe_key=f"about:{PRIYA}:organiser")
        session.add(ProcessedSlackEvent(event_id="Ev0PRIVACY", team_id="T0EVENTBOT"))
    questions_slack.merge(database, workspace_id=workspace_id, question_id=q["merged"], into_question_id=q["named"],
                          by_slack_id=CHAIR, now=at("15:35"))
    deliver(database, client, at("15:50"))
    run_of_show_slack.close_event(database, event_id=event_id, now=CLOSED)
    questions_slack.open_follow_up_ledgers(database, now=CLOSED)
    with unit_of_work(database) as session:
        person = session.scalars(select(Person).where(Person.slack_user_id == PRIYA)).one()
        follow_up = session.scalars(select(FollowUp).where(FollowUp.question_id == q["other"])).one()
        follow_up.assigned_person_id = person.id
    deliver(database, client, CLOSED)
    return q


def everything_stored(database: Database) -> list[tuple[str, str, str]]:
    """Every value of every column of every table, as text (JSON both as stored and decoded)."""
    found: list[tuple[str, str, str]] = []
    with unit_of_work(database) as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    shown = json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) \
                        else str(value)
                    found.append((table.name, column, shown))
        # The tables the ORM does not know (Alembic's own) are searched too.
        for (version,) in session.execute(text("SELECT version_num FROM alembic_version")):
            found.append(("alembic_version", "version_num", version))
    return found


def mentions(database: Database, *identifiers: str) -> list[tuple[str, str, str]]:
    return [(table, column, value) for table, column, value in everything_stored(database)
            if any(identifier.lower() in value.lower() for identifier in identifiers)]


def test_privacy_shows_a_person_everything_held_about_them_within_block_kit(
    database: Database, lived: dict[str, int], event_id: int
) -> None:
    found = privacy_slack.holdings(database, workspace_id=workspace_of(database, event_id), slack_user_id=PRIYA)
    counts = dict(found.counts())
    assert counts[privacy.QUESTIONS] == 4 and counts[privacy.VOTES] == 1 and counts[privacy.REFLECTIONS] == 1
    assert counts[privacy.ORGANISATIONS] == 1 and counts[privacy.COMPLETIONS] == 1
    assert counts[privacy.FOLLOW_UPS] == 4 and counts[privacy.QUEUE] == 1
    assert counts[privacy.DELIVERIES] >= 1
    assert {role for _, role in [(i.event, i.detail) for i in found.of_kind(privacy.ROLES)]} >= {"attendee",
                                                                                                 "presenter"}
    assert dict(found.profile)["Email"] == EMAIL and dict(found.profile)["Organisation"] == "Wye Valley NHS Trust"
    # Her anonymous question is hers, and shown as such to her alone.
    assert any("Is it safe to name our gaps" in i.detail and "anonymous" in i.detail
               for i in found.of_kind(privacy.QUESTIONS))
    message = privacy_blocks.holdings(found, file_sent=True)
    assert len(message.blocks) <= 50
    csv_text = privacy.holdings_csv(found)
    assert "Naming our gaps felt safe here." in csv_text and EMAIL in csv_text
    # Someone eventbot never met is told so, with nothing to send.
    nobody = privacy_slack.holdings(database, workspace_id=workspace_of(database, event_id), slack_user_id="U0NOBODY")
    assert not nobody.known and "holds nothing" in privacy_blocks.holdings(nobody, file_sent=False).text


def test_the_summary_shows_counts_and_the_latest_items_however_much_is_held(
    database: Database, lived: dict[str, int], event_id: int
) -> None:
    with unit_of_work(database) as session:
        person_id = session.scalars(select(Person.id).where(Person.slack_user_id == PRIYA)).one()
        session.add_all(Question(event_id=event_id, asker_person_id=person_id, created_at=at("15:55"),
                                 text=f"Question {n} & <more> " + "x" * 900) for n in range(60))
    found = privacy_slack.holdings(database, workspace_id=workspace_of(database, event_id), slack_user_id=PRIYA)
    message = privacy_blocks.holdings(found, file_sent=True)
    shown = json.dumps(message.blocks)
    assert "latest 5 of 64" in shown and "&amp; &lt;more&gt;" in shown and "<more>" not in shown
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in message.blocks)
    assert privacy.holdings_csv(found).count("Question ") == 60


def test_after_forget_me_no_table_holds_her_id_name_or_email(
    database: Database, client: WebClient, slack: SlackDouble, lived: dict[str, int], event_id: int
) -> None:
    with unit_of_work(database) as session:  # she installed eventbot in the workspace (OAuth)
        session.execute(insert(slack_installations).values(
            client_id="111.222", app_id="A0EVENTBOT", team_id=TEAM_ID, user_id=PRIYA, user_scopes="identify",
            installed_at=datetime(2026, 1, 5)))
    before = mentions(database, PRIYA, NAME, EMAIL)
    seeded = {table for table, _, _ in before}
    # Seeded into every table that can hold them as text; the rest hold her by her row id, checked next.
    assert seeded >= {"people", "events", "agenda_segments", "reminders", "deliveries", "questions",
                      "reflections", "slack_installations"}, seeded
    with unit_of_work(database) as session:
        person_id = session.scalars(select(Person.id).where(Person.slack_user_id == PRIYA)).one()
        for model in (Vote, Reflection, EvaluationCompletion, EventAffiliation, SpeakingQueueEntry):
            assert session.scalars(select(model).where(model.person_id == person_id)).first() is not None, model
        other_votes = session.scalar(select(Vote.id).where(Vote.person_id != person_id))

    done = privacy_slack.forget(database, workspace_id=workspace_of(database, event_id), slack_user_id=PRIYA,
                                now=CLOSED + timedelta(days=1))
    assert (done.reflections, done.votes, done.completions, done.affiliations, done.queue_places) == (1, 1, 1, 1, 1)
    assert done.questions_kept_anonymous == 3 and done.questions_deleted == 1
    assert done.follow_ups_to_chairs == 4 and done.profile and done.deliveries >= 1
    assert mentions(database, PRIYA, NAME, EMAIL) == []

    with unit_of_work(database) as session:
        kept = session.get_one(Question, lived["named"])
        assert kept.asker_person_id is None and kept.anonymous and kept.text == "How do we scale this across four trusts?"
        assert session.get(Vote, other_votes) is not None  # other people's votes stay
        follow_up = session.scalars(select(FollowUp).where(FollowUp.question_id == lived["other"])).one()
        assert follow_up.assigned_person_id is None  # the chairs' now
        assert session.get_one(Question, lived["other"]).text == "Could someone (someone) share her slides?"

    # Her named card is redrawn as anonymous in Slack (redraws are paced: a few passes, seconds apart).
    for seconds in range(30, 60, 5):
        deliver(database, client, CLOSED + timedelta(days=1, seconds=seconds))
    with unit_of_work(database) as session:
        card_ts = session.get_one(Question, lived["named"]).card_message_ts
        asked_of_her = session.get_one(Question, lived["for_her"]).card_message_ts
    card = json.dumps(slack.message(CHANNEL, card_ts))
    assert PRIYA not in card and "anonymous" in card.lower()
    # A question asked of her no longer names her either.
    assert PRIYA not in json.dumps(slack.message(CHANNEL, asked_of_her))

    # Everything that reads askers copes with a question that has none.
    with unit_of_work(database) as session:
        digest = questions_digest.digest(session, event_id=event_id, status_filter=questions_digest.StatusFilter.ALL)
        assert any(row.question_id == lived["named"] for group in digest.groups for row in group.rows)
        assert follow_ups.ledger(session, event_id=event_id)
        reports.report(session, event=session.get_one(Event, event_id))
        assert PRIYA not in questions.askers_to_tell(session, question_id=lived["named"])

    # A second time finds nothing to forget.
    again = privacy_slack.forget(database, workspace_id=workspace_of(database, event_id), slack_user_id=PRIYA,
                                 now=CLOSED + timedelta(days=2))
    assert not again.profile and "nothing to forget" in privacy_blocks.forgotten(again).text


def test_retention_purges_an_event_once_after_its_period_and_tells_the_organisers(
    database: Database, client: WebClient, slack: SlackDouble, lived: dict[str, int], event_id: int
) -> None:
    with unit_of_work(database) as session:
        assert session.get_one(Event, event_id).retention_days == 180
    assert privacy_slack.purge_expired(database, now=CLOSED + timedelta(days=180) - timedelta(minutes=1)) == 0
    with unit_of_work(database) as session:
        assert session.scalars(select(Vote)).first() is not None

    due = CLOSED + timedelta(days=180, minutes=5)
    assert privacy_slack.purge_expired(database, now=due) == 1
    assert privacy_slack.purge_expired(database, now=due + timedelta(minutes=10)) == 0  # once
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        assert event.personal_data_purged_at == due
        prompts = select(ReflectionPrompt.id).where(ReflectionPrompt.event_id == event_id)
        assert session.scalars(select(Reflection).where(Reflection.prompt_id.in_(prompts))).all() == []
        assert session.scalars(select(Vote)).all() == []
        assert session.scalars(select(EvaluationCompletion)).all() == []
        assert session.scalars(select(EventAffiliation)).all() == []
        assert {q.asker_person_id for q in session.scalars(select(Question).where(Question.event_id == event_id))} \
            == {None}
        assert session.scalars(select(EventRole).where(EventRole.event_id == event_id,
                                                       EventRole.role == Role.ATTENDEE)).all() == []
        # The team is kept, so the organisers can be told and the questions still have owners.
        assert session.scalars(select(EventRole).where(EventRole.event_id == event_id,
                                                       EventRole.role == Role.ORGANISER)).all()
        # Someone who only attended and voted is not kept as a profile; the team is.
        kept_people = set(session.scalars(select(Person.slack_user_id)))
        assert ATTENDEES[3] not in kept_people and {ORGANISER, CHAIR, PRIYA} <= kept_people
        left = session.scalars(select(Delivery).where(Delivery.event_id == event_id)).all()
        assert all(d.recipient_slack_id in (CHANNEL, ORGANISER) for d in left), [d.recipient_slack_id for d in left]

    with unit_of_work(database) as session:
        assert session.scalar(select(func.count(Delivery.id)).where(Delivery.dedupe_key.like("purged:%"))) >= 1
    deliver(database, client, due + timedelta(minutes=1))
    told = [m for m in slack.dms(ORGANISER) if "retention period" in json.dumps(m)]
    assert len(told) == 1
    shown = json.dumps(told[0]["blocks"])
    assert "votes 3" in shown and "people who voted: 3" in shown  # the report's figures as they stood
    assert PRIYA not in shown


def test_a_programme_file_sets_the_retention_and_an_event_not_yet_closed_is_never_purged(
    database: Database, client: WebClient, slack: SlackDouble, tmp_path: Path
) -> None:
    path = seed_programme(DAY, tmp_path)
    path.write_text(path.read_text().replace("retention_days = 180", "retention_days = 30"))
    programme = load_programme(path)
    assert programme.retention_days == 30 and "personal data kept: 30 days" in format_plan(programme)
    event_id = import_programme(database, client, programme, channel_id=CHANNEL, now=at("09:00")).event_id
    with unit_of_work(database) as session:
        assert session.get_one(Event, event_id).retention_days == 30
    # Scheduled, not closed: nothing to purge, however late.
    assert privacy_slack.purge_expired(database, now=CLOSED + timedelta(days=400)) == 0
    run_of_show_slack.run_due_work(database, client, now=at("14:30"), exclude_from_attendees=frozenset({BOT_USER_ID}))
    run_of_show_slack.close_event(database, event_id=event_id, now=CLOSED)
    assert privacy_slack.purge_expired(database, now=CLOSED + timedelta(days=29, hours=23)) == 0
    assert privacy_slack.purge_expired(database, now=CLOSED + timedelta(days=30)) == 1


def test_help_lists_privacy_and_forget_me_within_slack_s_section_limit() -> None:
    message = help_message(CAPABILITIES)
    shown = json.dumps(message.blocks)
    assert "/event privacy" in shown and "/event forget-me" in shown
    assert all(len(block["text"]["text"]) <= 3000 for block in message.blocks if block["type"] == "section")


def test_an_uninstalled_workspace_s_event_is_purged_and_nobody_is_messaged(
    database: Database, lived: dict[str, int], event_id: int
) -> None:
    due = CLOSED + timedelta(days=181)
    with unit_of_work(database) as session:
        mark_uninstalled(session, team_id=TEAM_ID, now=CLOSED + timedelta(days=1))
    assert privacy_slack.purge_expired(database, now=due) == 1
    with unit_of_work(database) as session:
        assert session.get_one(Event, event_id).personal_data_purged_at == due
        assert session.scalars(select(Vote)).all() == []
        assert session.scalar(select(func.count(Delivery.id)).where(Delivery.dedupe_key.like("purged:%"))) == 0

"""A chair pulls the question digest, the reflections and the report of a national webinar: the
database is asked the same number of statements for 10 people as for 500."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient
from sqlalchemy import Engine, select, update

from bot.db import Database, unit_of_work
from bot.events import people
from bot.models import (
    EvaluationCompletion,
    Event,
    EventAffiliation,
    FollowUp,
    Person,
    Question,
    QuestionStatus,
    Reflection,
    ReflectionPrompt,
    ReflectionSource,
    ReflectionTheme,
    Vote,
)
from bot.questions import slack as questions_slack
from bot.questions.digest import StatusFilter
from bot.reflections import slack as reflections_slack
from bot.reports import slack as reports_slack
from bot.reports.rules import report_csv, report_markdown
from tests.databases import counting_queries
from tests.reminder_world import CHANNEL, ORGANISER, make_event, utc

CLOSED_AT = utc(2026, 11, 19, 17, 0)
PARTNERS = ["NHS North", "NHS South", "University of Leeds"]


# Everyone is named already, so exporting asks Slack nothing: a call here would fail the test.
NOWHERE = WebClient(token="xoxb-never-used", base_url="http://127.0.0.1:9/")


def grow(database: Database, event_id: int, *, to: int) -> None:
    """Up to `to` attendees, each with an organisation, a question (voted on by two others), a
    reflection; some questions answered after the close, some forms completed."""
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        event.partner_organisations = PARTNERS
        prompt = session.scalar(select(ReflectionPrompt).where(ReflectionPrompt.event_id == event_id))
        if prompt is None:
            prompt = ReflectionPrompt(event_id=event_id, theme=ReflectionTheme.NEXT_STEPS, text="What will you do next?")
            session.add(prompt)
            session.flush()
        start = len(session.scalars(select(Question.id).where(Question.event_id == event_id)).all())
        ids = [f"U0MANY{n:05d}" for n in range(to)]
        people.add_attendees(session, event=event, slack_user_ids=ids)
        # Named, as people are once a CSV has asked Slack for their names: reading costs no lookups.
        session.execute(update(Person).where(Person.slack_user_id.in_(ids), Person.display_name.is_(None))
                        .values(display_name=Person.slack_user_id))
        person_ids = dict(session.execute(select(Person.slack_user_id, Person.id).where(
            Person.slack_user_id.in_(ids))).all())
        for n in range(start, to):
            person_id = person_ids[ids[n]]
            session.add(EventAffiliation(event_id=event_id, person_id=person_id, source="welcome",
                                         organisation=PARTNERS[n % len(PARTNERS)] if n % 4 else None))
            question = Question(event_id=event_id, text=f"Question {n}?", asker_person_id=person_id,
                                anonymous=n % 5 == 0,
                                status=QuestionStatus.FOLLOW_UP if n % 5 == 1 else QuestionStatus.OPEN,
                                created_at=CLOSED_AT - timedelta(minutes=50 - n % 50))
            session.add(question)
            session.flush()
            for voter in (n - 1, n - 2):
                if voter >= 0:
                    session.add(Vote(question_id=question.id, person_id=person_ids[ids[voter]],
                                     created_at=CLOSED_AT - timedelta(minutes=40 - n % 40)))
            if n % 5 == 1:
                session.add(FollowUp(question_id=question.id, due_at=CLOSED_AT + timedelta(days=7),
                                     answered_at=CLOSED_AT + timedelta(days=n % 10)))
            session.add(Reflection(prompt_id=prompt.id, person_id=person_id, text=f"Reflection {n}",
                                   source=ReflectionSource.MODAL, anonymous=n % 3 == 0,
                                   created_at=CLOSED_AT - timedelta(minutes=30 - n % 30)))
            if n % 3 == 0:
                session.add(EvaluationCompletion(event_id=event_id, person_id=person_id,
                                                 completed_at=CLOSED_AT + timedelta(hours=1)))


def statements_to_read_everything(database: Database, engine: Engine, event_id: int) -> tuple[int, dict[str, int]]:
    """What a chair reads after the event: the digest and its CSV, the reflections, the report."""
    workspace_id = _workspace(database, event_id)
    with counting_queries(engine) as statements:
        digest, _ = questions_slack.export_digest(database, event_id=event_id, status_filter=StatusFilter.ALL,
                                                  client=NOWHERE, workspace_id=workspace_id, now=CLOSED_AT)
        digest_statements = len(statements)
        _, shared, _ = reflections_slack.export(database, NOWHERE, event_id=event_id, now=CLOSED_AT)
        reflection_statements = len(statements) - digest_statements
        report = reports_slack.report_for(database, workspace_id=workspace_id, channel_id=CHANNEL,
                                          slack_user_id=ORGANISER)
        report_csv(report)
        report_markdown(report)
    sizes = {"questions": digest.question_count, "reflections shared": len(shared), "attendees": report.attendees}
    return len(statements), {"digest": digest_statements, "reflections": reflection_statements,
                             "report": len(statements) - digest_statements - reflection_statements, **sizes}


def _workspace(database: Database, event_id: int) -> int:
    with unit_of_work(database) as session:
        return session.get_one(Event, event_id).workspace_id


def test_digests_and_the_report_ask_the_same_number_of_statements_at_10_and_at_500_people(
    database: Database, engine: Engine
) -> None:
    event_id = make_event(database, attendees=[], ends_at=CLOSED_AT)
    workspace_id = _workspace(database, event_id)
    assert workspace_id  # the report is looked up as the organiser would, by channel

    grow(database, event_id, to=10)
    few, few_parts = statements_to_read_everything(database, engine, event_id)
    grow(database, event_id, to=500)
    many, many_parts = statements_to_read_everything(database, engine, event_id)

    assert (few_parts["questions"], few_parts["reflections shared"], few_parts["attendees"]) == (10, 10, 10)
    assert (many_parts["questions"], many_parts["reflections shared"], many_parts["attendees"]) == (500, 500, 500)
    for part in ("digest", "reflections", "report"):
        assert few_parts[part] == many_parts[part], (part, few_parts, many_parts)
    assert few == many
    assert many < 40  # counted for real, and few

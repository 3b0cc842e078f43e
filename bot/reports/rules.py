"""The event report's figures, counted by the database with a fixed number of queries at any size."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bot.events import people
from bot.models import (
    Delivery,
    DeliveryStatus,
    EvaluationCompletion,
    Event,
    EventRole,
    EventStatus,
    FollowUp,
    Question,
    Reflection,
    ReflectionPrompt,
    Reminder,
    ReminderAudience,
    Role,
    Vote,
)
from bot.organisations.rules import FEWER_THAN, SMALLEST_GROUP, OrganisationFigures, figure_table
from bot.organisations.rules import figures as organisation_figures
from bot.questions.follow_ups import Outcomes, outcomes
from bot.reflections.rules import neutralise_for_spreadsheet
from bot.reminders.deliveries import REMINDER

# The session's activity is counted in slots of this length.
SLOT = timedelta(minutes=10)
ACTION = "see the event report"


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    questions: int
    votes: int
    reflections: int


@dataclass(frozen=True)
class Report:
    event_id: int
    title: str
    timezone: str
    starts_at: datetime
    closed_at: datetime
    attendees: int
    reflected: int
    asked: int
    voted: int
    outcomes: Outcomes
    reminders_sent: int
    forms_completed: int
    follow_ups: int
    answered_on_time: int
    answered_late: int
    slots: tuple[Slot, ...]
    # Whose voices were heard, when the event has partner organisations.
    organisations: OrganisationFigures | None = None


def report(session: Session, *, event: Event) -> Report:
    if event.status != EventStatus.CLOSED or event.closed_at is None:
        raise people.NotAllowed("The report is ready once the event has closed: `/event close` closes it.")
    questions = select(Question.id).where(Question.event_id == event.id).scalar_subquery()
    prompts = select(ReflectionPrompt.id).where(ReflectionPrompt.event_id == event.id).scalar_subquery()
    attendees = session.scalar(select(func.count(distinct(EventRole.person_id))).where(
        EventRole.event_id == event.id, EventRole.role == Role.ATTENDEE)) or 0
    reflected = session.scalar(select(func.count(distinct(Reflection.person_id))).where(
        Reflection.prompt_id.in_(prompts), Reflection.deleted_at.is_(None))) or 0
    asked = session.scalar(select(func.count(distinct(Question.asker_person_id))).where(
        Question.event_id == event.id)) or 0
    voted = session.scalar(select(func.count(distinct(Vote.person_id))).where(Vote.question_id.in_(questions))) or 0
    reminders_sent = session.scalar(select(func.count(Delivery.id)).join(Reminder, Reminder.id == Delivery.reminder_id)
                                    .where(Delivery.kind == REMINDER, Reminder.event_id == event.id,
                                           Reminder.audience == ReminderAudience.DIRECT_MESSAGE,
                                           Delivery.status == DeliveryStatus.SENT)) or 0
    completed = session.scalar(select(func.count(EvaluationCompletion.id)).where(
        EvaluationCompletion.event_id == event.id)) or 0
    follow_ups = session.execute(select(FollowUp.answered_at, FollowUp.due_at).where(
        FollowUp.question_id.in_(questions))).all()
    on_time = sum(1 for answered, due in follow_ups if answered and (due is None or answered <= due))
    late = sum(1 for answered, due in follow_ups if answered and due is not None and answered > due)
    return Report(
        event_id=event.id, title=event.title, timezone=event.timezone, starts_at=event.started_at or event.starts_at,
        closed_at=event.closed_at, attendees=attendees, reflected=reflected, asked=asked, voted=voted,
        outcomes=outcomes(session, event_id=event.id), reminders_sent=reminders_sent, forms_completed=completed,
        follow_ups=len(follow_ups), answered_on_time=on_time, answered_late=late,
        slots=_slots(session, event=event, questions=questions, prompts=prompts),
        organisations=organisation_figures(session, event_id=event.id) if event.partner_organisations else None)


def _slots(session: Session, *, event: Event, questions, prompts) -> tuple[Slot, ...]:  # type: ignore[no-untyped-def]
    """Questions, votes and reflections per ten minutes, from the start to the close."""
    start = event.started_at or event.starts_at
    end = max(event.closed_at or event.ends_at, start + SLOT)
    stamps = {
        "questions": session.scalars(select(Question.created_at).where(Question.event_id == event.id)).all(),
        "votes": session.scalars(select(Vote.created_at).where(Vote.question_id.in_(questions))).all(),
        "reflections": session.scalars(select(Reflection.created_at).where(Reflection.prompt_id.in_(prompts))).all(),
    }
    count = int((end - start) / SLOT) + 1
    tallies = {name: [0] * count for name in stamps}
    for name, moments in stamps.items():
        for moment in moments:
            index = int((moment - start) / SLOT)
            if 0 <= index < count:
                tallies[name][index] += 1
    return tuple(Slot(start + n * SLOT, tallies["questions"][n], tallies["votes"][n], tallies["reflections"][n])
                 for n in range(count))


def figures(found: Report) -> list[tuple[str, int]]:
    """Every figure of the report, named as a reader would, in reading order."""
    o = found.outcomes
    return [
        ("attendees", found.attendees), ("people who reflected", found.reflected),
        ("people who asked a question", found.asked), ("people who voted", found.voted),
        ("questions answered live", o.answered_live),
        ("questions answered in writing during the session", o.answered_in_session),
        ("questions answered after the event", o.answered_after), ("questions not answered", o.not_answered),
        ("evaluation reminders sent by DM", found.reminders_sent), ("evaluation forms completed", found.forms_completed),
        ("questions left for follow-up", found.follow_ups), ("follow-ups answered on time", found.answered_on_time),
        ("follow-ups answered late", found.answered_late),
    ]


def report_csv(found: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "value"])
    writer.writerows(figures(found))
    if found.organisations is not None:
        writer.writerow([])
        writer.writerows([[neutralise_for_spreadsheet(cell) for cell in row]
                          for row in figure_table(found.organisations)])
    return out.getvalue()


def report_markdown(found: Report) -> str:
    lines = [f"# {found.title}: the event report", ""]
    lines += [f"- {name[:1].upper() + name[1:]}: {value}" for name, value in figures(found)]
    if found.organisations is not None:
        table = figure_table(found.organisations)
        lines += ["", "## By organisation", "", "| " + " | ".join(table[0]) + " |",
                  "|" + "---|" * len(table[0])]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in table[1:]]
        lines += [f"- Flag: {flag}" for flag in found.organisations.flags]
        lines += ["", f"Groups of fewer than {SMALLEST_GROUP} people are shown as \"{FEWER_THAN}\"; an anonymous "
                  "question counts for an organisation only if its asker chose that."]
    if found.outcomes.answers_after:
        lines += ["", "## Answered after the event", ""]
        lines += [f"- [{text}]({link})" if link else f"- {text}" for text, link in found.outcomes.answers_after]
    return "\n".join(lines) + "\n"

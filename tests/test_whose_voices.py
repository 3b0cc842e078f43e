"""Whose voices are heard (issue #14, the equity lens): the seed event's four trusts, and a session
skewed towards one of them.

Wye Valley brings twelve people and most of the questions, which are voted up and answered;
Worcestershire Acute's five questions mostly go unanswered; George Eliot asks two; South
Warwickshire has only two people (too few to show); three people prefer not to say. The test keeps
its own tally while it builds the session, and checks the digest's and the report's figures,
the flag, fair ordering and that no row can single out a person against it.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot.db import Database, unit_of_work
from bot.events import people
from bot.models import (
    Event,
    EventStatus,
    FollowUp,
    Question,
    QuestionStatus,
    Reflection,
    ReflectionSource,
    Role,
    Vote,
)
from bot.organisations import rules as organisations
from bot.organisations import slack as organisations_slack
from bot.organisations.blocks import choice_value
from bot.organisations.rules import FEWER_THAN, NOT_SAID, OrganisationError, longest_run, spread
from bot.questions.digest import StatusFilter, digest, questions_csv
from bot.questions.digest_blocks import digest_page
from bot.reports.rules import report, report_csv, report_markdown
from tests.cast import at

WYE, WORCS, GEORGE, SOUTH = (
    "Wye Valley NHS Trust",
    "Worcestershire Acute Hospitals NHS Trust",
    "George Eliot Hospital NHS Trust",
    "South Warwickshire University NHS Foundation Trust",
)
# Who came, from where (None: prefer not to say).
TURNOUT = {WYE: 12, WORCS: 6, GEORGE: 4, SOUTH: 2, None: 3}
# What became of each organisation's questions: live, in writing, after the event, not answered.
OUTCOMES = {
    WYE: [QuestionStatus.ANSWERED_LIVE] * 4 + [QuestionStatus.ANSWERED] * 2 + ["after"] * 2 + [QuestionStatus.OPEN] * 2,
    WORCS: ["after"] + [QuestionStatus.OPEN] * 3 + [QuestionStatus.DISMISSED],
    GEORGE: [QuestionStatus.OPEN] * 2,
    SOUTH: [QuestionStatus.ANSWERED_LIVE],
    None: [QuestionStatus.OPEN],
}


class Session:
    """The skewed session as built, with the test's own tally of what each organisation did."""

    def __init__(self, database: Database, event_id: int) -> None:
        self.database, self.event_id = database, event_id
        self.members: dict[str | None, list[int]] = {}
        self.slack_ids: list[str] = []
        self.tally: dict[str, Counter[str]] = {}
        self.question_org: dict[int, str] = {}

    def count(self, organisation: str | None, what: str, n: int = 1) -> None:
        self.tally.setdefault(organisation or NOT_SAID, Counter())[what] += n


def build(database: Database, event_id: int) -> Session:
    built = Session(database, event_id)
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        for organisation, headcount in TURNOUT.items():
            for n in range(headcount):
                slack_id = f"U0{(organisation or 'NOTSAID')[:3].upper()}{n:03d}"
                person = people.person(session, workspace_id=event.workspace_id, slack_user_id=slack_id,
                                       display_name=f"{organisation} person {n}")
                people.grant(session, event=event, person=person, role=Role.ATTENDEE)
                organisations.choose(session, event=event, person=person, organisation=organisation, now=at("14:31"))
                built.members.setdefault(organisation, []).append(person.id)
                built.slack_ids.append(slack_id)
                built.count(organisation, "people")
        minute = 0
        for organisation, outcomes in OUTCOMES.items():
            for n, outcome in enumerate(outcomes):
                minute += 1
                asker = built.members[organisation][n % len(built.members[organisation])]
                question = Question(event_id=event_id, asker_person_id=asker, text=f"{organisation} question {n}",
                                    status=QuestionStatus.FOLLOW_UP if outcome == "after" else outcome,
                                    created_at=at("14:40") + timedelta(minutes=minute))
                session.add(question)
                session.flush()
                if outcome == "after":
                    session.add(FollowUp(question_id=question.id, answer_text="Answered by email",
                                         answered_at=at("10:00") + timedelta(days=2)))
                built.question_org[question.id] = organisation or NOT_SAID
                built.count(organisation, "questions")
                kind = {QuestionStatus.ANSWERED_LIVE: "live", QuestionStatus.ANSWERED: "writing",
                        "after": "after"}.get(outcome, "not")
                built.count(organisation, kind)
        # Two anonymous questions from Wye Valley people: one shared its organisation, one did not.
        for shared in (True, False):
            minute += 1
            question = Question(event_id=event_id, asker_person_id=built.members[WYE][0], text="Anonymous question",
                                anonymous=True, organisation_shared=shared, status=QuestionStatus.ANSWERED_LIVE,
                                created_at=at("14:40") + timedelta(minutes=minute))
            session.add(question)
            session.flush()
            counted = WYE if shared else None
            built.question_org[question.id] = counted or NOT_SAID
            built.count(counted, "questions")
            built.count(counted, "live")
        # Votes: Wye Valley votes for its own questions, many times over; everyone else votes a little.
        voters = {organisation: ids for organisation, ids in built.members.items()}
        for question_id, organisation in built.question_org.items():
            owners = WYE if organisation == WYE else None
            pool = voters[WYE] if owners else voters[WORCS][:2]
            for voter in pool[: (9 if owners else 2)]:
                session.add(Vote(question_id=question_id, person_id=voter))
                voter_org = WYE if owners else WORCS
                built.count(voter_org, "given")
                built.count(organisation if organisation != NOT_SAID else None, "received")
        prompt = event.prompts[0]
        for person_id, anonymous, organisation in [(built.members[WYE][1], False, WYE),
                                                   (built.members[WYE][2], False, WYE),
                                                   (built.members[WORCS][0], False, WORCS),
                                                   (built.members[WORCS][1], True, None)]:
            session.add(Reflection(prompt_id=prompt.id, person_id=person_id, text="A reflection", anonymous=anonymous,
                                   source=ReflectionSource.MODAL, created_at=at("15:10")))
            built.count(organisation, "reflections")
    return built


@pytest.fixture
def skewed(database: Database, event_id: int) -> Session:
    return build(database, event_id)


def test_the_figures_per_organisation_show_the_imbalance(database: Database, skewed: Session) -> None:
    with unit_of_work(database) as session:
        found = organisations.figures(session, event_id=skewed.event_id)
    rows = {row.organisation: row for row in found.rows}
    assert list(rows) == [WYE, WORCS, GEORGE, SOUTH, NOT_SAID]  # the partners in the event's order, then the rest
    for name, row in rows.items():
        expected = skewed.tally[name]
        assert (row.people, row.questions, row.answered_live, row.answered_in_writing, row.answered_after,
                row.not_answered, row.votes_given, row.votes_received, row.reflections) == (
            expected["people"], expected["questions"], expected["live"], expected["writing"], expected["after"],
            expected["not"], expected["given"], expected["received"], expected["reflections"]), name
    assert rows[WYE].questions == 11 and rows[WYE].answered == 9  # the anonymous one it shared counts for it
    assert rows[NOT_SAID].questions == 2  # the unshared anonymous question, and the one from someone who did not say
    assert found.overall.questions == 21 and found.overall.answered == 12
    assert rows[WORCS].reflections == 1  # the anonymous reflection counts for no organisation


def test_the_flag_fires_for_worcestershire_and_nowhere_else(database: Database, skewed: Session) -> None:
    with unit_of_work(database) as session:
        found = organisations.figures(session, event_id=skewed.event_id)
    # Overall 12 of 21 (57%); half is 29%. Worcestershire: 1 of 5 (20%): flagged. George Eliot: 0 of 2, but
    # fewer than 3 questions. South Warwickshire: too few people to show. "Not said" is nobody's organisation.
    assert found.flags == [f"{WORCS}: 1 of 5 questions answered (20%), under half the rate for everyone (57%)."]


def test_the_chairs_digest_and_the_report_show_the_figures_and_single_out_nobody(
    database: Database, skewed: Session
) -> None:
    with unit_of_work(database) as session:
        found = digest(session, event_id=skewed.event_id, status_filter=StatusFilter.ALL)
        event = session.get_one(Event, skewed.event_id)
        event.status, event.closed_at = EventStatus.CLOSED, at("16:00")
    page = json.dumps(digest_page(found, page=1).blocks, ensure_ascii=False)
    assert "*By organisation*" in page
    assert "*Worcestershire Acute Hospitals NHS Trust*: 6 people · 5 questions (0 live, 0 in writing, 1 after, 4 not answered)" in page
    assert "*South Warwickshire University NHS Foundation Trust*: fewer than 3 people, so no figures are shown" in page
    assert ":warning: Worcestershire Acute" in page
    assert len(digest_page(found, page=1).blocks) <= 50

    with unit_of_work(database) as session:
        made = report(session, event=session.get_one(Event, skewed.event_id))
    markdown, csv_text = report_markdown(made), report_csv(made)
    assert "## By organisation" in markdown and "Flag: Worcestershire" in markdown
    south = next(line for line in csv_text.splitlines() if line.startswith(SOUTH))
    assert south.split(",")[1:] == [FEWER_THAN] * 6 + ["–"] + [FEWER_THAN] * 3
    wye = next(line for line in csv_text.splitlines() if line.startswith(WYE))
    assert wye.split(",")[1:4] == ["12", "11", "5"]  # four live, and the anonymous one it shared
    # No row names, or can be traced to, a person.
    for text in (markdown, csv_text):
        assert not any(slack_id in text for slack_id in skewed.slack_ids)
        assert "person 0" not in text


def test_fair_ordering_spreads_the_organisations_and_is_the_chairs_choice(
    database: Database, client: WebClient, skewed: Session
) -> None:
    def order() -> list[str | None]:
        with unit_of_work(database) as session:
            found = digest(session, event_id=skewed.event_id, status_filter=StatusFilter.ALL)
        return [row.organisation for _, row in found.rows()]

    by_votes = order()
    from bot.questions import slack as questions_slack
    questions_slack.set_fair_ordering(database, event_id=skewed.event_id, on=True)
    fair = order()
    assert sorted(map(str, fair)) == sorted(map(str, by_votes))  # the same questions, reordered
    print(f"\nfair ordering: longest run {longest_run(by_votes)} -> {longest_run(fair)}; "
          f"organisations in the top 6: {spread(by_votes, 6)} -> {spread(fair, 6)}")
    assert longest_run(by_votes) >= 10  # by votes alone, Wye Valley takes the top of the list
    assert longest_run(fair) <= 2
    assert spread(by_votes, 6) == 1 and spread(fair, 6) >= 3
    with unit_of_work(database) as session:
        csv_text = questions_csv(digest(session, event_id=skewed.event_id, status_filter=StatusFilter.ALL))
    assert csv_text.splitlines()[0].endswith(",organisation")


def test_choosing_an_organisation_is_one_click_remembered_and_checked(
    database: Database, client: WebClient, event_id: int
) -> None:
    with unit_of_work(database) as session:
        workspace_id = session.get_one(Event, event_id).workspace_id
    reply = organisations_slack.choose(database, client, workspace_id=workspace_id, slack_user_id="U0CHOOSER",
                                       value=choice_value(event_id, 2), now=at("14:31"))
    assert GEORGE in reply.text
    with unit_of_work(database) as session:
        event = session.get_one(Event, event_id)
        person = people.person(session, workspace_id=workspace_id, slack_user_id="U0CHOOSER")
        assert person.organisation == GEORGE  # remembered for the next event
        assert organisations.organisations_of(session, event=event, person_ids={person.id}) == {person.id: GEORGE}
    # Prefer not to say forgets it, so it is never applied at a later event behind their back.
    organisations_slack.choose(database, client, workspace_id=workspace_id, slack_user_id="U0CHOOSER",
                               value=choice_value(event_id, None), now=at("14:32"))
    with unit_of_work(database) as session:
        assert people.person(session, workspace_id=workspace_id, slack_user_id="U0CHOOSER").organisation is None
    for bad in ("not json", json.dumps({"event_id": event_id, "partner": 9}), json.dumps({"event_id": 999999,
                                                                                         "partner": 0})):
        with pytest.raises(OrganisationError):
            organisations_slack.choose(database, client, workspace_id=workspace_id, slack_user_id="U0CHOOSER",
                                       value=bad, now=at("14:33"))

"""Benchmark: the chair's question digest over 5,000 questions and 50,000 votes.

Builds one event with that many questions (spread over agenda items and presenters, some
anonymous, some merged, answered, kept for follow-up) in a fresh SQLite file and, with
`--database-url`, in a scratch PostgreSQL database created and dropped here. Then it times, as the
median of several runs each in its own transaction:

* `digest(...)` for the `all` and `open` filters, and the first page rendered as Block Kit;
* the CSV export (`questions_csv` over the digest, and `export(...)` end to end);

counts the SQL statements the digest sends, and prints the same measures for baselines taken in
the same run: `SELECT count(*) FROM votes` over the whole table, and the digest of a second event
ten times smaller (500 questions, 5,000 votes). The ratio column compares each measure with its
baseline.

    python bench/question_digest.py
    python bench/question_digest.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Run as a script from anywhere: the source tree (for tests.databases) goes on the path first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text, update  # noqa: E402

from bot import db
from bot.db import Database, unit_of_work  # noqa: E402
from bot.events.rules import EventDetails, create_event
from bot.models import AgendaSegment, FollowUp, Person, Question, QuestionStatus, Vote  # noqa: E402
from bot.questions import digest as question_digest
from bot.questions import slack as questions_slack
from bot.questions.digest import StatusFilter
from bot.questions.digest_blocks import digest_page
from bot.workspaces import ensure_workspace  # noqa: E402
from tests.databases import counting_queries, scratch_postgres  # noqa: E402

START = datetime(2031, 3, 3, 13, 0, tzinfo=timezone.utc)
SEGMENTS = 8
PRESENTERS = 10
VOTERS = 2_000  # votes are one per person per question, so at most this many on one question

# How questions end up, roughly as a busy session leaves them.
STATUS_MIX = [
    (QuestionStatus.OPEN, 55), (QuestionStatus.AWAITING_APPROVAL, 5), (QuestionStatus.ANSWERED_LIVE, 10),
    (QuestionStatus.ANSWERED, 10), (QuestionStatus.FOLLOW_UP, 7), (QuestionStatus.DISMISSED, 5),
    (QuestionStatus.MERGED, 8),
]


@dataclass(frozen=True)
class Built:
    event_id: int
    questions: int
    votes: int
    merged: int
    anonymous: int


def build_event(database: Database, *, channel: str, questions: int, votes: int, seed: int) -> Built:
    """One event with `questions` questions and exactly `votes` votes, inserted in bulk."""
    rng = random.Random(seed)
    with unit_of_work(database) as session:
        workspace = ensure_workspace(session, team_id="T0BENCH")
        created = create_event(
            session, workspace_id=workspace.id, channel_id=channel, organiser_slack_id="U0BENCHORG",
            details=EventDetails(title=f"Benchmark {channel}", starts_at=START, ends_at=START + timedelta(hours=3),
                                 timezone="Europe/London", evaluation_form_url=None, chairs=("U0BENCHCHAIR",),
                                 presenters=()),
        )
        segment_ids = session.scalars(insert(AgendaSegment).returning(AgendaSegment.id, sort_by_parameter_order=True), [
            {"event_id": created.id, "position": n, "title": f"Agenda item {n}", "speakers": [],
             "scheduled_at": START + timedelta(minutes=20 * n)} for n in range(1, SEGMENTS + 1)
        ]).all()
        people_rows = [{"workspace_id": workspace.id, "slack_user_id": f"U{channel}P{n:05d}",
                        "display_name": f"Person {n}" if n % 3 else None, "is_bot": False, "is_deleted": False}
                       for n in range(VOTERS + PRESENTERS)]
        person_ids = session.scalars(insert(Person).returning(Person.id, sort_by_parameter_order=True), people_rows).all()
        presenter_ids, voter_ids = person_ids[:PRESENTERS], person_ids[PRESENTERS:]

        statuses = rng.choices([s for s, _ in STATUS_MIX], weights=[w for _, w in STATUS_MIX], k=questions)
        statuses[0] = QuestionStatus.OPEN  # something to merge into
        question_rows = []
        for n, status in enumerate(statuses):
            words = rng.randint(8, 60)
            body = " ".join(rng.choice(("equity", "quality", "data", "how", "why", "team", "improve", "&", "<!here>"))
                            for _ in range(words))
            question_rows.append({
                "event_id": created.id, "asker_person_id": rng.choice(voter_ids), "anonymous": rng.random() < 0.15,
                "text": ("=" if n % 97 == 0 else "") + f"Q{n}: {body}?",
                "segment_id": rng.choice(segment_ids) if rng.random() < 0.9 else None,
                "for_presenter_person_id": rng.choice(presenter_ids) if rng.random() < 0.7 else None,
                "status": status,
                "answer_text": "Answered in writing: " + body[:200] if status is QuestionStatus.ANSWERED else None,
                "created_at": START + timedelta(seconds=2 * n),
            })
        question_ids = session.scalars(insert(Question).returning(Question.id, sort_by_parameter_order=True),
                                       question_rows).all()

        standing = [qid for qid, status in zip(question_ids, statuses) if status is not QuestionStatus.MERGED]
        merged = [qid for qid, status in zip(question_ids, statuses) if status is QuestionStatus.MERGED]
        for qid in merged:
            session.execute(update(Question).where(Question.id == qid).values(merged_into_id=rng.choice(standing)))
        follow_ups = [{"question_id": qid, "answer_text": "Later" if rng.random() < 0.5 else None}
                      for qid, status in zip(question_ids, statuses) if status is QuestionStatus.FOLLOW_UP]
        if follow_ups:
            session.execute(insert(FollowUp), follow_ups)

        # Votes only on standing questions (merging moved them), skewed: a few popular questions.
        weights = [1 / (rank + 1) ** 0.7 for rank in range(len(standing))]
        rng.shuffle(weights)
        total = sum(weights)
        per_question = [min(VOTERS, int(votes * w / total)) for w in weights]
        short = votes - sum(per_question)
        n = 0
        while short > 0:
            if per_question[n % len(standing)] < VOTERS:
                per_question[n % len(standing)] += 1
                short -= 1
            n += 1
        vote_rows = [{"question_id": qid, "person_id": voter, "created_at": START}
                     for qid, count in zip(standing, per_question) for voter in rng.sample(voter_ids, count)]
        for chunk in range(0, len(vote_rows), 10_000):
            session.execute(insert(Vote), vote_rows[chunk:chunk + 10_000])
        anonymous = sum(1 for row in question_rows if row["anonymous"])
        return Built(event_id=created.id, questions=questions, votes=len(vote_rows), merged=len(merged),
                     anonymous=anonymous)


def median_ms(work: Callable[[], object], runs: int) -> float:
    work()  # warm: caches, connection pool, query compilation
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


@dataclass(frozen=True)
class Row:
    measure: str
    ms: float
    queries: int | None = None
    baseline: str | None = None


def measure(label: str, database_url: str, *, questions: int, votes: int, runs: int) -> list[Row]:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    database = db.make_session_factory(engine)
    try:
        started = time.perf_counter()
        big = build_event(database, channel="C0BIG", questions=questions, votes=votes, seed=1)
        small = build_event(database, channel="C0SMALL", questions=questions // 10, votes=votes // 10, seed=2)
        built_in = time.perf_counter() - started
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))  # planner statistics, as a database in use would have
        print(f"[{label}] built {big.questions} questions ({big.merged} merged, {big.anonymous} anonymous) and "
              f"{big.votes} votes, plus {small.questions} questions and {small.votes} votes for the baseline, "
              f"in {built_in:.1f} s", file=sys.stderr)

        def digest_of(built: Built, status_filter: StatusFilter) -> Callable[[], question_digest.QuestionDigest]:
            def run() -> question_digest.QuestionDigest:
                with unit_of_work(database) as session:
                    return question_digest.digest(session, event_id=built.event_id, status_filter=status_filter)
            return run

        def queries_of(work: Callable[[], object]) -> int:
            with counting_queries(engine) as statements:
                work()
            return len(statements)

        def count_votes() -> int:
            with unit_of_work(database) as session:
                return session.execute(text("SELECT count(*) FROM votes")).scalar_one()

        full = digest_of(big, StatusFilter.ALL)
        open_only = digest_of(big, StatusFilter.OPEN)
        found = full()
        rows = [
            Row("SELECT count(*) FROM votes (baseline)", median_ms(count_votes, runs), queries_of(count_votes)),
            Row(f"digest all, {small.questions} q / {small.votes} votes (baseline)",
                median_ms(digest_of(small, StatusFilter.ALL), runs), queries_of(digest_of(small, StatusFilter.ALL))),
            Row(f"digest all, {big.questions} q / {big.votes} votes ({found.question_count} shown)",
                median_ms(full, runs), queries_of(full),
                baseline="digest"),
            Row(f"digest open ({open_only().question_count} of them)", median_ms(open_only, runs),
                queries_of(open_only), baseline="digest"),
            Row("digest all + page 1 as Block Kit", median_ms(lambda: digest_page(full(), page=1), runs),
                queries_of(lambda: digest_page(full(), page=1)), baseline="digest"),
            Row(f"CSV of the digest ({found.question_count} rows)", median_ms(lambda: question_digest.questions_csv(found), runs), 0),
            Row("export(): digest + CSV", median_ms(lambda: questions_slack.export_digest(
                database, event_id=big.event_id, status_filter=StatusFilter.ALL), runs),
                queries_of(lambda: questions_slack.export_digest(database, event_id=big.event_id, status_filter=StatusFilter.ALL)),
                baseline="digest"),
        ]
        return rows
    finally:
        engine.dispose()


def print_table(label: str, rows: list[Row]) -> None:
    count_ms, small_digest_ms = rows[0].ms, rows[1].ms
    print(f"\n{label}")
    print(f"{'measure':<48} {'median ms':>10} {'queries':>8} {'× 10x smaller':>14} {'× count(*)':>11}")
    for row in rows:
        ratio_small = f"{row.ms / small_digest_ms:.1f}" if row.baseline else ""
        ratio_count = f"{row.ms / count_ms:.1f}" if row.baseline else ""
        queries = "" if row.queries is None else str(row.queries)
        print(f"{row.measure:<48} {row.ms:>10.1f} {queries:>8} {ratio_small:>14} {ratio_count:>11}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server to also measure on (a scratch database is "
                                               "created there and dropped afterwards)")
    parser.add_argument("--questions", type=int, default=5_000)
    parser.add_argument("--votes", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measure; the median is shown")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="eventbot-bench-") as directory:
        url = f"sqlite:///{Path(directory) / 'bench.sqlite3'}"
        label = f"SQLite (fresh file), median of {args.runs} runs"
        print_table(label, measure("sqlite", url, questions=args.questions, votes=args.votes, runs=args.runs))
    if args.database_url:
        with scratch_postgres(args.database_url, prefix="eventbot_bench") as url:
            label = f"PostgreSQL (scratch database), median of {args.runs} runs"
            print_table(label, measure("postgresql", url, questions=args.questions, votes=args.votes, runs=args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

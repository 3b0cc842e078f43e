"""A 1,000-recipient evaluation-reminder DM fan-out against the local Slack double.

The double limits chat.postMessage workspace-wide (a token bucket: `--rate` calls per second,
HTTP 429 with Retry-After beyond it, as Slack does), so no sender can beat N / rate seconds: that
is the floor. The run uses the real code, in process and threaded as `eventbot worker` runs it:
`reminders_slack.plan_reminders` (who and when: users.info for every recipient, rows written to the
outbox 100 at a time) on one thread, and `Sender` passes (claims, sends, records) woken
as rows come in, until nothing is pending. It prints the time from the moment the
reminder is due to the last DM, the floor, their ratio, and the duplicate and missing DMs counted
in the double.

    python bench/reminder_fanout.py [--recipients 1000] [--rate 50] [--threads 8]
                                    [--database-url postgresql://postgres@127.0.0.1:5432/test]

Without --database-url it runs on a fresh SQLite file; with it, on a scratch PostgreSQL database
created on that server (and dropped afterwards). Target: ratio at most 1.15, no duplicates, none
missing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from bot import db
from bot.app import outbox_kinds
from bot.clock import utcnow
from bot.events import people
from bot.events.rules import EventDetails, create_event
from bot.models import Delivery, DeliveryStatus, EventStatus, Reminder, ReminderAudience
from bot.reminders import deliveries
from bot.reminders import slack as reminders_slack
from bot.slack.client import make_web_client  # noqa: E402
from bot.slack.sender import Sender
from bot.workspaces import ensure_workspace  # noqa: E402
from tests.databases import scratch_postgres  # noqa: E402
from tests.slackdouble import SlackDouble  # noqa: E402

TOKEN, TEAM, BOT = "xoxb-bench", "T0BENCH", "U0BOT"
CHANNEL, ORGANISER = "C0BENCH", "U0ORGANISER"
ZONES = ["Europe/London", "Europe/Dublin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]


def prepare(url: str, attendees: list[str]) -> int:
    """A closed event with every attendee enrolled, and a DM reminder due now; returns its id."""
    db.upgrade(url)
    engine = db.make_engine(url)
    now = utcnow()
    with db.unit_of_work(db.make_session_factory(engine)) as session:
        workspace = ensure_workspace(session, team_id=TEAM)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=ORGANISER,
                             details=EventDetails(title="Fan-out", starts_at=now - timedelta(hours=1, minutes=1),
                                                  ends_at=now - timedelta(minutes=1), timezone="Europe/London",
                                                  evaluation_form_url="https://forms.example.org/e", chairs=(),
                                                  presenters=()))
        people.add_attendees(session, event=event, slack_user_ids=attendees)
        event.status = EventStatus.CLOSED
        reminder = Reminder(event_id=event.id, when_spec="at close", due_at=now, audience=ReminderAudience.DIRECT_MESSAGE,
                            only_incomplete=True, text="Please fill in the evaluation form: https://forms.example.org/e",
                            grace_minutes=360)
        session.add(reminder)
        session.flush()
        reminder_id = reminder.id
    engine.dispose()
    return reminder_id


def run(url: str, *, recipients: int, rate: int, threads: int) -> dict[str, float]:
    attendees = [f"U0R{n:06d}" for n in range(recipients)]
    slack = SlackDouble(team_id=TEAM, bot_token=TOKEN, bot_user_id=BOT).start()
    try:
        slack.add_user(ORGANISER, "organiser")
        for n, user in enumerate(attendees):
            slack.add_user(user, f"person{n}", tz=ZONES[n % len(ZONES)])
        slack.add_channel(CHANNEL, "bench", members=[ORGANISER, *attendees])
        reminder_id = prepare(url, attendees)
        slack.rate_limit("chat.postMessage", per="workspace", calls=rate, period=1)

        engine = db.make_engine(url)
        database = db.make_session_factory(engine)
        client = make_web_client(token=TOKEN, base_url=slack.api_url)
        # The sender is told the workspace's limit (EVENTBOT_POSTS_PER_MINUTE), as an operator would.
        sender = Sender(database, client, outbox_kinds(), threads=threads, posts_per_minute=rate * 60)
        rows_in = threading.Event()
        fan_out_done: list[float] = []

        def plan() -> None:  # what the scheduler's plan-reminders job does, on its own thread
            reminders_slack.plan_reminders(database, client, now=utcnow(), bot_user_id=BOT, on_rows=rows_in.set)
            fan_out_done.append(time.monotonic())
            rows_in.set()

        started = time.monotonic()
        planner = threading.Thread(target=plan, name="plan-reminders")
        planner.start()
        deadline = started + 20 * recipients / rate + 60
        while time.monotonic() < deadline:
            rows_in.wait(timeout=0.1)  # what the deliver-reminders job does when woken, or on its tick
            rows_in.clear()
            sender.deliver_due()
            if not fan_out_done:
                continue
            with db.unit_of_work(database) as session:
                pending = session.scalar(select(Delivery.id).where(
                    Delivery.reminder_id == reminder_id, Delivery.status == DeliveryStatus.PENDING).limit(1))
            if pending is None:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        planner.join()
        fanned_out = fan_out_done[0]
        with db.unit_of_work(database) as session:
            statuses = dict(session.execute(
                select(Delivery.status, text("count(*)")).where(Delivery.reminder_id == reminder_id)
                .group_by(Delivery.status)).all())
        engine.dispose()

        counts = [len(slack.dms(user)) for user in attendees]
        limited = sum(1 for call in slack.calls_to("chat.postMessage") if call.status == 429)
        floor = recipients / rate
        # The double's bucket starts full, so the first `rate` calls cost no wait: strictly, no
        # sender can finish before (N - rate) / rate seconds.
        strict_floor = max(recipients - rate, 0) / rate
        return {
            "strict_floor": strict_floor,
            "strict_ratio": elapsed / strict_floor if strict_floor else float("nan"),
            "elapsed": elapsed,
            "fan_out": fanned_out - started,
            "floor": floor,
            "ratio": elapsed / floor,
            "duplicates": sum(n - 1 for n in counts if n > 1),
            "missing": sum(1 for n in counts if n == 0),
            "sent_rows": statuses.get(DeliveryStatus.SENT, 0),
            "limited": limited,
            "pauses": sender.pacer.pauses,
            "internal_errors": len(slack.internal_errors),
        }
    finally:
        slack.stop()


def report(name: str, figures: dict[str, float], *, recipients: int, rate: int, threads: int) -> None:
    print(f"{name}: {recipients} DMs, chat.postMessage limited to {rate}/s workspace-wide, {threads} sender threads")
    print(f"  time taken        {figures['elapsed']:7.2f} s   (from due to the last DM; the fan-out, "
          f"{recipients} users.info included, was done after {figures['fan_out']:.2f} s)")
    print(f"  floor             {figures['floor']:7.2f} s   (recipients / rate)")
    print(f"  ratio             {figures['ratio']:7.3f}     (target <= 1.15)")
    print(f"  strict floor      {figures['strict_floor']:7.2f} s   (the bucket starts full: the first {rate} are free); "
          f"ratio to it {figures['strict_ratio']:.3f}")
    print(f"  duplicates        {figures['duplicates']:7d}")
    print(f"  missing           {figures['missing']:7d}")
    print(f"  rows sent         {figures['sent_rows']:7d}   429s answered: {figures['limited']}, "
          f"process-wide pauses: {figures['pauses']}, double errors: {figures['internal_errors']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=50, help="chat.postMessage calls per second, workspace-wide")
    parser.add_argument("--threads", type=int, default=deliveries.SENDER_THREADS)
    parser.add_argument("--database-url", help="also run on PostgreSQL (a scratch database on this server)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    ok = True
    with tempfile.TemporaryDirectory() as workdir:
        targets = [("SQLite", nullcontext(f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"))]
        if args.database_url:
            targets.append(("PostgreSQL", scratch_postgres(args.database_url, prefix="eventbot_bench")))
        for name, database in targets:
            with database as url:
                figures = run(url, recipients=args.recipients, rate=args.rate, threads=args.threads)
            report(name, figures, recipients=args.recipients, rate=args.rate, threads=args.threads)
            ok = ok and figures["ratio"] <= 1.15 and not figures["duplicates"] and not figures["missing"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

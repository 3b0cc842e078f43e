"""A national webinar's evaluation reminder: one DM to each of 5,000 people in a live event's channel,
against the local Slack double with Slack's documented rate limits in force.

The double applies every method's documented tier (conversations.members Tier 4, users.list Tier 2,
users.info Tier 4, ... as calls a minute, workspace-wide) and chat.postMessage's special limits:
about one a second in any one channel, and `--per-minute` across the workspace (Slack says "several
hundred messages per minute"), each a token bucket answering 429 with Retry-After beyond it. The
app's sender is told the same workspace pace (EVENTBOT_POSTS_PER_MINUTE), so it should pace itself
and meet no 429.

The real code runs in process, threaded as `eventbot worker` runs it: `plan_reminders` on one
thread (enrolling the channel's members from pages of conversations.members, reading their profiles
from pages of users.list, writing outbox rows as each page comes) and `Sender` passes woken as rows
come in. It prints:

* the time from the moment the reminder is due to the first DM (target: at most 30 s);
* the time to the last DM, the floor the workspace limit sets (recipients / rate) and their ratio
  (target: at most 1.1);
* the 429s the double answered (chat.postMessage and the rest), the calls each method took,
  duplicate and missing DMs.

    python bench/large_audience.py [--recipients 5000] [--per-minute 600] [--threads 8]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot import db  # noqa: E402
from bot.app import outbox_kinds  # noqa: E402
from bot.clock import utcnow  # noqa: E402
from bot.events.rules import EventDetails, create_event  # noqa: E402
from bot.models import Delivery, DeliveryStatus, EventStatus, Reminder, ReminderAudience  # noqa: E402
from bot.outbox import SENDER_THREADS  # noqa: E402
from bot.reminders import slack as reminders_slack  # noqa: E402
from bot.slack.client import make_web_client  # noqa: E402
from bot.slack.sender import POSTS_PER_MINUTE, Sender  # noqa: E402
from bot.workspaces import ensure_workspace  # noqa: E402
from tests.databases import scratch_postgres  # noqa: E402
from tests.slackdouble import SlackDouble  # noqa: E402

TOKEN, TEAM, BOT = "xoxb-bench", "T0BENCH", "U0BOT"
CHANNEL, ORGANISER = "C0NATIONAL", "U0ORGANISER"
ZONES = ["Europe/London", "Europe/Dublin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]
FIRST_DM_TARGET, RATIO_TARGET = 30.0, 1.1
# The sender paces itself at the workspace's limit; a post held up on a busy machine can still reach
# the double together with the next ones and meet a 429 (each costs a second's pause). More than
# this share of posts refused would mean it is being throttled, not pacing itself.
LIMITED_AT_MOST = 0.01


def prepare(url: str) -> int:
    """A live event nobody is enrolled in yet (the fan-out enrols the channel), and a DM reminder due now."""
    db.upgrade(url)
    engine = db.make_engine(url)
    now = utcnow()
    with db.unit_of_work(db.make_session_factory(engine)) as session:
        workspace = ensure_workspace(session, team_id=TEAM)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=ORGANISER,
                             details=EventDetails(title="National webinar", starts_at=now - timedelta(minutes=30),
                                                  ends_at=now + timedelta(minutes=30), timezone="Europe/London",
                                                  evaluation_form_url="https://forms.example.org/e", chairs=(),
                                                  presenters=()))
        event.status = EventStatus.LIVE
        reminder = Reminder(event_id=event.id, when_spec=f"{now:%Y-%m-%d %H:%M}", due_at=now,
                            audience=ReminderAudience.DIRECT_MESSAGE, only_incomplete=True,
                            text="Please fill in the evaluation form: https://forms.example.org/e", grace_minutes=360)
        session.add(reminder)
        session.flush()
        reminder_id = reminder.id
    engine.dispose()
    return reminder_id


def run(url: str, *, recipients: int, per_minute: int, threads: int) -> dict[str, float]:
    attendees = [f"U0N{n:06d}" for n in range(recipients)]
    rate = per_minute / 60.0
    slack = SlackDouble(team_id=TEAM, bot_token=TOKEN, bot_user_id=BOT).start()
    try:
        slack.add_user(ORGANISER, "organiser")
        for n, user in enumerate(attendees):
            slack.add_user(user, f"person{n}", tz=ZONES[n % len(ZONES)])
        slack.add_channel(CHANNEL, "national-webinar", members=[ORGANISER, *attendees])
        reminder_id = prepare(url)
        slack.apply_documented_rate_limits()
        slack.rate_limit("chat.postMessage", per="channel", calls=1, period=1)
        slack.rate_limit("chat.postMessage", per="workspace", calls=max(1, round(rate)), period=1)

        engine = db.make_engine(url)
        database = db.make_session_factory(engine)
        client = make_web_client(token=TOKEN, base_url=slack.api_url)
        sender = Sender(database, client, outbox_kinds(), threads=threads, posts_per_minute=per_minute)
        rows_in = threading.Event()
        fan_out_done: list[float] = []

        def plan() -> None:  # what the scheduler's plan-reminders job does, on its own thread
            reminders_slack.plan_reminders(database, client, now=utcnow(), bot_user_id=BOT, on_rows=rows_in.set)
            fan_out_done.append(time.monotonic())
            rows_in.set()

        started = time.monotonic()  # the double's clock too
        planner = threading.Thread(target=plan, name="plan-reminders")
        planner.start()
        deadline = started + 3 * recipients / rate + 120
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
        planner.join()
        engine.dispose()

        posts = [c for c in slack.calls_to("chat.postMessage") if c.status == 200]
        counts = [len(slack.dms(user)) for user in attendees]
        limited = Counter(c.method for c in slack.calls if c.status == 429)
        methods = Counter(c.method for c in slack.calls)
        first, last = (min(c.time for c in posts) - started, max(c.time for c in posts) - started) if posts else (0, 0)
        floor = recipients / rate
        return {
            "first": first,
            "elapsed": last,
            "fan_out": fan_out_done[0] - started if fan_out_done else float("nan"),
            "floor": floor,
            "ratio": last / floor,
            "duplicates": sum(n - 1 for n in counts if n > 1),
            "missing": sum(1 for n in counts if n == 0),
            "posts_limited": limited.get("chat.postMessage", 0),
            "others_limited": sum(limited.values()) - limited.get("chat.postMessage", 0),
            "members_calls": methods.get("conversations.members", 0),
            "users_list_calls": methods.get("users.list", 0),
            "users_info_calls": methods.get("users.info", 0),
            "post_waits": sender.pacer.post_waits,
            "internal_errors": len(slack.internal_errors),
        }
    finally:
        slack.stop()


def report(name: str, f: dict[str, float], *, recipients: int, per_minute: int, threads: int) -> None:
    print(f"{name}: {recipients} DMs to a live event's channel; Slack's tiers in force, chat.postMessage "
          f"1/s a channel and {per_minute}/min workspace-wide; the sender paced at {per_minute}/min, {threads} threads")
    print(f"  first DM          {f['first']:8.2f} s   after the due time (target <= {FIRST_DM_TARGET:.0f} s)")
    print(f"  last DM           {f['elapsed']:8.2f} s   (rows all written after {f['fan_out']:.2f} s)")
    print(f"  floor             {f['floor']:8.2f} s   (recipients / workspace rate)")
    print(f"  ratio             {f['ratio']:8.3f}     (target <= {RATIO_TARGET})")
    print(f"  429s              {f['posts_limited']:8d}     chat.postMessage ({100 * f['posts_limited'] / recipients:.2f}% "
          f"of posts, at most {100 * LIMITED_AT_MOST:.0f}%); {f['others_limited']} for other methods; "
          f"posts that waited their turn: {f['post_waits']}")
    print(f"  Slack calls       conversations.members {f['members_calls']}, users.list {f['users_list_calls']}, "
          f"users.info {f['users_info_calls']}")
    print(f"  duplicates        {f['duplicates']:8d}")
    print(f"  missing           {f['missing']:8d}      double errors: {f['internal_errors']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--per-minute", type=int, default=POSTS_PER_MINUTE,
                        help="chat.postMessage calls a minute, workspace-wide (the double's limit and the app's pace)")
    parser.add_argument("--threads", type=int, default=SENDER_THREADS)
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
                figures = run(url, recipients=args.recipients, per_minute=args.per_minute, threads=args.threads)
            report(name, figures, recipients=args.recipients, per_minute=args.per_minute, threads=args.threads)
            ok = (ok and figures["first"] <= FIRST_DM_TARGET and figures["ratio"] <= RATIO_TARGET
                  and not figures["duplicates"] and not figures["missing"]
                  and figures["posts_limited"] <= LIMITED_AT_MOST * args.recipients)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

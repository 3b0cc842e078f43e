"""A Q&A burst shaped like a 300-attendee session, against `eventbot serve` and a bare Bolt app.

150 questions and 3,000 upvote clicks within 60 seconds, sent as signed requests built by the local
Slack double, which runs in a process of its own (bench/slack_elsewhere.py) so that the calls eventbot
makes to Slack do not share the GIL of the threads timing its acks. Prints p50/p99 acknowledgement times for eventbot on SQLite (and PostgreSQL with
--database-url) and for a bare Bolt app that only acks, measured in the same run, with the ratio.

    python bench/qa_burst.py [--seconds 60] [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.slack_elsewhere import SlackElsewhere  # noqa: E402
from bot import db  # noqa: E402
from bot.clock import utcnow
from bot.events.rules import EventDetails, create_event
from bot.models import EventStatus
from bot.workspaces import ensure_workspace  # noqa: E402
from tests.databases import scratch_postgres  # noqa: E402
from tests.slackdouble.driver import send_raw_http  # noqa: E402

TOKEN, SECRET, TEAM, BOT = "xoxb-bench", "0123456789abcdef", "T0BENCH", "U0BOT"
CHANNEL, CHAIR = "C0BENCH", "U0CHAIR"
ATTENDEES = [f"U0A{n:04d}" for n in range(300)]
QUESTIONS, CLICKS, SENDERS = 150, 3000, 24
SLACK_WAITS_SECONDS = 3.0  # an answer later than this is an error, as Slack counts it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(args: list[str], env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    full_env = {**os.environ, **env, "PORT": str(port), "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    log = (workdir / f"server-{port}.log").open("wb")
    process = subprocess.Popen([sys.executable, *args], env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except urllib.error.HTTPError:
            break  # the bare app answers 404 on /healthz: it is up
        except OSError:
            time.sleep(0.1)
    return process, url + "/slack/events"


def prepare_database(url: str) -> None:
    db.upgrade(url)
    engine = db.make_engine(url)
    now = utcnow()
    from datetime import timedelta

    with db.unit_of_work(db.make_session_factory(engine)) as session:
        workspace = ensure_workspace(session, team_id=TEAM)
        event = create_event(session, workspace_id=workspace.id, channel_id=CHANNEL, organiser_slack_id=CHAIR,
                             details=EventDetails(title="Burst", starts_at=now - timedelta(minutes=5),
                                                  ends_at=now + timedelta(hours=2), timezone="Europe/London",
                                                  evaluation_form_url=None, chairs=(CHAIR,), presenters=()))
        event.status = EventStatus.LIVE
    engine.dispose()


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants (the gunicorn worker)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone in between
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, its_parent in parents.items() if its_parent == parent and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(member, 0.0) for member in tree)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def post_cards_as_eventbot_does(slack: SlackElsewhere) -> None:
    """For the bare app, which posts none: the cards eventbot would post for the same questions.

    Slack sends the whole message with every click, so reading a click costs what its card weighs:
    the bare app gets the same cards, and so the same click payloads, byte for byte but the counts.
    """
    from slack_sdk import WebClient

    from bot.models import QuestionStatus
    from bot.questions.blocks import question_card
    from bot.questions.rules import QuestionCard

    client = WebClient(token=TOKEN, base_url=slack.api_url)
    for n in range(QUESTIONS):
        card = question_card(QuestionCard(
            question_id=n + 1, event_id=1, channel_id=CHANNEL, text=f"Question {n}: how would this work for us?",
            status=QuestionStatus.OPEN, votes=0, askers=(ATTENDEES[n % len(ATTENDEES)],), anonymous_askers=0,
            segment_title=None, presenter_slack_id=None, answer_text=None, merged_into_text=None,
            card_message_ts=None))
        client.chat_postMessage(channel=CHANNEL, text=card.text, blocks=card.blocks)


def burst(slack: SlackElsewhere, seconds: float, *, fake_cards: bool,
          cpu: Callable[[], float]) -> tuple[list[float], int, float]:
    """Send the questions, then the clicks, each at its planned moment; return ack times, errors, and
    the server's CPU seconds over the clicks alone (what one more click costs, card posts aside)."""
    rng = random.Random(7)
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    errors = 0
    ask_window = seconds / 6

    def timed(request: tuple[str, bytes, dict[str, str]], kind: str) -> None:
        nonlocal errors
        response = send_raw_http(*request, timeout=SLACK_WAITS_SECONDS)
        if response.status != 200:
            errors += 1
        else:
            latencies.append(response.elapsed)
            by_kind.setdefault(kind, []).append(response.elapsed * 1000)

    def cards_now() -> list[dict]:
        return [m for m in slack.messages() if any(
            e.get("action_id") == "question_upvote" for b in m.get("blocks") or [] for e in b.get("elements", []))]

    # Built and signed by the double beforehand, as Slack would send them (their response URLs
    # registered there), so this process only sends and times.
    asks = slack.asks([(ATTENDEES[n % len(ATTENDEES)], f"Question {n}: how would this work for us?")
                       for n in range(QUESTIONS)])
    # This process's garbage collector would stop every request in flight while it ran: it waits
    # until the burst is over.
    gc.collect()
    gc.disable()
    begin = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as pool:
        futures = []
        for n, request in enumerate(asks):
            at = begin + n * ask_window / QUESTIONS
            futures.append(pool.submit(lambda at=at, request=request: (
                time.sleep(max(0.0, at - time.monotonic())), timed(request, "ask"))))
        for future in futures:
            future.result()
        if fake_cards:
            post_cards_as_eventbot_does(slack)
        deadline = time.monotonic() + 30
        while True:
            cards = cards_now()
            if len(cards) >= QUESTIONS or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        chosen = []
        for _ in range(CLICKS):
            card = rng.choice(cards)
            value = next(e["value"] for b in card["blocks"] for e in b.get("elements", [])
                         if e.get("action_id") == "question_upvote")
            chosen.append((rng.choice(ATTENDEES), value, card["ts"]))
        clicks = slack.clicks(chosen)
        vote_begin, cpu_before_clicks = time.monotonic(), cpu()
        vote_window = seconds - (vote_begin - begin)
        futures = []
        for n, request in enumerate(clicks):
            at = vote_begin + n * vote_window / CLICKS
            futures.append(pool.submit(lambda at=at, request=request: (
                time.sleep(max(0.0, at - time.monotonic())), timed(request, "vote"))))
        for future in futures:
            future.result()
        # The writes and redraws the last clicks asked for belong to them too.
        time.sleep(2.0)
        click_cpu = cpu() - cpu_before_clicks
    gc.enable()
    for kind, values in by_kind.items():
        print(f"    {kind}: n={len(values)} p50={statistics.median(values):.1f} ms p99={percentile(values, 0.99):.1f} ms",
              file=sys.stderr)
    return latencies, errors, click_cpu


def run_once(label: str, server_args: list[str], database_url: str | None, seconds: float) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="eventbot-bench-"))
    slack = SlackElsewhere(team=TEAM, token=TOKEN, secret=SECRET, bot=BOT, users=[CHAIR, *ATTENDEES],
                           channel=CHANNEL)
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url}
    if database_url:
        prepare_database(database_url)
        env["DATABASE_URL"] = database_url
    process, events_url = start(server_args, env, workdir)
    slack.set_app_url(events_url)
    try:
        started, cpu_before = time.monotonic(), server_cpu_seconds(process.pid)
        latencies, errors, click_cpu = burst(slack, seconds, fake_cards=database_url is None,
                                             cpu=lambda: server_cpu_seconds(process.pid))
        wall, cpu = time.monotonic() - started, server_cpu_seconds(process.pid) - cpu_before
    finally:
        process.terminate()
        process.wait(timeout=20)
        updates = slack.calls_to("chat.update")
        slack.stop()
    ms = [v * 1000 for v in latencies]
    return {"label": label, "requests": len(ms) + errors, "errors": errors, "p50": statistics.median(ms),
            "p99": percentile(ms, 0.99), "wall": wall, "updates": updates,
            "cpu_ms": cpu * 1000 / max(1, len(ms) + errors), "click_cpu_ms": click_cpu * 1000 / CLICKS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database-url", help="also run eventbot on this PostgreSQL server (a scratch database is made)")
    args = parser.parse_args()

    results = [run_once("bare Bolt app (ack only)", [str(ROOT / "bench" / "bare_app.py")], None, args.seconds)]
    sqlite_dir = Path(tempfile.mkdtemp(prefix="eventbot-bench-db-"))
    results.append(run_once("eventbot serve, SQLite", ["-m", "bot.cli", "serve"],
                            f"sqlite:///{sqlite_dir / 'bench.sqlite3'}", args.seconds))
    if args.database_url:
        with scratch_postgres(args.database_url, prefix="eventbot_bench") as url:
            results.append(run_once("eventbot serve, PostgreSQL", ["-m", "bot.cli", "serve"], url, args.seconds))

    baseline = results[0]["p99"]
    print(f"\nQ&A burst: {QUESTIONS} questions + {CLICKS} upvote clicks in {args.seconds:.0f} s, {len(ATTENDEES)} attendees")
    click_baseline = results[0]["click_cpu_ms"]
    print(f"{'server':32} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'p99 ratio':>9} {'chat.update':>11} "
          f"{'cpu ms/req':>10} {'cpu ms/click':>12} {'click ratio':>11}")
    for r in results:
        print(f"{r['label']:32} {r['requests']:>8} {r['errors']:>6} {r['p50']:>8.1f} {r['p99']:>8.1f} "
              f"{r['p99'] / baseline:>9.2f} {r['updates']:>11} {r['cpu_ms']:>10.2f} {r['click_cpu_ms']:>12.2f} "
              f"{r['click_cpu_ms'] / click_baseline:>11.2f}")
    print("targets: p99 at most 1.2 x the bare app's (issue #9), zero errors; "
          "CPU per click at most 1.5 x the bare app's (issue #13)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

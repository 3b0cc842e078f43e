"""Issue #13's load test, on loopback: two web processes and two workers on PostgreSQL, three
workspaces installed through OAuth, a minute of questions, votes and reflections, and a 2,000-DM
fan-out; midway one web process and the worker holding the scheduler are killed (kill -9).

Slack is the local double (tests/slackdouble), one app installed in three workspaces. Its requests
reach the web processes through a round-robin balancer, as a platform's router would send them:
a backend that refuses connections is skipped, and a request that dies with its backend is a 502.
The driver sends a slash command or a click again after a 502 or no answer, as a person would;
Slack itself sends events again (the double does, as Slack does).

    python bench/load_test.py [--seconds 60] [--dms 2000] [--database-url postgresql://postgres@127.0.0.1:5432/test]

Prints requests sent, failures left after retry, p50/p99 acknowledgement times, lost and
duplicated writes and DMs, the scheduler's failover time and each process's peak memory (RSS).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The processes it starts run this checkout's code too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot import db  # noqa: E402
from bot.clock import utcnow  # noqa: E402
from bot.db import unit_of_work  # noqa: E402
from bot.models import (  # noqa: E402
    Event,
    Question,
    Reflection,
    Reminder,
    ReminderAudience,
    ReminderStatus,
    SchedulerLease,
    Vote,
    Workspace,
)
from bot.rehearsal import cast  # noqa: E402
from tests.apprunner import SIGNING_SECRET, RunningApp, kill_9, migrate, start_eventbot  # noqa: E402
from tests.cast import ATTENDEES, CHANNEL  # noqa: E402
from tests.databases import scratch_postgres  # noqa: E402
from tests.slackdouble import SlackDouble  # noqa: E402
from tests.slackdouble.distribution import SlackPlatform  # noqa: E402
from tests.test_installing_in_slack import CLIENT_ID, CLIENT_SECRET, install, run, setup_event  # noqa: E402

TEAMS = ["T0LOADA", "T0LOADB", "T0LOADC"]
CROWD = 120  # extra attendees per workspace in the channel
PEOPLE_EACH = 24  # of them, the ones who ask, vote and reflect, each every 0.5-3 s
UPVOTE = "question_upvote"


# --- the router in front of the web processes ---------------------------------------------------


class Balancer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backends: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.backends = backends  # "127.0.0.1:port"
        self.down: dict[str, float] = {}
        self.turn = itertools.count()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def pick(self) -> list[str]:
        with self.lock:
            start = next(self.turn)
            now = time.monotonic()
            order = [self.backends[(start + n) % len(self.backends)] for n in range(len(self.backends))]
            return [b for b in order if self.down.get(b, 0) < now] or order


class _Forward(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        for backend in self.server.pick():  # type: ignore[attr-defined]
            connection = http.client.HTTPConnection(backend, timeout=10)
            try:
                connection.connect()
            except OSError:
                self.server.down[backend] = time.monotonic() + 5  # type: ignore[attr-defined]
                continue  # refused before anything was sent: the next backend takes it
            try:
                connection.request("POST", self.path, body, headers)
                answer = connection.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                try:
                    self.send_error(502, "the backend died with the request")
                except OSError:
                    pass  # the sender gave up waiting (Slack's 3 s) and hung up first
            finally:
                connection.close()
            return
        self.send_error(503, "no backend answers")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


# --- what the processes use -----------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, frontier = [pid], [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return found


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemoryWatch(threading.Thread):
    """The peak RSS of each process (a web process's largest gunicorn worker, a worker itself)."""

    def __init__(self, processes: dict[str, RunningApp]) -> None:
        super().__init__(daemon=True)
        self.processes = processes
        self.peaks: Counter[str] = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for name, app in self.processes.items():
                if app.process.poll() is None:
                    self.peaks[name] = max(self.peaks[name], max((rss_mb(p) for p in tree(app.process.pid)), default=0))
            time.sleep(0.5)


# --- the load ----------------------------------------------------------------------------------------


class Load:
    def __init__(self, platform: SlackPlatform) -> None:
        self.platform = platform
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.sent = 0
        self.timeouts = 0
        self.failed: list[str] = []
        self.asked: dict[str, str] = {}  # question text -> team
        self.votes: set[tuple[str, str, str]] = set()  # team, question id, voter
        self.reflections: dict[str, str] = {}  # text -> team
        self.seen: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    def send(self, what: str, attempt, *, again_after_timeout: bool) -> bool:  # type: ignore[no-untyped-def]
        """One request, sent again (three tries) when it did not reach a live process: the router
        had no backend (503), or the backend died with it (502, or no answer). A request that timed
        out reached eventbot; a person sends it again only where that is harmless."""
        for _ in range(3):
            response = attempt()
            with self.lock:
                self.sent += 1
                if response.status == 200:
                    self.latencies.append(response.elapsed * 1000)
                    return True
                if response.error == "timeout":
                    self.timeouts += 1
                    if not again_after_timeout:
                        return True  # eventbot has it; the person waits for the card to change
            time.sleep(0.5)
        with self.lock:
            self.failed.append(what)
        return False

    def ask(self, team: str, slack: SlackDouble, user: str, n: int) -> None:
        text = f"{team} question {n} from {user}?"
        if self.send(text, lambda: slack.send_slash_command("/ask", text, user_id=user, channel_id=CHANNEL),
                     again_after_timeout=True):  # the same words twice are one question
            with self.lock:
                self.asked[text] = team

    def cards(self, team: str, slack: SlackDouble) -> list[dict[str, Any]]:
        """The cards a person sees, looked at every 2 s (scanning the channel per click would make
        this driver, not eventbot, the busiest process on the machine)."""
        with self.lock:
            seen_at, cards = self.seen.get(team, (0.0, []))
        if time.monotonic() - seen_at > 2.0:
            cards = [m for m in slack.messages(CHANNEL)
                     if any(e.get("action_id") == UPVOTE for b in m.get("blocks") or [] for e in b.get("elements", []))]
            with self.lock:
                self.seen[team] = (time.monotonic(), cards)
        return cards

    def vote(self, team: str, slack: SlackDouble, user: str, rng: random.Random) -> None:
        cards = self.cards(team, slack)
        with self.lock:
            done = {q for t, q, u in self.votes if t == team and u == user}
        choices = [c for c in cards if _value(c) not in done]
        if not choices:
            return
        card = rng.choice(choices)
        value = _value(card)
        if self.send(f"vote {team} {value} {user}", lambda: slack.send_block_action(
                user_id=user, action_id=UPVOTE, value=value, channel_id=CHANNEL, message_ts=card["ts"]),
                     again_after_timeout=False):  # a second click takes a vote back
            with self.lock:
                self.votes.add((team, value, user))

    def reflect(self, team: str, slack: SlackDouble, prompt_ts: str, user: str, n: int) -> None:
        text = f"{team} reflection {n} from {user}"
        slack.user_posts(user, CHANNEL, text, thread_ts=prompt_ts)  # Slack retries the event itself
        with self.lock:
            self.sent += 1
            self.reflections[text] = team


def _value(card: dict[str, Any]) -> str:
    return next(e["value"] for b in card["blocks"] for e in b.get("elements", []) if e.get("action_id") == UPVOTE)


def crowd(team: str) -> list[str]:
    return [f"U0{team[-1]}CROWD{n:03d}" for n in range(CROWD)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--dms", type=int, default=2000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL server (a scratch database is made and dropped)")
    args = parser.parse_args()
    with scratch_postgres(args.database_url, prefix="eventbot_load") as url:
        return run_load(url, args.seconds, args.dms)


def run_load(url: str, seconds: float, dm_count: int) -> int:
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"eventbot-load-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    migrate(url)
    engine = db.make_engine(url)
    database = db.make_session_factory(engine)
    platform = SlackPlatform(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, signing_secret=SIGNING_SECRET,
                             redirect_urls=[]).start()
    fan_out_team = TEAMS[2]
    for team in TEAMS:
        slack = platform.add_workspace(team, bot_user_id="U0EVENTBOT", bot_id="B0EVENTBOT", team_name=f"Trust {team[-1]}")
        cast(slack)
        for user in crowd(team):
            slack.add_user(user, user.lower(), tz="Europe/London")
            slack.add_member(CHANNEL, user)
    audience = [f"U0FANOUT{n:05d}" for n in range(dm_count)]
    for user in audience:
        platform.workspace(fan_out_team).add_user(user, user.lower(), tz="Europe/London")
        platform.workspace(fan_out_team).add_member(CHANNEL, user)

    env = dict(SLACK_BOT_TOKEN="", SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
               EVENTBOT_TOKEN_KEY=Fernet.generate_key().decode(), LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
    processes: dict[str, RunningApp] = {}
    for name in ("web-1", "web-2"):
        processes[name] = start_eventbot("serve", "--no-scheduler", api_url=platform.api_url, database_url=url,
                                         log_dir=workdir, **env)
    for name in ("worker-1", "worker-2"):
        processes[name] = start_eventbot("worker", api_url=platform.api_url, database_url=url, log_dir=workdir,
                                         wait_for_health=False, **env)
        time.sleep(3)  # worker-1 takes the lease first
    balancer = Balancer([f"127.0.0.1:{processes[n].port}" for n in ("web-1", "web-2")])
    threading.Thread(target=balancer.serve_forever, daemon=True).start()
    memory = MemoryWatch(processes)
    memory.start()
    load = Load(platform)
    try:
        # Install (the browser goes to one web process, as a person's would), set up and start an event.
        platform.redirect_urls.append(processes["web-1"].base_url + "/slack/oauth_redirect")
        platform.set_app_url(balancer.url + "/slack/events")
        prompts: dict[str, str] = {}
        for team in TEAMS:
            slack = platform.workspace(team)
            install(processes["web-1"], platform, team)
            setup_event(slack, f"Load {team}")
            assert "has started" in run(slack, "start")
            run(slack, "prompt improvement")
            prompts[team] = slack.wait_for(lambda s=slack: next((m["ts"] for m in s.messages(CHANNEL)
                                                                if m["text"].startswith("Reflection:")), None), timeout=30)
        # The fan-out: a reminder to everyone in the third workspace's channel, due a few seconds in.
        with unit_of_work(database) as session:
            workspace_id = session.scalar(select(Workspace.id).where(Workspace.team_id == fan_out_team))
            event_id = session.scalar(select(Event.id).where(Event.workspace_id == workspace_id))
            due = utcnow() + timedelta(seconds=10)
            session.add(Reminder(event_id=event_id, when_spec=due.strftime("%Y-%m-%d %H:%M"), due_at=due,
                                 audience=ReminderAudience.DIRECT_MESSAGE, only_incomplete=False,
                                 text="Please fill in the evaluation form", grace_minutes=60,
                                 status=ReminderStatus.SCHEDULED))

        killed_at: float | None = None
        lease_before = None
        begin = time.monotonic()
        rng = random.Random(13)
        counter = itertools.count()

        def person(team: str, user: str, seed: int) -> None:
            mine = random.Random(seed)
            slack = platform.workspace(team)
            while time.monotonic() - begin < seconds:
                roll = mine.random()
                if roll < 0.15:
                    load.ask(team, slack, user, next(counter))
                elif roll < 0.30:
                    load.reflect(team, slack, prompts[team], user, next(counter))
                else:
                    load.vote(team, slack, user, mine)
                time.sleep(mine.uniform(0.5, 3.0))

        people = [threading.Thread(target=person, args=(team, user, rng.random()), daemon=True)
                  for team in TEAMS for user in [*crowd(team)[:PEOPLE_EACH], *ATTENDEES[:4]]]
        for thread in people:
            thread.start()
        time.sleep(seconds / 2)
        with unit_of_work(database) as session:
            lease_before = session.scalar(select(SchedulerLease.holder))
        leader = next(name for name in ("worker-1", "worker-2")
                      if lease_before and f":{processes[name].process.pid}:" in lease_before)
        kill_9(processes["web-1"])
        kill_9(processes[leader])
        killed_at = time.monotonic()
        failover = None
        for thread in people:
            while thread.is_alive():
                thread.join(0.5)
                if failover is None:
                    with unit_of_work(database) as session:
                        holder = session.scalar(select(SchedulerLease.holder))
                    if holder and holder != lease_before:
                        failover = time.monotonic() - killed_at
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with unit_of_work(database) as session:
                holder = session.scalar(select(SchedulerLease.holder))
            if failover is None and holder and holder != lease_before:
                failover = time.monotonic() - killed_at
            fan_out = platform.workspace(fan_out_team)
            if failover is not None and all(fan_out.dms(u) for u in audience) and _settled(database, platform, load):
                break
            time.sleep(1)
        memory.stopping.set()
        return report(database, platform, load, audience, fan_out_team, failover, memory.peaks)
    finally:
        for app in processes.values():
            app.stop()
        balancer.shutdown()
        platform.stop()
        engine.dispose()


def _settled(database: db.Database, platform: SlackPlatform, load: Load) -> bool:
    with unit_of_work(database) as session:
        stored = set(session.scalars(select(Question.text)))
        reflections = session.scalar(select(func.count(Reflection.id))) or 0
    cards = sum(1 for team in TEAMS for m in platform.workspace(team).messages(CHANNEL) if m["text"].startswith("Question: "))
    return set(load.asked) <= stored and cards >= len(stored) and reflections >= len(load.reflections)


def report(database: db.Database, platform: SlackPlatform, load: Load, audience: list[str], fan_out_team: str,
           failover: float | None, peaks: Counter[str]) -> int:
    with unit_of_work(database) as session:
        questions = Counter(session.scalars(select(Question.text)))
        reflections = Counter(session.scalars(select(Reflection.text)))
        team_of = dict(session.execute(select(Workspace.id, Workspace.team_id)).all())
        votes = {(team_of[w], str(q), u) for w, q, u in session.execute(
            select(Event.workspace_id, Vote.question_id, Vote.person_id.label("u")).join(Question, Question.id == Vote.question_id)
            .join(Event, Event.id == Question.event_id))}
        vote_count = session.scalar(select(func.count(Vote.id))) or 0
    cards = Counter(m["text"].removeprefix("Question: ") for team in TEAMS
                    for m in platform.workspace(team).messages(CHANNEL) if m["text"].startswith("Question: "))
    fan_out = platform.workspace(fan_out_team)
    dms = Counter({user: len(fan_out.dms(user)) for user in audience})
    lost = (len([t for t in load.asked if questions[t] == 0]) + len([t for t in load.reflections if reflections[t] == 0])
            + max(0, len(load.votes) - vote_count))
    duplicated = (sum(n - 1 for n in questions.values() if n > 1) + sum(n - 1 for n in reflections.values() if n > 1)
                  + sum(n - 1 for n in cards.values() if n > 1) + sum(n - 1 for n in dms.values() if n > 1))
    missing_dms = sum(1 for n in dms.values() if n == 0)
    del votes
    ms = load.latencies
    ordered = sorted(ms)
    print(f"\nload test: {len(TEAMS)} workspaces, 2 web + 2 workers on PostgreSQL, one web and the scheduler's worker killed midway")
    print(f"requests sent {load.sent}; failures left after retry {len(load.failed)}; timed out (reached eventbot) {load.timeouts}")
    print(f"acknowledgement p50 {statistics.median(ms):.1f} ms, p99 {ordered[int(0.99 * (len(ordered) - 1))]:.1f} ms")
    print(f"questions acknowledged {len(load.asked)}, reflections sent {len(load.reflections)}, votes acknowledged "
          f"{len(load.votes)} (stored {vote_count}); fan-out DMs {sum(dms.values())} of {len(audience)}")
    print(f"lost writes {lost} (questions {sum(1 for t in load.asked if questions[t] == 0)}, reflections "
          f"{sum(1 for t in load.reflections if reflections[t] == 0)}, votes {max(0, len(load.votes) - vote_count)}); "
          f"duplicated writes or DMs {duplicated} (questions {sum(n - 1 for n in questions.values() if n > 1)}, "
          f"cards {sum(n - 1 for n in cards.values() if n > 1)}, DMs {sum(n - 1 for n in dms.values() if n > 1)}); "
          f"DMs missing {missing_dms}")
    print(f"scheduler failover {failover:.1f} s" if failover is not None else "scheduler failover: none seen")
    for name in sorted(peaks):
        print(f"peak RSS {name}: {peaks[name]:.0f} MB")
    for text in [t for t in load.reflections if reflections[t] == 0][:20]:
        # What Slack's double saw of each lost reflection's delivery: its answers, attempt by attempt.
        answers = [(d.payload.get("event_id"), d.response.status)
                   for team in TEAMS for d in platform.workspace(team).deliveries
                   if d.kind == "event" and (d.payload.get("event") or {}).get("text") == text]
        print(f"lost reflection {text!r}: deliveries {answers}", file=sys.stderr)
    web_ok = all(peaks[n] < 150 for n in peaks if n.startswith("web"))
    ok = not load.failed and lost == 0 and duplicated == 0 and missing_dms == 0 and failover is not None and failover < 60
    print("targets: nothing failed after retry, nothing lost or duplicated, failover under 60 s, a web process under 150 MB: "
          + ("met" if ok and web_ok else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

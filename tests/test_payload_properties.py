"""Whatever signed request Slack (or something holding Slack's signing secret) sends, eventbot copes.

One real app (`eventbot serve` on a fresh, migrated database, against the Slack double) with a
live event in a channel is sent generated, correctly signed requests: slash commands, block
actions, view submissions, Events API callbacks and malformed envelopes. Payloads start from the
shapes Slack really sends (/work/shared/slack-reference/payloads) and then lose fields, get
wrong-typed values, odd text (mentions, bidi controls, huge, empty) and stale or tampered
private_metadata.

For every request:

* the HTTP status is never 5xx, and the app answers at all (within Slack's 3 seconds), even to an
  unsigned malformed body;
* the app's log gains no "Traceback": a listener that blew up left the person with nothing;
* a reply the app sent to a response URL, or in a slash command's acknowledgement, is one Slack accepts;
* a view_submission answered with field errors names only the modal's own fields;
* nothing is half-written: every question and reflection has text, every question, reminder and
  vote belongs to a row that exists, an open question has its card; and a request the app refused
  (an error answer) leaves the counts of questions, reflections and reminders as they were, while
  an /ask the app said it posted stored exactly one question.

Each distinct failure (by exception and innermost eventbot frame) is its own assertion class. By
default a property stops at its first failure and shrinks it; EVENTBOT_PROPERTY_ALL_BUGS=1 makes
Hypothesis look on and shrink and report every distinct failure it finds (minutes, not seconds).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text

from bot import db
from bot.events.blocks import SETUP_CALLBACK
from bot.questions import blocks as qb
from bot.questions.digest_blocks import EXPORT_CSV_ACTION, NEXT_PAGE_ACTION, PREVIOUS_PAGE_ACTION
from bot.reflections.blocks import SHARE_REFLECTION_ACTION, SHARE_REFLECTION_CALLBACK
from bot.reminders import blocks as rb
from bot.slack.views import VALUE
from tests.apprunner import BOT_USER_ID, SIGNING_SECRET, TEAM_ID, RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, ORGANISER, PRESENTERS, cast, make_double, seed_programme
from tests.databases import scratch_postgres
from tests.slackdouble import SlackDouble
from tests.slackdouble.blockkit import validate_blocks
from tests.slackdouble.driver import AppResponse
from tests.slackdouble.signing import signature_headers
from tests.test_running_a_session import chair, channel_texts, run_cli

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])

QUIET = "C0QUIETRM1"  # a second channel: an event set up in the modal, not started
OTHER_TEAM = "T0OTHERTEAM"  # a workspace that owns none of the rows
MINARA = PRESENTERS["minara.chowdhury@example.org"]
NO_SUCH_ID = 987654

# Each attempt is a real request, so shrinking many distinct failures takes minutes: by default a
# property stops at its first failure and shrinks that one. EVENTBOT_PROPERTY_ALL_BUGS=1 goes on
# looking (Hypothesis allows ten more seconds) and shrinks and reports every distinct failure found.
ALL_BUGS = os.environ.get("EVENTBOT_PROPERTY_ALL_BUGS", "") not in ("", "0")
PROPERTY = settings(
    max_examples=150 // len(BACKENDS),  # about 150 per property, shared between the database backends
    deadline=None,
    database=None,  # no example database in the work tree; a failure prints its example
    report_multiple_bugs=ALL_BUGS,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


# --------------------------------------------------------------------------------- the running app


class World:
    """The running app, its Slack and database, and the rows generated payloads may refer to."""

    def __init__(self, slack: SlackDouble, app: RunningApp, engine: Engine) -> None:
        self.slack, self.app, self.engine = slack, app, engine
        self.ids: dict[str, list[Any]] = {}
        self.log_offset = 0
        self.replies_seen = 0
        # Which example first left each broken row, so that example (and only it) fails, again on replay.
        self.culprits: dict[str, str] = {}

    def __repr__(self) -> str:  # short in Hypothesis' reports (and without the app's environment)
        return f"World(app on port {self.app.port})"

    # -- sending ------------------------------------------------------------------------------

    def send(self, body: bytes, content_type: str, *, extra: dict[str, str] | None = None) -> AppResponse:
        headers = {"Content-Type": content_type, **signature_headers(SIGNING_SECRET, int(time.time()), body),
                   **(extra or {})}
        return self.slack.send_raw(body, headers)

    def send_form(self, fields: dict[str, str]) -> AppResponse:
        return self.send(urlencode(fields).encode(), "application/x-www-form-urlencoded")

    def send_interaction(self, payload: Any) -> AppResponse:
        return self.send_form({"payload": json.dumps(payload)})

    def send_json(self, envelope: Any) -> AppResponse:
        return self.send(json.dumps(envelope).encode(), "application/json")

    # -- what the fixtures and generated payloads refer to ------------------------------------

    def resolve(self, value: Any) -> Any:
        """Payload with every reference (Ref, DigestValue, ...) made concrete and MISSING keys left out."""
        if hasattr(value, "resolve") and not isinstance(value, type):
            return value.resolve(self)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items() if v is not MISSING}
        if isinstance(value, list):
            return [self.resolve(v) for v in value if v is not MISSING]
        return value

    def new_ts(self) -> str:
        return f"{time.time():.6f}"

    # -- observing ---------------------------------------------------------------------------

    def _activity(self) -> tuple[int, int, int]:
        return (self.app.log_path.stat().st_size, len(self.slack.calls), len(self.slack.response_url_posts))

    def settle(self, *, quiet: float = 0.05, limit: float = 5.0) -> None:
        """Wait until the app has stopped logging and calling Slack (listeners run after the ack)."""
        started = time.monotonic()
        last, still_since = self._activity(), time.monotonic()
        while time.monotonic() - started < limit:
            time.sleep(0.01)
            now = self._activity()
            if now != last:
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since >= quiet:
                return

    def wait_for_reply(self, *, limit: float = 15.0) -> None:
        """Wait for the app's next answer through a response URL: a quiet spell proves nothing on a busy
        machine, where storing an acknowledged question can take longer than any quiet window."""
        deadline = time.monotonic() + limit
        while len(self.slack.response_url_posts) <= self.replies_seen and time.monotonic() < deadline:
            time.sleep(0.01)

    def start_example(self) -> dict[str, int]:
        self.settle()
        self.log_offset = self.app.log_path.stat().st_size
        self.replies_seen = len(self.slack.response_url_posts)
        return self.counts()

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            return {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for table in ("questions", "reflections", "reminders")}

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def invariants(self) -> list[str]:
        problems: list[str] = []
        with self.engine.connect() as connection:
            def rows(sql: str) -> list[Any]:
                return list(connection.execute(text(sql)).all())

            for qid, qtext in rows("SELECT id, text FROM questions"):
                if qtext is None or not qtext.strip():
                    problems.append(f"question {qid} has empty text {qtext!r}")
                elif len(qtext.strip()) > 1000:
                    problems.append(f"question {qid} is {len(qtext.strip())} characters (limit 1000)")
            for rid, rtext in rows("SELECT id, text FROM reflections WHERE deleted_at IS NULL"):
                if rtext is None or not rtext.strip():
                    problems.append(f"reflection {rid} has empty text {rtext!r}")
            for (qid,) in rows("SELECT q.id FROM questions q LEFT JOIN events e ON e.id = q.event_id WHERE e.id IS NULL"):
                problems.append(f"question {qid} belongs to no event")
            for (rid,) in rows("SELECT r.id FROM reminders r LEFT JOIN events e ON e.id = r.event_id WHERE e.id IS NULL"):
                problems.append(f"reminder {rid} belongs to no event")
            for rid, spec, rtext in rows("SELECT id, when_spec, text FROM reminders"):
                if not (spec or "").strip() or not (rtext or "").strip():
                    problems.append(f"reminder {rid} has an empty when ({spec!r}) or text ({rtext!r})")
            for (vid,) in rows("SELECT v.id FROM votes v LEFT JOIN questions q ON q.id = v.question_id WHERE q.id IS NULL"):
                problems.append(f"vote {vid} is for no question")
            for (rid,) in rows("SELECT r.id FROM reflections r LEFT JOIN reflection_prompts p ON p.id = r.prompt_id "
                               "WHERE p.id IS NULL"):
                problems.append(f"reflection {rid} answers no prompt")
            # A card is posted through the outbox after the question is stored: its delivery row
            # is what must exist with the question (failed ones are told to the organisers).
            for (qid,) in rows("SELECT q.id FROM questions q WHERE q.status = 'open' AND q.card_message_ts IS NULL "
                               "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.kind = 'question_card' "
                               "AND d.subject_id = q.id)"):
                problems.append(f"open question {qid} has no card in the channel, nor one on its way")
        return problems

    def new_log(self) -> str:
        with self.app.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode("utf-8", errors="replace")

    def check(self, spec: Any, label: str, response: AppResponse, before: dict[str, int], *, refused: bool = False,
              stored: dict[str, int] | None = None, bad_answer: str | None = None) -> None:
        """Every property for one request; raises a failure class of its own per distinct problem."""
        self.settle()
        log = self.new_log()
        record = first_traceback(log)
        status_bad = response.status == 0 or response.status >= 500
        status = f"HTTP {response.status}" if response.status else f"no answer ({response.error})"
        detail = f"{label}\n  -> {status}, body {response.body[:300]!r}"
        if record is not None:
            kind = ("5xx+" if status_bad else "") + "traceback " + traceback_signature(record)
            raise failure(kind, f"{detail}\n  log:\n{key_lines(record)}")
        if status_bad:
            raise failure(f"{status} without traceback", f"{detail}\n  log tail:\n{log[-1500:]}")
        if bad_answer:
            raise failure(f"answer Slack rejects: {bad_answer.split(':')[0]}", f"{detail}\n  {bad_answer}")
        refused_replies = [p for p in self.slack.response_url_posts[self.replies_seen:] if not p.get("ok")]
        if refused_replies:
            error = refused_replies[0].get("error")
            raise failure(f"reply refused by Slack: {error}", f"{detail}\n  refused reply: {refused_replies[0]}")
        current = self.invariants()
        for problem in current:
            self.culprits.setdefault(problem, repr(spec))
        problems = [p for p in current if self.culprits[p] == repr(spec)]
        if problems:
            raise failure(f"invariant: {re.sub(r'[0-9]+', 'N', problems[0])[:60]}", f"{detail}\n  " + "\n  ".join(problems))
        after = self.counts()
        if refused and after != before:
            raise failure("refused but rows written", f"{detail}\n  counts {before} -> {after}")
        for table, more in (stored or {}).items():
            if after[table] - before[table] != more:
                raise failure(f"said it stored a {table[:-1]} but stored {after[table] - before[table]}",
                              f"{detail}\n  counts {before} -> {after}")


class AppFailure(AssertionError):
    pass


_FAILURE_KINDS: dict[str, type[AppFailure]] = {}


def failure(kind: str, message: str) -> AppFailure:
    """One exception class per kind of failure, so Hypothesis treats each as its own bug."""
    if kind not in _FAILURE_KINDS:
        _FAILURE_KINDS[kind] = type(f"AppFailure{len(_FAILURE_KINDS) + 1}", (AppFailure,), {})
    return _FAILURE_KINDS[kind](f"[{kind}]\n{message}")


_RECORD_START = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.MULTILINE)
_FRAME = re.compile(r'^\s+File "([^"]+)", line (\d+), in (\S+)', re.MULTILINE)
_PROJECT_FILE = re.compile(r"/((?:bot|handlers)/[^/\"]+(?:/[^/\"]+)?\.py)$")


def first_traceback(log: str) -> str | None:
    """The first log record (or gunicorn's own lines) holding a traceback."""
    if "Traceback" not in log:
        return None
    starts = [m.start() for m in _RECORD_START.finditer(log)] or [0]
    where = log.index("Traceback")
    begin = max((s for s in starts if s <= where), default=0)
    end = min((s for s in starts if s > where), default=len(log))
    return log[begin:end]


def _blocks(record: str) -> list[str]:
    return record.split("Traceback (most recent call last):")[1:]


def _exception_line(block: str) -> str:
    """The "Type: message" line that follows a traceback's frames."""
    lines = block.strip("\n").splitlines()
    frames = [i for i, line in enumerate(lines) if _FRAME.match(line)]
    for line in lines[(frames[-1] + 1) if frames else 0:]:
        if line.strip() and not line.startswith((" ", "\t")):
            return line.strip()
    return "?"


def _library_path(path: str) -> str:
    return path.split("site-packages/", 1)[-1] if "site-packages/" in path else path.rsplit("/", 2)[-1]


def traceback_signature(record: str) -> str:
    """Exception type, innermost eventbot frame, and the library frame it finally failed in, if any."""
    blocks = _blocks(record)
    exception = _exception_line(blocks[-1]).split(":")[0]
    ours = None
    for block in reversed(blocks):
        for path, line, function in reversed(_FRAME.findall(block)):
            match = _PROJECT_FILE.search(path)
            if match and "site-packages" not in path:
                ours = f"{match.group(1)}:{line} {function}"
                break
        if ours:
            break
    innermost = _FRAME.findall(blocks[-1])[-1:] or _FRAME.findall(record)[-1:]
    where = f"at {ours}" if ours else "outside eventbot"
    if innermost and ("site-packages" in innermost[0][0] or not _PROJECT_FILE.search(innermost[0][0])):
        where += f" in {_library_path(innermost[0][0])} {innermost[0][2]}"
    return f"{exception} {where}"


def key_lines(record: str) -> str:
    """The record's first line, the eventbot frames (and the last other frame) and each exception."""
    out = [record.splitlines()[0][:200]]
    for block in _blocks(record):
        lines = block.strip("\n").splitlines()
        frame_lines = [i for i, line in enumerate(lines) if _FRAME.match(line)]
        for n, i in enumerate(frame_lines):
            is_ours = "site-packages" not in lines[i] and _PROJECT_FILE.search(_FRAME.match(lines[i]).group(1))  # type: ignore[union-attr]
            if is_ours or n == len(frame_lines) - 1:
                out.append("    " + lines[i].strip())
                if i + 1 < len(lines) and not _FRAME.match(lines[i + 1]):
                    out.append("        " + lines[i + 1].strip()[:200])
        out.append("    " + _exception_line(block)[:300])
    return "\n".join(out)


def _read_ids(engine: Engine, event_id: int, other_event_id: int) -> dict[str, list[Any]]:
    with engine.connect() as c:
        def col(sql: str, **params: Any) -> list[Any]:
            return [row[0] for row in c.execute(text(sql), params).all()]

        return {
            "event": [event_id],
            "other_event": [other_event_id],
            "question": col("SELECT id FROM questions WHERE event_id = :e ORDER BY id", e=event_id),
            "other_question": col("SELECT id FROM questions WHERE event_id = :e ORDER BY id", e=other_event_id),
            "prompt": col("SELECT id FROM reflection_prompts WHERE event_id = :e AND message_ts IS NOT NULL ORDER BY id",
                          e=event_id),
            "unposted_prompt": col("SELECT id FROM reflection_prompts WHERE event_id = :e AND message_ts IS NULL "
                                   "ORDER BY id", e=event_id),
            "prompt_ts": col("SELECT message_ts FROM reflection_prompts WHERE event_id = :e AND message_ts IS NOT NULL "
                             "ORDER BY id", e=event_id),
            "reminder": col("SELECT id FROM reminders WHERE event_id = :e ORDER BY id", e=event_id),
            "reflection_ts": col("SELECT message_ts FROM reflections WHERE message_ts IS NOT NULL ORDER BY id"),
            "card_ts": col("SELECT card_message_ts FROM questions WHERE card_message_ts IS NOT NULL ORDER BY id"),
            "channel": [CHANNEL],
            "quiet_channel": [QUIET],
        }


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("payload-properties")
    slack = make_double()
    slack.start()
    cast(slack)
    slack.add_channel(QUIET, "quiet-room", members=[ORGANISER, CHAIR, *ATTENDEES[:4]])
    with _database(request.param, tmp) as database_url:
        migrate(database_url)
        programme = seed_programme(date.today() + timedelta(days=2), tmp)
        imported = run_cli("event", "import", str(programme), "--channel", CHANNEL, slack=slack,
                           database_url=database_url, cwd=tmp)
        assert imported.returncode == 0, imported.stderr
        app = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp)
        engine = create_engine(database_url) if not database_url.startswith("sqlite") else db.make_engine(database_url)
        try:
            slack.set_app_url(app.events_url)
            world = World(slack=slack, app=app, engine=engine)
            _set_the_scene(world)
            assert "Traceback" not in app.log(), app.log()
            assert world.invariants() == []
            yield world
            assert slack.internal_errors == []
        finally:
            app.stop()
            engine.dispose()
            slack.stop()


def _database(backend: str, tmp: Path):  # type: ignore[no-untyped-def]
    if backend == "postgresql":
        assert POSTGRES_URL is not None
        return scratch_postgres(POSTGRES_URL)

    class _Sqlite:
        def __enter__(self) -> str:
            return f"sqlite:///{tmp / 'eventbot-properties.sqlite3'}"

        def __exit__(self, *exc: object) -> None:
            return None

    return _Sqlite()


def _set_the_scene(world: World) -> None:
    """A started event with question cards, a posted prompt with a reply, and a second event."""
    slack = world.slack
    chair(slack, "start")
    slack.wait_for(lambda: "Now: Welcome and introduction" in channel_texts(slack), timeout=15)
    assert "Posted the" in chair(slack, "prompt improvement")
    for asker, question in zip(ATTENDEES, ["How do we scale this?", "Who owns the data?", "What about equity?"]):
        assert slack.send_slash_command("/ask", question, user_id=asker, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: sum(t.startswith("Question:") for t in channel_texts(slack)) == 3, timeout=15)
    # The outbox records a post's ts just after Slack answers: the prompt's thread and the cards
    # are what generated payloads refer to, so wait until they are recorded.
    prompt_ts = slack.wait_for(lambda: world.scalar("SELECT message_ts FROM reflection_prompts "
                                                    "WHERE message_ts IS NOT NULL"), timeout=15)
    slack.wait_for(lambda: world.scalar("SELECT count(*) FROM questions WHERE card_message_ts IS NOT NULL") == 3,
                   timeout=15)
    event_id = world.scalar("SELECT id FROM events WHERE channel_id = :c", c=CHANNEL)
    slack.user_posts(ATTENDEES[0], CHANNEL, "Small tests of change, shared early.", thread_ts=prompt_ts)
    slack.wait_for(lambda: world.counts()["reflections"] == 1, timeout=10)

    # A second event, set up in the modal in another channel, with a question of its own.
    assert slack.send_slash_command("/event", "setup", user_id=ORGANISER, channel_id=QUIET).status == 200
    view = slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=10)[-1]
    saved = slack.submit_view(view["id"], user_id=ORGANISER, values={
        "title": {"value": "A quiet rehearsal"}, "date": {"value": (date.today() + timedelta(days=9)).isoformat()},
        "start": {"value": "10:00"}, "end": {"value": "11:00"}, "timezone": {"value": "Europe/London"}})
    assert saved.status == 200 and not (saved.json or {}).get("errors"), saved.body
    with world.engine.connect() as c:
        other_event_id = c.execute(text("SELECT id FROM events WHERE channel_id = :c"), {"c": QUIET}).scalar_one()
    assert slack.send_slash_command("/ask", "Is this the quiet room?", user_id=ATTENDEES[1], channel_id=QUIET).status == 200
    slack.wait_for(lambda: world.counts()["questions"] == 4, timeout=10)
    world.settle(quiet=0.3)
    world.ids = _read_ids(world.engine, event_id, other_event_id)
    assert world.ids["question"] and world.ids["other_question"] and world.ids["prompt"] and world.ids["reminder"]


# --------------------------------------------------------------------------------- references


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a key left out of the payload altogether


@dataclass(frozen=True)
class Ref:
    """A row of the running app's world (resolved when sent), e.g. Ref("question", 1, str)."""

    kind: str
    index: int = 0
    as_str: bool = False

    def resolve(self, world: World) -> Any:
        if self.kind == "new_ts":
            return world.new_ts()
        if self.kind == "no_such_id":
            value: Any = NO_SUCH_ID
        else:
            pool = world.ids[self.kind]
            value = pool[self.index % len(pool)] if pool else NO_SUCH_ID
        return str(value) if self.as_str else value

    def __repr__(self) -> str:
        return f"Ref({self.kind!r}, {self.index}{', str' if self.as_str else ''})"


def refs(*kinds: str, as_str: bool = False) -> st.SearchStrategy[Ref]:
    return st.builds(Ref, st.sampled_from(kinds), st.integers(0, 3), st.just(as_str))


# --------------------------------------------------------------------------------- strategies

SPECIALS = [
    "<!channel>", "<!here>", "<!everyone>", "<@U0CHAIR01>", "<@U0CHAIR01|matthew>", "<@W0ENTERPRISE1>",
    "<#C0PROVCOLL|provider-collaboratives>", "<https://x.example|click me>", "<!subteam^S123|@team>",
    "&amp;", "&lt;b&gt;", "<b>", "\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\u200e",
    "\u061c", "\ufeff", "\u200b", "\u3000", "\u00a0", "👩🏽‍⚕️", "e\u0301", "\n", "\r\n", "\t", "*bold*", "_it_",
    "`code`", "```", "> quote", "{form_url}", "{0}", "%s", "aloud", "'; DROP TABLE questions; --", "\\", '"',
]
HUGE_SIZES = [999, 1000, 1001, 2000, 3000, 3001, 4000, 40_000]
BLANKS = ["", " ", "   \n\t ", "\u200b", "\u3000", "\u00a0", "\n\n"]


def texts() -> st.SearchStrategy[str]:
    pieces = st.one_of(st.sampled_from(SPECIALS), st.text(max_size=12))
    composed = st.lists(pieces, max_size=8).map("".join)
    huge = st.tuples(st.sampled_from(["x", "é", "👍", " ", "\u202e", "<!channel>"]), st.sampled_from(HUGE_SIZES)).map(
        lambda t: (t[0] * t[1])[: t[1]] if len(t[0]) == 1 else (t[0] * (t[1] // len(t[0]) + 1))[: t[1]])
    return st.one_of(composed, huge, st.sampled_from(BLANKS), st.text())


KNOWN_USERS = [ATTENDEES[0], ATTENDEES[1], ATTENDEES[5], CHAIR, ORGANISER, MINARA]
ODD_USERS = ["U0NOBODY01", BOT_USER_ID, "U0OTHERBOT", "", "W0ENTERPRISE1"]
users = st.one_of(st.sampled_from(KNOWN_USERS), st.sampled_from(ODD_USERS))
channels = st.sampled_from([CHANNEL, CHANNEL, QUIET, "C0NOSUCHCH", "D0SOMEDM01", "G0PRIVATE1", ""])
teams = st.sampled_from([TEAM_ID, TEAM_ID, TEAM_ID, OTHER_TEAM])
odd_scalars = st.one_of(st.none(), st.integers(-2**70, 2**70), st.booleans(), st.floats(allow_nan=False),
                        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
TRIGGERS = st.sampled_from(["fresh", "fresh", "fresh", "garbage", "missing"])
RESPONSE_URLS = st.sampled_from(["fresh", "fresh", "fresh", "fresh", "missing"])


def _finish_common(world: World, spec: dict[str, Any], user: str, channel: str | None) -> dict[str, Any]:
    """Fresh trigger ids and response URLs (they are single-use), or a broken one, as the spec says."""
    out = dict(spec)
    trigger = out.pop("_trigger", "fresh")
    if trigger == "fresh":
        out["trigger_id"] = world.slack.issue_trigger_id(user if user in KNOWN_USERS else None)
    elif trigger == "garbage":
        out["trigger_id"] = "12345.67890.deadbeef"
    response_url = out.pop("_response_url", None)
    if response_url == "fresh":
        out["response_url"] = world.slack.new_response_url(channel_id=channel or None, user_id=user or None)
    return out


# --- slash commands


SUBCOMMANDS = ["help", "setup", "start", "next", "prompt", "status", "reflections", "questions", "queue",
               "moderator", "approval", "remind", "reminders"]  # not "close": the event must stay live
REST_WORDS = ["on", "off", "improvement", "equity", "next", "collaborative", "all", "open", "answered", "followup",
              "<@U0ATTEND01>", "<@U0ATTEND01> <@U0NOBODY01>", "<@W0AB|x>", "<@U0CHAIR01|x>", "1", "-1", "page 2"]
# Slack always sends user_id, channel_id, response_url and trigger_id with a command; these it may not.
SLASH_FIELDS_TO_DROP = ["text", "user_name", "channel_name", "team_domain", "api_app_id", "token",
                        "is_enterprise_install"]


def _slash(command: str, command_text: str, *, user: str = ATTENDEES[0], trigger: str = "fresh") -> dict[str, Any]:
    return {"command": command, "text": command_text, "user_id": user, "channel_id": CHANNEL, "team_id": TEAM_ID,
            "_trigger": trigger, "_response_url": "fresh", "_drop": []}


# Cases worth trying every run, mixed into what is generated.
SLASH_SPECIALS = [
    _slash("/event", "x" * 3001),  # a long word where the subcommand goes
    _slash("/ask", "", trigger="garbage"),  # the ask form, with a trigger Slack refuses (it expired)
    _slash("/event", "setup", user=ORGANISER, trigger="garbage"),
    _slash("/event", "remind", user=ORGANISER, trigger="garbage"),
]


def slash_commands() -> st.SearchStrategy[dict[str, Any]]:
    generated = _slash_commands()
    return st.one_of(*[generated] * 12, st.sampled_from(SLASH_SPECIALS))


@st.composite
def _slash_commands(draw: st.DrawFn) -> dict[str, Any]:
    command = draw(st.sampled_from(["/ask", "/event"]))
    if command == "/event":
        name = draw(st.one_of(st.sampled_from(SUBCOMMANDS), st.sampled_from(["HELP", "Start", "", " ", "nope", "close?"]),
                              st.text(max_size=10), texts()))
        rest = draw(st.one_of(st.just(""), st.sampled_from(REST_WORDS), texts()))
        command_text = f"{name} {rest}" if rest else name
    else:
        command_text = draw(st.one_of(texts(), st.sampled_from(["aloud", "raise hand", "hand", "ALOUD", " aloud "])))
    return {
        "command": command,
        "text": command_text,
        "user_id": draw(users),
        "channel_id": draw(channels),
        "team_id": draw(teams),
        "_trigger": draw(st.sampled_from(["fresh", "fresh", "fresh", "garbage"])),  # garbage: as if expired
        "_response_url": "fresh",
        "_drop": draw(st.one_of(st.just([]), st.lists(st.sampled_from(SLASH_FIELDS_TO_DROP), max_size=2, unique=True))),
    }


# --- block actions


ACTION_IDS = [qb.UPVOTE, qb.ANSWERED_LIVE, qb.ANSWER_IN_THREAD, qb.FOLLOW_UP, qb.MORE, qb.DISMISS, qb.APPROVE,
              qb.BRING_IN, qb.RAISE_HAND, SHARE_REFLECTION_ACTION, rb.COMPLETED_ACTION, rb.OPEN_FORM_ACTION,
              rb.CHANGE_ACTION, rb.CANCEL_ACTION, PREVIOUS_PAGE_ACTION, NEXT_PAGE_ACTION, EXPORT_CSV_ACTION]
UNKNOWN_ACTION_IDS = ["nope", "question_upvote_", "QUESTION_UPVOTE", "", "actionId-0"]
ODD_VALUES = ["", "0", "-1", "abc", "1.5", " 1", "99999999999999999999999", "next", "null", "[]", "{}", "1e3",
              '{"event_id": "x"}', '{"event_id": null}', '{"event_id": 99999999999999999999}', '{"event_id": []}',
              '{"event_id": 1, "filter": "nope", "page": 1}', '{"event_id": 1, "filter": "all", "page": -5}',
              '{"event_id": 1, "filter": "all", "page": "x"}', '{"event_id": 1, "filter": "all", "page": 1e400}']


@dataclass(frozen=True)
class DigestValue:
    """A question digest button's value, its event id resolved when sent."""

    data: dict[str, Any]

    def resolve(self, world: World) -> str:
        return json.dumps(world.resolve(self.data))


@dataclass(frozen=True)
class CompletedValue:
    """The "I've completed it" button's value for an event."""

    event: Ref

    def resolve(self, world: World) -> str:
        return json.dumps({"event_id": self.event.resolve(world)})


@dataclass(frozen=True)
class OptionValue:
    """An overflow option's value: "dismiss:<question id>" or "merge:<question id>"."""

    verb: str
    question: Ref

    def resolve(self, world: World) -> str:
        return f"{self.verb}:{self.question.resolve(world)}"


@st.composite
def digest_values(draw: st.DrawFn) -> DigestValue:
    return DigestValue({"event_id": draw(st.one_of(refs("event", "other_event", "no_such_id"), odd_scalars)),
                        "filter": draw(st.sampled_from(["open", "answered", "followup", "all", "nope", ""])),
                        "page": draw(st.one_of(st.integers(-3, 10**6), odd_scalars))})


action_values = st.one_of(
    refs("question", "other_question", "prompt", "unposted_prompt", "reminder", "no_such_id", as_str=True),
    st.sampled_from(ODD_VALUES),
    st.builds(CompletedValue, refs("event", "other_event", "no_such_id")),
    digest_values(),
    odd_scalars,
    st.just(MISSING),
    texts(),
)


@st.composite
def selected_options(draw: st.DrawFn) -> Any:
    choice = draw(st.sampled_from(["missing", "missing", "dismiss", "merge", "odd"]))
    if choice == "missing":
        return MISSING
    if choice in ("dismiss", "merge"):
        return {"text": {"type": "plain_text", "text": "x"},
                "value": OptionValue(choice, draw(refs("question", "other_question", "no_such_id")))}
    return draw(st.one_of(odd_scalars, st.sampled_from([{}, {"value": "merge"}, {"value": "dismiss:abc"},
                                                        {"value": "merge:"}, {"value": ":1"}, {"value": 5},
                                                        {"value": None}, "dismiss:1"])))


BLOCK_ACTION_FIELDS_TO_DROP = ["user", "channel", "container", "message", "response_url", "trigger_id", "team",
                               "api_app_id", "token"]


@st.composite
def block_actions(draw: st.DrawFn) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action_id": draw(st.one_of(st.sampled_from(ACTION_IDS), st.sampled_from(UNKNOWN_ACTION_IDS))),
        "block_id": draw(st.sampled_from(["a1b2", "", MISSING])),
        "type": draw(st.sampled_from(["button", "overflow", "static_select", MISSING])),
        "value": draw(action_values),
        "selected_option": draw(selected_options()),
        "action_ts": "1700000000.000100",
    }
    channel = draw(channels)
    return {
        "action": action,
        "user_id": draw(users),
        "channel_id": channel,
        "team_id": draw(teams),
        "message_ts": draw(st.one_of(refs("card_ts", "prompt_ts"), st.sampled_from(["1700000000.000100", ""]))),
        "in_dm": channel.startswith("D"),
        "container_type": draw(st.sampled_from(["message", "message", "view", "message_attachment"])),
        "_trigger": draw(TRIGGERS),
        "_response_url": draw(RESPONSE_URLS),
        "_drop": draw(st.one_of(st.just([]), st.lists(st.sampled_from(BLOCK_ACTION_FIELDS_TO_DROP), max_size=2,
                                                      unique=True))),
        "extra_actions": draw(st.sampled_from([0, 0, 0, 1])),
    }


# --- view submissions


CALLBACKS: dict[str, dict[str, str]] = {  # each modal's input blocks (see bot/slack/*.py) and their element types
    qb.ASK_CALLBACK: {"question": "plain_text_input", "for_presenter": "static_select", "anonymous": "checkboxes"},
    qb.ANSWER_CALLBACK: {"answer": "plain_text_input"},
    qb.DISMISS_CALLBACK: {"reason": "plain_text_input"},
    qb.MERGE_CALLBACK: {"into": "static_select"},
    SETUP_CALLBACK: {"title": "plain_text_input", "date": "datepicker", "start": "timepicker",
                           "end": "timepicker", "timezone": "plain_text_input", "chairs": "multi_users_select",
                           "presenters": "multi_users_select", "evaluation_form_url": "plain_text_input"},
    SHARE_REFLECTION_CALLBACK: {"reflection": "plain_text_input", "anonymous": "checkboxes"},
    rb.REMIND_CALLBACK: {"when": "plain_text_input", "audience": "radio_buttons", "only_incomplete": "checkboxes",
                         "text": "plain_text_input"},
}
METADATA: dict[str, dict[str, Any]] = {  # the private_metadata each modal is opened with
    qb.ASK_CALLBACK: {"channel_id": Ref("channel")},
    qb.ANSWER_CALLBACK: {"question_id": Ref("question")},
    qb.DISMISS_CALLBACK: {"question_id": Ref("question")},
    qb.MERGE_CALLBACK: {"question_id": Ref("question")},
    SETUP_CALLBACK: {"channel_id": Ref("channel"), "event_id": Ref("event")},
    SHARE_REFLECTION_CALLBACK: {"prompt_id": Ref("prompt")},
    rb.REMIND_CALLBACK: {"channel_id": Ref("channel"), "event_id": Ref("event"), "reminder_id": None},
}
FIELD_TEXT = {  # plausible and implausible things typed into particular fields
    "when": ["at close", "2 hours after", "next day 10:00", "2031-03-28 16:30", "yesterday", "25:99", "next day 25:00",
             "2031-02-30 10:00", "0 hours after", "-2 hours after", "99999999 hours after", "10000-01-01 10:00"],
    "timezone": ["Europe/London", "UTC", "America/New_York", "Mars/Olympus", "", "../../etc/passwd", "europe/london",
                 "Etc/GMT+14", "local"],
    "evaluation_form_url": ["https://forms.example.org/e", "javascript:alert(1)", "not a url", "", "http://x",
                            "https://" + "a" * 2100],
}
ELEMENT_VALUES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "plain_text_input": st.builds(lambda v: {"value": v}, st.one_of(texts(), st.none())),
    "datepicker": st.builds(lambda v: {"selected_date": v}, st.one_of(
        st.sampled_from(["2031-03-28", (date.today() + timedelta(days=3)).isoformat(), "2031-02-30", "", "0001-01-01",
                         "9999-12-31", "yesterday", "28/03/2031"]), st.none())),
    "timepicker": st.builds(lambda v: {"selected_time": v}, st.one_of(
        st.sampled_from(["14:00", "15:30", "09:00", "25:00", "", "9:5", "14:00:00", "23:59", "00:00"]), st.none())),
    "multi_users_select": st.builds(lambda v: {"selected_users": v}, st.one_of(
        st.lists(st.sampled_from(KNOWN_USERS + ODD_USERS), max_size=3), st.none())),
    "static_select": st.builds(lambda v: {"selected_option": v}, st.one_of(
        st.none(), st.builds(lambda r: {"text": {"type": "plain_text", "text": "x"}, "value": r},
                             st.one_of(refs("question", "other_question", "no_such_id", as_str=True),
                                       st.sampled_from([MINARA, CHAIR, "U0NOBODY01", "abc", "", "-1",
                                                        "99999999999999999999999"]))))),
    "radio_buttons": st.builds(lambda v: {"selected_option": v}, st.one_of(
        st.none(), st.builds(lambda v: {"text": {"type": "plain_text", "text": "x"}, "value": v},
                             st.sampled_from(["dm", "channel", "sms", ""])))),
    "checkboxes": st.builds(lambda v: {"selected_options": v}, st.lists(
        st.builds(lambda v: {"text": {"type": "plain_text", "text": "x"}, "value": v},
                  st.sampled_from(["anonymous", "only_incomplete", "other"])), max_size=2)),
}


@st.composite
def field_state(draw: st.DrawFn, block_id: str, kind: str) -> Any:
    """One entry of view.state.values: as Slack sends it, or missing, mistyped or misshapen."""
    shape = draw(st.sampled_from(["good", "good", "good", "missing", "wrong_value_type", "wrong_element_type",
                                  "not_a_dict", "other_action_id"]))
    if shape == "missing":
        return MISSING
    if kind == "plain_text_input" and block_id in FIELD_TEXT and draw(st.booleans()):
        selection = {"value": draw(st.sampled_from(FIELD_TEXT[block_id]))}
    else:
        selection = draw(ELEMENT_VALUES[kind])
    element = {"type": kind, **selection}
    if shape == "wrong_value_type":
        element[next(iter(selection))] = draw(odd_scalars)
    elif shape == "wrong_element_type":
        element["type"] = draw(st.sampled_from(["plain_text_input", "checkboxes", "static_select", "datepicker",
                                                "multi_users_select", "rich_text_input", "nope"]))
    elif shape == "not_a_dict":
        return {VALUE: draw(st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2), st.none()))}
    elif shape == "other_action_id":
        return {"something_else": element}
    return {VALUE: element}


@dataclass(frozen=True)
class MetadataJson:
    data: dict[str, Any]

    def resolve(self, world: World) -> str:
        return json.dumps(world.resolve(self.data))


@st.composite
def private_metadata(draw: st.DrawFn, callback_id: str) -> Any:
    good = dict(METADATA.get(callback_id, {"channel_id": Ref("channel")}))
    shape = draw(st.sampled_from(["good", "good", "stale_ids", "wrong_types", "missing_keys", "invalid_json",
                                  "not_an_object", "empty", "absent"]))
    if shape == "good":
        return MetadataJson(good)
    if shape == "stale_ids":  # the modal was opened for something since gone, or elsewhere
        stale = {
            "channel_id": draw(st.sampled_from([Ref("quiet_channel"), "C0NOSUCHCH", "D0SOMEDM01"])),
            "question_id": draw(refs("other_question", "no_such_id")),
            "event_id": draw(st.one_of(refs("other_event", "no_such_id"), st.none())),
            "prompt_id": draw(refs("unposted_prompt", "no_such_id")),
            "reminder_id": draw(st.one_of(refs("reminder", "no_such_id"), st.none())),
        }
        return MetadataJson({k: stale[k] if draw(st.booleans()) else v for k, v in good.items()})
    if shape == "wrong_types":
        return MetadataJson({k: draw(st.one_of(odd_scalars, st.text(max_size=5))) for k in good})
    if shape == "missing_keys":
        keep = draw(st.lists(st.sampled_from(sorted(good)), max_size=max(0, len(good) - 1), unique=True))
        return MetadataJson({k: good[k] for k in keep})
    if shape == "invalid_json":
        return draw(st.sampled_from(["{", "not json", "{'channel_id': 'C1'}", '{"question_id": 1', "\x00"]))
    if shape == "not_an_object":
        return draw(st.sampled_from(["[]", "1", "null", '"C0PROVCOLL"', "true", "[1, 2]"]))
    if shape == "empty":
        return ""
    return MISSING


@st.composite
def view_submissions(draw: st.DrawFn) -> dict[str, Any]:
    callback_id = draw(st.one_of(st.sampled_from(sorted(CALLBACKS)), st.sampled_from(["nope", "", "question_ask "])))
    blocks = CALLBACKS.get(callback_id, {"question": "plain_text_input"})
    values = {block_id: draw(field_state(block_id, kind)) for block_id, kind in blocks.items()}
    if draw(st.integers(0, 9)) == 0:
        values["surprise_block"] = {VALUE: {"type": "plain_text_input", "value": "hello"}}
    state_shape = draw(st.sampled_from(["good"] * 8 + ["no_state", "no_values", "values_list"]))
    state: Any = {"good": {"values": values}, "no_state": MISSING, "no_values": {},
                  "values_list": {"values": [values]}}[state_shape]
    return {
        "callback_id": callback_id,
        "private_metadata": draw(private_metadata(callback_id)),
        "state": state,
        "user_id": draw(users),
        "team_id": draw(teams),
        "_trigger": "fresh",
        "_drop": draw(st.one_of(st.just([]), st.lists(st.sampled_from(["user", "team", "trigger_id", "api_app_id"]),
                                                      max_size=1))),
    }


# --- Events API


EVENT_KINDS = ["thread_reply", "thread_reply", "message", "message_changed", "message_deleted", "other_subtype",
               "member_joined_channel", "app_home_opened", "app_mention", "unknown_type"]
EVENT_SPECIALS = [
    {  # someone empties their thread reply to a prompt (only a file is left, say)
        "event": {"type": "message", "subtype": "message_changed", "channel": CHANNEL, "hidden": True,
                  "message": {"type": "message", "user": ATTENDEES[0], "text": "", "ts": Ref("reflection_ts"),
                              "thread_ts": Ref("prompt_ts")},
                  "ts": Ref("new_ts"), "event_ts": Ref("new_ts")},
        "team_id": TEAM_ID, "event_id": "fresh",
    },
]


def event_callbacks() -> st.SearchStrategy[dict[str, Any]]:
    generated = _event_callbacks()
    return st.one_of(*[generated] * 12, st.sampled_from(EVENT_SPECIALS))


@st.composite
def _event_callbacks(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(EVENT_KINDS))
    # Mostly what Slack sends, sometimes a field missing or of the wrong type.
    user = draw(st.one_of(users, users, users, st.just(MISSING), odd_scalars))
    channel = draw(st.one_of(st.sampled_from([CHANNEL, CHANNEL, QUIET, "D0SOMEDM01"]), st.just(MISSING), odd_scalars))
    message_text = draw(st.one_of(texts(), texts(), st.just(MISSING), odd_scalars))
    thread_ts = draw(st.one_of(refs("prompt_ts"), refs("prompt_ts", "reflection_ts", "card_ts"), st.sampled_from(
        ["1700000000.000100", "", "same_as_ts", "not-a-ts"]), st.just(MISSING), odd_scalars))
    if kind in ("message_changed", "message_deleted"):
        ts = draw(st.one_of(refs("reflection_ts"), refs("reflection_ts"), st.just(Ref("new_ts")), st.just(MISSING),
                            odd_scalars))
    else:
        ts = draw(st.one_of(st.just(Ref("new_ts")), st.just(Ref("new_ts")), refs("reflection_ts"), st.just(MISSING),
                            odd_scalars))
    event: dict[str, Any]
    if kind in ("thread_reply", "message", "app_mention"):
        event = {"type": "message" if kind != "app_mention" else "app_mention", "channel": channel, "user": user,
                 "text": message_text, "ts": ts, "team": TEAM_ID, "channel_type": "channel",
                 "client_msg_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
                 "thread_ts": thread_ts if kind != "message" else MISSING,
                 "blocks": [{"type": "rich_text", "block_id": "x1", "elements": []}]}
        if kind == "thread_reply" and draw(st.booleans()):
            event["bot_id"] = draw(st.sampled_from(["B0OTHER", "BBOT", None, ""]))
    elif kind == "message_changed":
        inner = {"type": "message", "user": user, "text": message_text, "ts": ts, "thread_ts": thread_ts,
                 "edited": {"user": "U0ATTEND01", "ts": "1700000001.000000"}}
        event = {"type": "message", "subtype": "message_changed", "channel": channel, "hidden": True,
                 "message": draw(st.one_of(st.just(inner), st.just(inner), st.just(MISSING), odd_scalars)),
                 "previous_message": {"type": "message", "user": "U0ATTEND01", "text": "before", "ts": ts},
                 "ts": Ref("new_ts"), "event_ts": Ref("new_ts")}
    elif kind == "message_deleted":
        event = {"type": "message", "subtype": "message_deleted", "channel": channel, "hidden": True,
                 "deleted_ts": ts, "ts": Ref("new_ts"), "event_ts": Ref("new_ts"),
                 "previous_message": {"type": "message", "user": "U0ATTEND01", "text": "before", "ts": ts}}
    elif kind == "other_subtype":
        event = {"type": "message", "subtype": draw(st.sampled_from(["bot_message", "channel_join", "thread_broadcast",
                                                                      "file_share", "me_message", "channel_topic"])),
                 "channel": channel, "user": user, "text": message_text, "ts": ts, "thread_ts": thread_ts}
    elif kind == "member_joined_channel":
        event = {"type": "member_joined_channel", "user": user, "channel": channel, "channel_type": "C",
                 "team": TEAM_ID, "inviter": CHAIR, "event_ts": Ref("new_ts")}
    elif kind == "app_home_opened":
        event = {"type": "app_home_opened", "user": user, "channel": "D0SOMEDM01",
                 "tab": draw(st.sampled_from(["home", "messages"])), "event_ts": Ref("new_ts")}
    else:
        event = {"type": draw(st.sampled_from(["reaction_added", "nope", ""])), "user": user, "event_ts": Ref("new_ts")}
    if event.get("thread_ts") == "same_as_ts":
        event["thread_ts"] = ts
    drop = draw(st.one_of(st.just([]), st.lists(st.sampled_from(sorted(event)), max_size=2, unique=True)))
    return {"event": {k: v for k, v in event.items() if k not in drop}, "team_id": draw(teams),
            "event_id": draw(st.sampled_from(["fresh", "fresh", "fresh", "missing"]))}


# --- envelopes Slack would never send, but a signed request could carry


def _form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


FORM = "application/x-www-form-urlencoded"
ENVELOPES: list[tuple[str, bytes]] = [
    ("application/json", b"{}"),
    ("application/json", b"[]"),
    ("application/json", b"null"),
    ("application/json", b'"event_callback"'),
    ("application/json", b"{not json"),
    ("application/json", b""),
    ("application/json", json.dumps({"type": "event_callback"}).encode()),
    ("application/json", json.dumps({"type": "event_callback", "event": "message"}).encode()),
    ("application/json", json.dumps({"type": "event_callback", "event": {}}).encode()),
    ("application/json", json.dumps({"type": "event_callback", "event": None, "event_id": "Ev1"}).encode()),
    ("application/json", json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event_id": ["x"],
                                     "event": {"type": "message", "channel": CHANNEL}}).encode()),
    ("application/json", json.dumps({"type": "event_callback", "team_id": 5,
                                     "event": {"type": "app_home_opened"}}).encode()),
    ("application/json", json.dumps({"type": "url_verification"}).encode()),
    ("application/json", json.dumps({"type": "url_verification", "challenge": 5}).encode()),
    ("application/json", json.dumps({"type": "app_rate_limited", "team_id": TEAM_ID}).encode()),
    ("application/json", json.dumps({"type": "nope"}).encode()),
    (FORM, b"payload=not+json"),
    (FORM, b"payload="),
    (FORM, b"payload=null"),
    (FORM, b"payload=%5B%5D"),
    (FORM, _form({"type": "block_actions"})),
    (FORM, _form({"type": "block_actions", "actions": []})),
    (FORM, _form({"type": "block_actions", "actions": "x"})),
    (FORM, _form({"type": "block_actions", "team": {"id": TEAM_ID}, "actions": [{}]})),
    (FORM, _form({"type": "view_submission"})),
    (FORM, _form({"type": "view_submission", "view": "x"})),
    (FORM, _form({"type": "view_submission", "team": {"id": TEAM_ID}, "view": {"callback_id": None}})),
    (FORM, _form({"type": "view_closed", "team": {"id": TEAM_ID}, "view": {"callback_id": qb.ASK_CALLBACK}})),
    (FORM, _form({"type": "shortcut", "callback_id": "x", "team": {"id": TEAM_ID}})),
    (FORM, _form({"type": "message_action", "team": {"id": TEAM_ID}, "callback_id": "add_as_question",
                  "user": {"id": CHAIR}, "channel": {"id": CHANNEL}, "message": {"user": "U0ATTEND01", "text": "hi"},
                  "trigger_id": "1.2.3"})),
    (FORM, b"command=%2Fask&team_id=" + TEAM_ID.encode()),
    (FORM, b"command=%2Fevent"),
    (FORM, b"ssl_check=1&token=x"),
    (FORM, b"%%%=&&=="),
    ("text/plain", b"hello"),
]


# --------------------------------------------------------------------------------- the properties


def _slash_fields(world: World, spec: dict[str, Any]) -> dict[str, str]:
    user, channel = spec["user_id"], spec["channel_id"]
    common = _finish_common(world, spec, user, channel)
    fields = {
        "token": "verification-token", "team_id": spec["team_id"], "team_domain": "eventbot-test",
        "channel_id": channel, "channel_name": "provider-collaboratives", "user_id": user, "user_name": "someone",
        "command": spec["command"], "text": spec["text"], "api_app_id": "A0EVENTBOT", "is_enterprise_install": "false",
        "response_url": common.get("response_url"), "trigger_id": common.get("trigger_id"),
    }
    return {k: v for k, v in fields.items() if v is not None and k not in spec["_drop"]}


def _ack_problem(response: AppResponse) -> str | None:
    """Why Slack would not show the app's immediate answer to a slash command, if it would not."""
    if response.status != 200 or not response.body.strip() or not isinstance(response.json, dict):
        return None  # nothing, or plain text, is shown as it is
    blocks = response.json.get("blocks")
    problems = validate_blocks(blocks) if blocks is not None else []
    if problems:
        return "invalid_blocks: " + "; ".join(problems[:3])
    if len(str(response.json.get("text") or "")) > 40_000:
        return "msg_too_long: the ack's text is over 40,000 characters"
    return None


@PROPERTY
@given(spec=slash_commands())
def test_slash_commands_never_fail(world: World, spec: dict[str, Any]) -> None:
    before = world.start_example()
    fields = _slash_fields(world, spec)
    response = world.send_form(fields)
    # The app answers an /ask in its acknowledgement when it refuses, and through the response URL
    # once the question is stored.
    asked = (fields.get("command") == "/ask" and "text" in fields and fields["text"].strip()
             and fields["text"].strip().lower() not in ("aloud", "raise hand", "hand"))
    if asked and response.status == 200 and not response.body.strip():
        world.wait_for_reply()  # an empty ack promises an answer through the response URL
    world.settle()
    replies = [str(p.get("text") or "") for p in world.slack.response_url_posts[world.replies_seen:]]
    acked = str((response.json or {}).get("text") or response.body) if response.status == 200 else ""
    reply = " ".join([acked, *replies])
    accepted = "posted in the channel" in reply or "waiting for a chair's approval" in reply
    world.check(spec, f"slash command {fields!r}"[:3000], response, before,
                refused=bool(asked and not accepted),
                stored={"questions": 1} if asked and accepted else None,
                bad_answer=_ack_problem(response))


def _block_action_payload(world: World, spec: dict[str, Any]) -> dict[str, Any]:
    user, channel = spec["user_id"], spec["channel_id"]
    common = _finish_common(world, spec, user, channel)
    message_ts = world.resolve(spec["message_ts"])
    action = world.resolve(spec["action"])
    container: dict[str, Any] = ({"type": "view", "view_id": "V0SOMEVIEW"} if spec["container_type"] == "view" else
                                 {"type": spec["container_type"], "message_ts": message_ts, "channel_id": channel,
                                  "is_ephemeral": spec["in_dm"]})
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "name": "someone", "team_id": spec["team_id"]},
        "api_app_id": "A0EVENTBOT",
        "token": "verification-token",
        "container": container,
        "trigger_id": common.get("trigger_id"),
        "team": {"id": spec["team_id"], "domain": "eventbot-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "provider-collaboratives"},
        "message": {"type": "message", "ts": message_ts, "text": "Question: something", "user": BOT_USER_ID,
                    "bot_id": "B0EVENTBOT", "blocks": [{"type": "section", "block_id": "s1",
                                                        "text": {"type": "mrkdwn", "text": "hi"}}]},
        "response_url": common.get("response_url"),
        "actions": [action] + [dict(action, action_id="nope")] * spec["extra_actions"],
    }
    for key in spec["_drop"]:
        payload.pop(key, None)
    return {k: v for k, v in payload.items() if v is not None or k == "enterprise"}


@PROPERTY
@given(spec=block_actions())
def test_block_actions_never_fail(world: World, spec: dict[str, Any]) -> None:
    before = world.start_example()
    payload = _block_action_payload(world, spec)
    response = world.send_interaction(payload)
    world.check(spec, f"block_actions {json.dumps(payload)[:3000]}", response, before)


def _view_payload(world: World, spec: dict[str, Any]) -> dict[str, Any]:
    user = spec["user_id"]
    common = _finish_common(world, spec, user, None)
    metadata = world.resolve(spec["private_metadata"])
    view: dict[str, Any] = {
        "id": "V0FUZZVIEW1", "team_id": spec["team_id"], "type": "modal", "blocks": [],
        "private_metadata": metadata, "callback_id": spec["callback_id"], "state": world.resolve(spec["state"]),
        "hash": "1700000000.abcdef", "title": {"type": "plain_text", "text": "Form"}, "clear_on_close": False,
        "notify_on_close": False, "close": None, "submit": {"type": "plain_text", "text": "Save"},
        "previous_view_id": None, "root_view_id": "V0FUZZVIEW1", "app_id": "A0EVENTBOT", "external_id": "",
        "app_installed_team_id": spec["team_id"], "bot_id": "B0EVENTBOT",
    }
    view = {k: v for k, v in view.items() if v is not MISSING}
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": spec["team_id"], "domain": "eventbot-test"},
        "user": {"id": user, "username": "someone", "name": "someone", "team_id": spec["team_id"]},
        "api_app_id": "A0EVENTBOT", "token": "verification-token", "trigger_id": common.get("trigger_id"),
        "view": view, "response_urls": [], "is_enterprise_install": False, "enterprise": None,
    }
    for key in spec["_drop"]:
        payload.pop(key, None)
    return payload


@PROPERTY
@given(spec=view_submissions())
def test_view_submissions_never_fail(world: World, spec: dict[str, Any]) -> None:
    before = world.start_example()
    payload = _view_payload(world, spec)
    response = world.send_interaction(payload)
    body = response.json if isinstance(response.json, dict) else {}
    errors = body.get("errors")
    bad_answer = None
    stored = None
    if body.get("response_action") == "errors":
        fields = set(CALLBACKS.get(spec["callback_id"], {}))
        if not isinstance(errors, dict) or not errors or not set(errors) <= fields:
            bad_answer = f"invalid_errors: errors {errors!r} name no field of the modal {sorted(fields)}"
    elif response.status == 200 and not response.body.strip():
        if spec["callback_id"] == qb.ASK_CALLBACK:
            stored = {"questions": 1}
        elif spec["callback_id"] == SHARE_REFLECTION_CALLBACK:
            stored = {"reflections": 1}
    world.check(spec, f"view_submission {json.dumps(payload)[:3000]}", response, before,
                refused=body.get("response_action") == "errors", stored=stored, bad_answer=bad_answer)


@PROPERTY
@given(spec=event_callbacks())
def test_event_callbacks_never_fail(world: World, spec: dict[str, Any]) -> None:
    before = world.start_example()
    event = world.resolve(spec["event"])
    if isinstance(event.get("ts"), str) and event.get("type") == "message" and "subtype" not in event \
            and event.get("thread_ts") in world.ids["prompt_ts"]:
        world.ids["reflection_ts"].append(event["ts"])  # later edits and deletions can find it
    envelope: dict[str, Any] = {
        "token": "verification-token", "team_id": spec["team_id"], "context_team_id": spec["team_id"],
        "api_app_id": "A0EVENTBOT", "event": event, "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": spec["team_id"], "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }
    if spec["event_id"] == "missing":
        del envelope["event_id"]
    response = world.send_json(envelope)
    world.check(spec, f"event_callback {json.dumps(envelope)[:3000]}", response, before)


@settings(PROPERTY, max_examples=max(20, 60 // len(BACKENDS)))
@given(envelope=st.sampled_from(ENVELOPES), signed=st.booleans())
def test_malformed_envelopes_never_fail(world: World, envelope: tuple[str, bytes], signed: bool) -> None:
    """Signed, these are Slack's own requests gone wrong; unsigned, anyone on the internet can send them."""
    before = world.start_example()
    content_type, body = envelope
    if signed:
        response = world.send(body, content_type)
    else:
        response = world.slack.send_raw(body, {"Content-Type": content_type})
    world.check((envelope, signed), f"{'signed' if signed else 'UNSIGNED'} {content_type} body {body[:500]!r}",
                response, before)

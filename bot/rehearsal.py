"""`eventbot demo`: an offline rehearsal of a session, with nothing to configure.

It runs the real app (`eventbot serve`, on a fresh SQLite database) against the local Slack
double, plays the seed event ("Provider collaboratives: improving equitably") with a chair and a
few attendees, and prints what each person would see in Slack. Organisers use it to see what
the bot will do before a live audience does; developers use it as a quick end-to-end check.

The Slack double lives in the source tree's `tests/` package for now, so the rehearsal runs from
a source checkout (which is what `make demo` is).
"""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot import db
from bot.events.blocks import CANCEL_ACTION
from bot.privacy.blocks import FORGET_ME_ACTION
from bot.programme.importing import import_programme
from bot.programme.parsing import load_programme
from bot.slack.client import make_web_client

SOURCE_TREE = Path(__file__).resolve().parent.parent
EXAMPLE_PROGRAMME = SOURCE_TREE / "examples" / "provider-collaboratives.toml"

BOT_TOKEN = "xoxb-rehearsal-0000000000"
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
TEAM_ID = "T0REHEARSAL"
BOT_USER_ID = "U0EVENTBOT"

CHANNEL = "C0PROVCOLL"
ORGANISER = "U0ORGANISER"
CHAIR = "U0CHAIR01"
PRESENTERS = {
    "minara.chowdhury@example.org": "U0MINARA1",
    "ali.bolton@example.org": "U0ALIBOLT",
    "emma.rowan@example.org": "U0EMMAROW",
    "lindsey.mclean@example.org": "U0LINDSEY",
}
ATTENDEES = [f"U0ATTEND{n:02d}" for n in range(1, 13)]
ATTENDEE_ZONES = ["Europe/London", "Europe/Dublin", "Europe/London", "America/New_York"]
NAMES = {ORGANISER: "Olu (organiser)", CHAIR: "Dr Matthew Hill (chair)", BOT_USER_ID: "eventbot",
         PRESENTERS["minara.chowdhury@example.org"]: "Minara Chowdhury (presenter)",
         **{user_id: f"Attendee {n + 1}" for n, user_id in enumerate(ATTENDEES)}}


def cast(slack: Any) -> None:
    """The seed event's people in a Slack workspace played by the double."""
    slack.add_user(ORGANISER, "olu", real_name="Olu Organiser")
    slack.add_user(CHAIR, "matthew", real_name="Dr Matthew Hill")
    for email, user_id in PRESENTERS.items():
        slack.add_user(user_id, email.split("@")[0], real_name=email.split("@")[0].replace(".", " ").title(), email=email)
    for n, user_id in enumerate(ATTENDEES):
        slack.add_user(user_id, f"attendee{n + 1}", real_name=f"Attendee {n + 1}", tz=ATTENDEE_ZONES[n % 4])
    slack.add_user("U0OTHERBOT", "otherbot", real_name="Another bot", is_bot=True)
    members = [ORGANISER, CHAIR, *PRESENTERS.values(), *ATTENDEES, "U0OTHERBOT"]
    slack.add_channel(CHANNEL, "provider-collaboratives", members=members)


def seed_programme_text(on: date) -> str:
    """The example programme, moved to a given day (the file's own date is the real, past one)."""
    return re.sub(r"^date = .*$", f"date = {on.isoformat()}", EXAMPLE_PROGRAMME.read_text(), count=1, flags=re.MULTILINE)


# --- showing what Slack would show ------------------------------------------------------------------


def readable(mrkdwn: str) -> str:
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", mrkdwn)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    text = re.sub(r"<@(\w+)>", lambda m: "@" + NAMES.get(m.group(1), m.group(1)), text)
    return html.unescape(text)


def render_blocks(blocks: list[dict[str, Any]], fallback: str) -> list[str]:
    if not blocks:
        return [readable(fallback)]
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"== {readable(block['text']['text'])} ==")
        elif kind == "section":
            if block.get("text"):
                lines.extend(readable(block["text"]["text"]).splitlines())
            for field in block.get("fields") or []:
                lines.append(readable(field["text"]))
        elif kind == "context":
            lines.append("(" + " ".join(readable(e.get("text", "")) for e in block.get("elements", [])) + ")")
        elif kind == "actions":
            lines.append(" ".join(f"[{e['text']['text']}]" for e in block.get("elements", []) if e.get("text")))
        elif kind == "divider":
            lines.append("-" * 20)
        elif kind == "rich_text":
            lines.append(readable(fallback))
    return lines


class Transcript:
    def __init__(self, slack: Any) -> None:
        self.slack = slack
        self.seen_messages: set[str] = set()
        self.seen_ephemeral = 0
        self.seen_dms: set[tuple[str, str]] = set()

    def say(self, who: str, what: str) -> None:
        shown = what if len(what) <= 100 else f"{what[:60]}… ({len(what)} characters)"
        print(f"\n> {NAMES.get(who, who)}: {shown}")

    def show_new(self) -> None:
        time.sleep(0.3)
        for message in self.slack.messages(CHANNEL, include_replies=True):
            if message["ts"] in self.seen_messages:
                continue
            self.seen_messages.add(message["ts"])
            author = NAMES.get(message.get("user") or "", message.get("user") or "eventbot")
            where = "  (in thread)" if message.get("thread_ts") and message["thread_ts"] != message["ts"] else ""
            print(f"  #provider-collaboratives · {author}{where}:")
            for line in render_blocks(message.get("blocks") or [], message.get("text") or ""):
                print(f"      {line}")
        # Ephemeral replies, whether immediate or through a response URL: only their reader sees them.
        for post in self.slack.ephemeral()[self.seen_ephemeral:]:
            print("  (only you can see this):")
            for line in render_blocks(post.get("blocks") or [], post.get("text") or ""):
                print(f"      {line}")
        self.seen_ephemeral = len(self.slack.ephemeral())
        for person in [ORGANISER, CHAIR, *PRESENTERS.values(), *ATTENDEES]:
            for message in self.slack.dms(person):
                if (person, message["ts"]) in self.seen_dms:
                    continue
                self.seen_dms.add((person, message["ts"]))
                print(f"  DM to {NAMES.get(person, person)} · eventbot:")
                for line in render_blocks(message.get("blocks") or [], message.get("text") or ""):
                    print(f"      {line}")


# --- the rehearsal ----------------------------------------------------------------------------------


def edit_the_programme(slack: Any, transcript: Transcript) -> None:
    """The organiser opens the programme editor, slips once, and changes the Q&A's speakers."""
    transcript.say(ORGANISER, "/event programme")
    slack.send_slash_command("/event", "programme", user_id=ORGANISER, channel_id=CHANNEL)
    editor = slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=15)[-1]
    print("  (the programme editor opens:)")
    for line in render_blocks(editor["blocks"], "")[:12]:
        print(f"      {line}")
    print("      …")
    item = next(b for b in editor["blocks"] if "Interactive Q&amp;A" in (b.get("text") or {}).get("text", ""))
    transcript.say(ORGANISER, "(Edit on the Q&A item's menu; types 16:10 as its start)")
    slack.send_block_action(user_id=ORGANISER, view_id=editor["id"], action_id=item["accessory"]["action_id"],
                            block_id=item["block_id"], selected_option=f"edit:{item['block_id'].split('-')[1]}")
    form = slack.wait_for(lambda: len(slack.open_views(ORGANISER)) == 2 and slack.open_views(ORGANISER), timeout=15)[-1]
    speakers = "Dr Matthew Hill (chair, facilitating)\nThe presenters"
    values = {"title": {"value": "Interactive Q&A"}, "start": {"value": "16:10"}, "kind": {"value": "qa"},
              "speakers": {"value": speakers}}
    errors = slack.submit_view(form["id"], user_id=ORGANISER, values=values).json["errors"]
    print(f"  (the form shows, under Starts at: {errors['start']})")
    transcript.say(ORGANISER, "(puts 15:30 back, adds \"The presenters\" as speakers, and saves)")
    updates = len(slack.calls_to("views.update"))
    slack.submit_view(form["id"], user_id=ORGANISER, values={**values, "start": {"value": "15:30"}})
    slack.wait_for(lambda: len(slack.calls_to("views.update")) > updates, timeout=15)
    shown = slack.open_views(ORGANISER)[-1]
    line = next(b["text"]["text"] for b in shown["blocks"] if "Interactive Q&amp;A" in (b.get("text") or {}).get("text", ""))
    print("  (the editor now shows:)")
    for text in readable(line).splitlines():
        print(f"      {text}")

    transcript.say(ORGANISER, "(Add a prompt of your own: \"Wellbeing\", no time, for the chair to post)")
    shown = slack.open_views(ORGANISER)[-1]
    button = next(e for b in shown["blocks"] if b.get("block_id") == "prompt-actions" for e in b["elements"])
    slack.send_block_action(user_id=ORGANISER, view_id=shown["id"], action_id=button["action_id"],
                            block_id="prompt-actions")
    form = slack.wait_for(lambda: len(slack.open_views(ORGANISER)) == 2 and slack.open_views(ORGANISER), timeout=15)[-1]
    updates = len(slack.calls_to("views.update"))
    slack.submit_view(form["id"], user_id=ORGANISER, values={
        "name": {"value": "Wellbeing"}, "text": {"value": "How will you look after yourself this week?"}})
    slack.wait_for(lambda: len(slack.calls_to("views.update")) > updates, timeout=15)
    shown = slack.open_views(ORGANISER)[-1]
    line = next(b["text"]["text"] for b in shown["blocks"] if str(b.get("block_id", "")).startswith("own-prompt-"))
    for text in readable(line).splitlines():
        print(f"      {text}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_app(api_url: str, database_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "PORT"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url, "PORT": str(port), "LOG_LEVEL": "WARNING",
    }
    log = (workdir / "eventbot.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((workdir / "eventbot.log").read_text())
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return process, base + "/slack/events"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("eventbot did not start in time:\n" + (workdir / "eventbot.log").read_text())


def run() -> int:
    sys.path.insert(0, str(SOURCE_TREE))
    try:
        from tests.slackdouble import SlackDouble
    except ImportError:
        print("eventbot: the rehearsal needs the source tree (its local Slack lives in tests/): run `make demo` there",
              file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="eventbot-rehearsal-"))
    database_url = f"sqlite:///{workdir / 'eventbot.sqlite3'}"
    print("eventbot rehearsal: the seed event, run against a local Slack (no network, nothing to configure)")
    print(f"  database: {database_url}")
    db.upgrade(database_url)

    slack = SlackDouble(team_id=TEAM_ID, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, bot_user_id=BOT_USER_ID)
    slack.start()
    cast(slack)
    process = None
    try:
        programme_file = workdir / "programme.toml"
        programme_file.write_text(seed_programme_text(date.today() + timedelta(days=1)))
        engine = db.make_engine(database_url)
        imported = import_programme(
            db.make_session_factory(engine), make_web_client(token=BOT_TOKEN, base_url=slack.api_url),
            load_programme(programme_file), channel_id=CHANNEL, now=datetime.now(timezone.utc),
        )
        engine.dispose()
        print(f"  imported {imported.title!r} into #provider-collaboratives\n")

        process, events_url = _start_app(slack.api_url, database_url, workdir)
        slack.set_app_url(events_url)
        transcript = Transcript(slack)

        def command(user: str, text: str, name: str = "/event") -> None:
            transcript.say(user, f"{name} {text}")
            before = len(slack.response_url_posts)
            slack.send_slash_command(name, text, user_id=user, channel_id=CHANNEL)
            slack.wait_for(lambda: len(slack.response_url_posts) > before or slack.ephemeral(user_id=user), timeout=15)
            transcript.show_new()

        edit_the_programme(slack, transcript)
        command(ATTENDEES[0], "next")
        command(CHAIR, "start")
        slack.wait_for(lambda: any(m["text"].startswith("Now:") for m in slack.messages(CHANNEL)), timeout=15)
        transcript.show_new()
        # Whose voices are heard: attendees say, in one click on the welcome, which trust they join from.
        welcome = next(m for m in slack.messages(CHANNEL) if m["text"].startswith("Welcome to"))
        buttons = [e for b in welcome["blocks"] if b["type"] == "actions" for e in b["elements"]]
        for n, user in enumerate(ATTENDEES[:9]):
            button = buttons[-1] if n == 8 else buttons[[0, 0, 0, 0, 1, 1, 1, 2][n]]
            before = len(slack.response_url_posts)
            if n in (0, 8):
                transcript.say(user, f"(clicks {button['text']['text']!r} on the welcome)")
            slack.send_block_action(user_id=user, action_id=button["action_id"], value=button["value"],
                                    channel_id=CHANNEL, message_ts=welcome["ts"])
            slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=15)
            if n in (0, 8):
                transcript.show_new()
            else:
                transcript.seen_ephemeral = len(slack.ephemeral())
            if n == 7:
                print("\n  (six more attendees click their trust: three Wye Valley, three Worcestershire Acute, "
                      "one George Eliot)")

        # The session drifts: the chair holds the scheduled posts, gives the welcome ten more
        # minutes, resumes, and moves on; the organiser presses `next` a moment later and is told.
        command(CHAIR, "hold")
        command(CHAIR, "extend 10")
        command(CHAIR, "resume")
        command(CHAIR, "next")
        command(ORGANISER, "next")
        command(CHAIR, "prompt equity")
        prompt = next(m for m in slack.messages(CHANNEL) if m["text"].startswith("Reflection"))
        for user, words in [(ATTENDEES[0], "Inequities are variation, and variation is something QI knows how to work on."),
                            (ATTENDEES[3], "Who defines the problem matters: co-design with people with lived experience.")]:
            transcript.say(user, f"(replies in the thread) {words}")
            slack.user_posts(user, CHANNEL, words, thread_ts=prompt["ts"])
        transcript.show_new()
        command(CHAIR, "prompt wellbeing")
        own = slack.wait_for(lambda: next((m for m in slack.messages(CHANNEL) if "look after yourself" in m["text"]),
                                          None), timeout=15)
        words = "A walk at lunchtime, away from the screen."
        transcript.say(ATTENDEES[1], f"(replies in the thread) {words}")
        slack.user_posts(ATTENDEES[1], CHANNEL, words, thread_ts=own["ts"])
        transcript.show_new()
        command(CHAIR, "reflections")
        command(ATTENDEES[5], "What does a provider collaborative do first?", name="/ask")
        question = slack.wait_for(lambda: next((m for m in slack.messages(CHANNEL)
                                                if m["text"].startswith("Question:")), None), timeout=15)

        def show_home(user: str, heading: str) -> None:
            home = slack.home_views[user]
            start = next(n for n, b in enumerate(home["blocks"]) if "Your questions" in str(b))
            print(f"\n  ({heading})")
            for line in render_blocks(home["blocks"][start:start + 2], "")[:4]:
                print(f"      {line}")

        transcript.say(ATTENDEES[5], "(opens eventbot's Home tab)")
        slack.send_event({"type": "app_home_opened", "user": ATTENDEES[5], "tab": "home"})
        slack.wait_for(lambda: "provider collaborative do first" in str(slack.home_views.get(ATTENDEES[5])),
                       timeout=15)
        show_home(ATTENDEES[5], "their Home: what became of their questions")

        print("\n(Slack drops the connection just after posting the next card: eventbot cannot tell whether it "
              "was posted, looks for it by its metadata, and does not post it twice.)")
        slack.fail_next("chat.postMessage", count=1, mode="drop_after")
        command(ATTENDEES[2], "How do smaller trusts with less improvement capacity keep up?", name="/ask")
        slack.wait_for(lambda: len([m for m in slack.messages(CHANNEL) if m["text"].startswith("Question:")]) == 2,
                       timeout=15)
        time.sleep(2.5)  # the sender's next pass: it finds the card already there
        transcript.show_new()
        print(f"  (cards for it in the channel: "
              f"{sum('smaller trusts' in m['text'] for m in slack.messages(CHANNEL))})")

        command(ATTENDEES[4], "&" * 700, name="/ask")

        minara = PRESENTERS["minara.chowdhury@example.org"]
        transcript.say(ATTENDEES[6], "/ask (the form: for Minara Chowdhury, anonymously) "
                                     "How do you name inequities without blaming teams?")
        slack.send_slash_command("/ask", "", user_id=ATTENDEES[6], channel_id=CHANNEL)
        form = slack.wait_for(lambda: slack.open_views(ATTENDEES[6]), timeout=15)[-1]
        slack.submit_view(form["id"], user_id=ATTENDEES[6], values={
            "question": {"value": "How do you name inequities without blaming teams?"},
            "for_presenter": {"value": minara}, "anonymous": {"value": ["anonymous"]}})
        slack.wait_for(lambda: any("blaming teams" in m["text"] for m in slack.messages(CHANNEL)), timeout=15)
        transcript.show_new()

        transcript.say(CHAIR, "(answers the first question in its thread, from the card's menu: Answer in thread…)")
        menu = next(e for b in question["blocks"] if b["type"] == "actions" for e in b["elements"]
                    if e["type"] == "overflow")
        slack.send_block_action(user_id=CHAIR, action_id=menu["action_id"], channel_id=CHANNEL,
                                message_ts=question["ts"],
                                selected_option=next(o["value"] for o in menu["options"] if o["value"].startswith("answer:")))
        view = slack.wait_for(lambda: slack.open_views(CHAIR), timeout=15)[-1]
        slack.submit_view(view["id"], user_id=CHAIR, values={"answer": {
            "value": "Agree a shared aim and one measure with the partner trusts, then test small changes together."}})
        slack.wait_for(lambda: slack.dms(ATTENDEES[5]), timeout=15)
        transcript.show_new()
        slack.wait_for(lambda: "Answered in the thread" in str(slack.home_views[ATTENDEES[5]]), timeout=15)
        show_home(ATTENDEES[5], "Attendee 6's Home, redrawn without being opened again")
        command(CHAIR, "fair on")
        command(CHAIR, "questions all")
        command(CHAIR, "close")

        print("\n(After the close: questions still open go to their presenters, or the chairs, to answer; "
              "the chair is asked which reflections to share back with the room.)")

        def answer_from_dm(person: str, answer: str) -> None:
            listing = slack.wait_for(lambda: next((m for m in slack.dms(person) if "question_answer_in_thread" in str(
                m.get("blocks"))), None), timeout=20)
            transcript.show_new()
            transcript.say(person, "(answers from that DM, with its Answer button)")
            slack.send_block_action(user_id=person, action_id="question_answer_in_thread",
                                    channel_id=slack.im_channel(person), message_ts=listing["ts"])
            view = slack.wait_for(lambda: slack.open_views(person), timeout=15)[-1]
            slack.submit_view(view["id"], user_id=person, values={"answer": {"value": answer}})

        answer_from_dm(minara, "Treat inequity as variation in the system, not a failing of the people in it.")
        slack.wait_for(lambda: len(slack.dms(ATTENDEES[6])) >= 1, timeout=20)
        answer_from_dm(CHAIR, "Pair each with a partner trust's improvement lead, and share one measure between them.")
        slack.wait_for(lambda: any(m["text"].startswith("Your questions") for m in slack.messages(CHANNEL)),
                       timeout=30)
        transcript.show_new()

        transcript.say(CHAIR, "(presses Choose reflections to share, ticks one, and posts the summary)")
        invite = next(m for m in slack.dms(CHAIR) if "share_reflections_with_room" in str(m.get("blocks")))
        slack.send_block_action(user_id=CHAIR, action_id="share_reflections_with_room",
                                channel_id=slack.im_channel(CHAIR), message_ts=invite["ts"])
        picker = slack.wait_for(lambda: slack.open_views(CHAIR), timeout=15)[-1]
        first = picker["blocks"][1]["element"]["options"][0]["value"]
        slack.submit_view(picker["id"], user_id=CHAIR, values={"equity": {"value": [first]}})
        slack.wait_for(lambda: any(m["text"].startswith("What you reflected") for m in slack.messages(CHANNEL)),
                       timeout=15)
        transcript.show_new()
        command(CHAIR, "followups")
        command(ORGANISER, "report")

        print("\n(People's data: an attendee asks what eventbot holds about them, then to be forgotten.)")
        asker = ATTENDEES[2]
        command(asker, "privacy")
        command(asker, "forget-me")
        confirm = next(post for post in reversed(slack.ephemeral(user_id=asker))
                       if FORGET_ME_ACTION in str(post.get("blocks")))
        button = next(element for block in confirm["blocks"] for element in block.get("elements", [])
                      if element.get("action_id") == FORGET_ME_ACTION)
        transcript.say(asker, "(presses Forget me, and confirms)")
        before = len(slack.response_url_posts)
        slack.send_block_action(user_id=asker, action_id=FORGET_ME_ACTION, value=button["value"], channel_id=CHANNEL,
                                message_ts=confirm["ts"])
        answer = slack.wait_for(lambda: slack.response_url_posts[before:], timeout=15)[-1]
        # It replaces the question it answers, so it is shown here rather than as a new message.
        print("  (only you can see this, in place of the question):")
        for line in render_blocks(answer.get("blocks") or [], answer.get("text") or ""):
            print(f"      {line}")
        transcript.show_new()

        def their_card() -> dict[str, Any]:
            return next(m for m in slack.messages(CHANNEL) if "smaller trusts" in m["text"])

        slack.wait_for(lambda: asker not in str(their_card()["blocks"]), timeout=15)
        credit = next((line for line in render_blocks(their_card()["blocks"], "") if "sked" in line), "")
        print(f"  (their question's card, redrawn: {credit.strip()})")
        print("\n(Events over time: the organiser sets up next month's from this one, moves it a week, then "
              "cancels it.)")
        command(ORGANISER, "duplicate")
        form = slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=15)[-1]
        initial = {b["block_id"]: b["element"].get("initial_date") or b["element"].get("initial_time")
                   for b in form["blocks"] if b.get("type") == "input"}
        day = initial["date"]
        print(f"  (a form: the title, and {day}, the same weekday of next month, at the same times)")
        transcript.say(ORGANISER, "(renames it \"Provider collaboratives: part two\" and presses Create)")
        slack.submit_view(form["id"], user_id=ORGANISER, values={
            "title": {"value": "Provider collaboratives: part two"}, "date": {"value": day},
            "start": {"value": initial["start"]}, "end": {"value": initial["end"]}})
        slack.wait_for(lambda: any("same programme" in m["text"] for m in slack.ephemeral(user_id=ORGANISER)), timeout=15)
        transcript.show_new()
        command(ORGANISER, "report")
        command(ORGANISER, "postpone")
        form = slack.wait_for(lambda: slack.open_views(ORGANISER), timeout=15)[-1]
        later = (date.fromisoformat(day) + timedelta(days=7)).isoformat()
        transcript.say(ORGANISER, f"(picks {later} in the form and presses Move it)")
        slack.submit_view(form["id"], user_id=ORGANISER, values={
            "date": {"value": later}, "start": {"value": initial["start"]}, "end": {"value": initial["end"]}})
        slack.wait_for(lambda: any("has moved" in m["text"] for m in slack.messages(CHANNEL)), timeout=15)
        transcript.show_new()
        command(ORGANISER, "cancel")
        question = next(post for post in reversed(slack.ephemeral(user_id=ORGANISER))
                        if CANCEL_ACTION in str(post.get("blocks")))
        button = next(element for block in question["blocks"] for element in block.get("elements", [])
                      if element.get("action_id") == CANCEL_ACTION)
        transcript.say(ORGANISER, "(presses Cancel the event, and confirms)")
        before = len(slack.response_url_posts)
        slack.send_block_action(user_id=ORGANISER, action_id=CANCEL_ACTION, value=button["value"], channel_id=CHANNEL,
                                message_ts=question["ts"])
        answer = slack.wait_for(lambda: slack.response_url_posts[before:], timeout=15)[-1]
        print("  (only you can see this, in place of the question):")
        for line in render_blocks(answer.get("blocks") or [], answer.get("text") or ""):
            print(f"      {line}")
        slack.wait_for(lambda: any("is cancelled" in m["text"] for m in slack.messages(CHANNEL)), timeout=15)
        transcript.show_new()
        print("\nRehearsal finished: every post above was made by the real app through Slack's Web API (played locally).")
        return 0
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=15)
        slack.stop()


if __name__ == "__main__":
    sys.exit(run())

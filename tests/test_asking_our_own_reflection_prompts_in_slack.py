"""An organiser asks a reflection question of their own, beside the four themes: written in the
programme file or added in the programme editor, posted by a chair with `/event prompt <name>`,
answered in its thread, and shown under its name in the digest, the CSV, the close and the export."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import db
from bot.db import unit_of_work
from bot.models import ReflectionPrompt
from bot.programme.parsing import parse_programme
from bot.programme.schema import ProgrammeError
from tests.apprunner import RunningApp, eventbot_env, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, DAY, ORGANISER, seed_programme_text
from tests.slackdouble import SlackDouble
from tests.test_building_a_programme_in_slack import open_editor, press, save, set_up

OWN_PROMPTS = '''
[[prompts]]
name = "Wellbeing & rest"
text = "How will you look after <yourself> this week?"

[[prompts]]
name = "Quick win"
text = "What is one small change you could make on Monday?"
at = "15:45"

'''


def with_own_prompts(text: str) -> str:
    return text.replace("# --- evaluation reminders", OWN_PROMPTS + "# --- evaluation reminders", 1)


@pytest.fixture
def slack(slack: SlackDouble) -> SlackDouble:
    slack.echo_bot_messages = True
    return slack


@pytest.fixture
def imported(slack: SlackDouble, database_url: str, tmp_path: Path) -> str:
    migrate(database_url)
    path = tmp_path / "programme.toml"
    path.write_text(with_own_prompts(seed_programme_text(date.today() + timedelta(days=2))))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "event", "import", str(path), "--channel", CHANNEL],
                            env=eventbot_env(api_url=slack.api_url, database_url=database_url), cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return database_url


def _app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    yield running
    running.stop()


@pytest.fixture
def running(slack: SlackDouble, imported: str, tmp_path: Path) -> Iterator[RunningApp]:
    yield from _app(slack, imported, tmp_path)


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    yield from _app(slack, database_url, tmp_path)


def chair(slack: SlackDouble, text: str) -> str:
    before = len(slack.response_url_posts)
    assert slack.send_slash_command("/event", text, user_id=CHAIR, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=15)
    reply = slack.response_url_posts[-1]
    return reply["text"] + "\n" + str(reply.get("blocks") or "")


def prompts_of(database_url: str) -> list[tuple[str | None, str | None, str]]:
    engine = db.make_engine(database_url)
    try:
        with unit_of_work(db.make_session_factory(engine)) as session:
            return [(p.theme.value if p.theme else None, p.name, p.text)
                    for p in session.query(ReflectionPrompt).order_by(ReflectionPrompt.id)]
    finally:
        engine.dispose()


def test_a_prompt_of_the_files_own_is_posted_answered_and_digested_under_its_name(
    running: RunningApp, slack: SlackDouble, imported: str
) -> None:
    assert prompts_of(imported)[4:] == [
        (None, "Wellbeing & rest", "How will you look after <yourself> this week?"),
        (None, "Quick win", "What is one small change you could make on Monday?")]
    assert "has started" in chair(slack, "start")
    assert "no prompt called 'wellness'" in chair(slack, "prompt wellness")
    # Case and spacing do not matter when a chair names the prompt.
    assert "Posted the Wellbeing &amp; rest prompt" in chair(slack, "prompt  wellbeing & REST")
    posted = slack.wait_for(lambda: next((m for m in slack.messages(CHANNEL) if m["text"].startswith("Reflection:")),
                                         None), timeout=15)
    assert posted["text"] == "Reflection: How will you look after &lt;yourself&gt; this week?"
    assert "*Reflection: Wellbeing &amp; rest*" in str(posted["blocks"])
    assert "has already been posted" in chair(slack, "prompt wellbeing & rest")

    slack.user_posts(ATTENDEES[0], CHANNEL, "A walk at lunchtime", thread_ts=posted["ts"])
    slack.user_posts(ATTENDEES[1], CHANNEL, "Switching off at six", thread_ts=posted["ts"])
    slack.drain()

    def digest() -> str:
        chair(slack, "reflections")
        return str(slack.response_url_posts[-1]["blocks"])

    slack.wait_for(lambda: "*Wellbeing &amp; rest* (2)" in digest(), timeout=20)
    shown = digest()
    assert "A walk at lunchtime" in shown and "*Improvement* (0)" in shown
    assert "*Quick win* (0)" in shown  # not posted yet, and shown all the same
    rows = list(csv.DictReader(io.StringIO(slack.uploaded_files[-1]["content"].decode())))
    assert sorted((row["theme"], row["reflection"]) for row in rows) == [
        ("Wellbeing & rest", "A walk at lunchtime"), ("Wellbeing & rest", "Switching off at six")]

    # The export names both prompts as the file did, and reads back to the same programme.
    answers = len(slack.response_url_posts)
    assert slack.send_slash_command("/event", "programme export", user_id=ORGANISER, channel_id=CHANNEL).status == 200
    slack.wait_for(lambda: len(slack.response_url_posts) > answers, timeout=15)
    exported = slack.wait_for(lambda: [f for f in slack.uploaded_files if f["filename"].endswith(".toml")],
                              timeout=10)[-1]["content"].decode()
    assert '[[prompts]]\nname = "Quick win"\ntext = "What is one small change you could make on Monday?"\n' \
           'at = "15:45"' in exported
    again = parse_programme(exported, source="export.toml")
    original = parse_programme(with_own_prompts(seed_programme_text(date.today() + timedelta(days=2))),
                               source="programme.toml")
    assert again.prompts == original.prompts

    assert "is closed" in chair(slack, "close")
    slack.wait_for(lambda: slack.messages(CHANNEL)[-1]["text"].startswith("Thank you for joining"), timeout=15)
    close = str(slack.messages(CHANNEL)[-1]["blocks"])
    assert "Wellbeing &amp; rest: 2 reflections" in close
    assert "Quick win" not in close  # never posted, so not counted


def _problems_in_a_file(prompts: str) -> dict[str, str]:
    """What the programme file's check says of the same prompts, keyed by field."""
    try:
        parse_programme(seed_programme_text(DAY).replace("# --- evaluation reminders", prompts + "\n# ---", 1),
                        source="f.toml")
    except ProgrammeError as error:
        return {problem.key.rsplit(".", 1)[-1]: problem.message for problem in error.problems}
    return {}


def test_an_organiser_adds_edits_and_removes_a_prompt_of_their_own_in_the_editor(
    app: RunningApp, slack: SlackDouble, database_url: str
) -> None:
    set_up(slack)
    editor = open_editor(slack)
    form = press(slack, editor, "programme_add_prompt")
    assert form["callback_id"] == "programme_own_prompt"
    assert save(slack, form, {"name": "Wellbeing", "text": "How will you rest?", "at": "15:30"}) is None
    themes = prompts_of(database_url)[:4]
    assert prompts_of(database_url)[4:] == [(None, "Wellbeing", "How will you rest?")]
    shown = slack.open_views(ORGANISER)[-1]
    line = next(b for b in shown["blocks"] if b.get("block_id") == "own-prompt-4")
    assert "*Wellbeing* (your own), 15:30" in line["text"]["text"]

    # Bad input: the programme file's messages, on the form's fields, and nothing changes.
    bad: list[tuple[dict[str, Any], str]] = [
        ({"name": "   ", "text": "Anything?"}, '[[prompts]]\nname = "   "\ntext = "Anything?"\n'),
        ({"name": "x" * 41, "text": "Anything?"}, f'[[prompts]]\nname = "{"x" * 41}"\ntext = "Anything?"\n'),
        ({"name": "wellbeing", "text": "Again?"},
         '[[prompts]]\nname = "Wellbeing"\ntext = "a"\n\n[[prompts]]\nname = "wellbeing"\ntext = "Again?"\n'),
        ({"name": "Next steps", "text": "Clash?"}, '[[prompts]]\nname = "Next steps"\ntext = "Clash?"\n'),
        ({"name": "Tea", "text": "  "}, '[[prompts]]\nname = "Tea"\ntext = "  "\n'),
    ]
    form = press(slack, editor, "programme_add_prompt")
    for values, as_file in bad:
        errors = save(slack, form, values)
        expected = _problems_in_a_file(as_file)
        assert errors == expected and expected, (values, errors)
    assert prompts_of(database_url)[4:] == [(None, "Wellbeing", "How will you rest?")]
    assert prompts_of(database_url)[:4] == themes
    assert save(slack, form, {"name": "Tea", "text": "Who will you have a cup of tea with?"}) is None

    # Edited: renamed and posted by a chair instead; then removed.
    form = press(slack, editor, "programme_own_prompt", block_id="own-prompt-4", option="edit:4")
    assert next(b for b in form["blocks"] if b["block_id"] == "name")["element"]["initial_value"] == "Wellbeing"
    assert save(slack, form, {"name": "Rest", "text": "How will you rest this week?"}) is None
    assert prompts_of(database_url)[4:] == [(None, "Rest", "How will you rest this week?"),
                                            (None, "Tea", "Who will you have a cup of tea with?")]
    updates = len(slack.calls_to("views.update"))
    slack.send_block_action(user_id=ORGANISER, view_id=editor["id"],
                            action_id="programme_own_prompt", block_id="own-prompt-4", selected_option="remove:4")
    slack.wait_for(lambda: len(slack.calls_to("views.update")) > updates, timeout=10)
    assert prompts_of(database_url)[4:] == [(None, "Tea", "Who will you have a cup of tea with?")]
    assert prompts_of(database_url)[:4] == themes

"""`eventbot demo`, the README's main job: runs offline on the embedded defaults and shows the session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_plays_the_seed_event_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "demo"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Only a chair or organiser of this event can move the session on." in out
    # The programme editor: a slip shown with the programme file's own message, then the change.
    assert "Olu (organiser): /event programme" in out and "== Agenda ==" in out
    assert "16:10 is outside the event; an agenda item starts at or after the event's start" in out
    assert "Dr Matthew Hill (chair, facilitating); The presenters" in out
    assert "== Welcome to Provider collaboratives: improving equitably ==" in out
    assert "Now: Presentation one" in out
    # The chair's pace: hold, extend and resume each say what moves; a second press is told who moved on.
    assert "On hold: nothing more is posted on schedule" in out
    assert "has 10 minutes more; everything after it moves by as much" in out
    assert "Resumed after" in out
    assert "was just announced by" in out
    assert "What are you hearing that relates to equity?" in out
    assert "*Equity* (2)" in out
    assert "Equity: 2 reflections" in out
    # A prompt of the organiser's own: added in the editor, posted by name, digested under its name.
    assert "Wellbeing* (your own), when a chair posts it" in out
    assert "Reflection: Wellbeing" in out and "*Wellbeing* (1)" in out and "Wellbeing: 1 reflection" in out
    # A card whose post Slack made but did not confirm appears once; the answer reaches the asker.
    assert "(cards for it in the channel: 1)" in out
    assert "Your question is too long once & < > are counted as Slack shows them" in out
    assert "DM to Attendee 6 · eventbot:" in out and "*Your question has been answered*" in out
    # Home: the asker's tab follows the answer without being opened again.
    assert "(their Home: what became of their questions)" in out
    home_after = out.split("(Attendee 6's Home, redrawn without being opened again)")[1].split("\n\n")[0]
    assert "Answered in the thread" in home_after and ":speech_balloon: Agree a shared aim" in home_after
    # After the close: the chairs' open question is answered from their DM, and the channel hears how it went.
    assert "== Your questions, answered ==" in out and "2 answered after the event" in out
    assert "Minara Chowdhury (presenter): (answers from that DM" in out
    assert "== What you reflected ==" in out
    assert "== Report: Provider collaboratives: improving equitably ==" in out
    assert "Follow-ups answered on time: *2*" in out
    # Whose voices are heard: one click on the welcome, then the chair's digest by organisation, fairly ordered.
    assert "(clicks 'Wye Valley NHS Trust' on the welcome)" in out
    assert "you count for *Wye Valley NHS Trust*" in out and "you prefer not to say" in out
    assert "Fair ordering is on" in out and "*By organisation*" in out
    assert "*George Eliot Hospital NHS Trust*: fewer than 3 people, so no figures are shown" in out
    # People's data: what is held, the question before forgetting, what forgetting did, the card redrawn.
    assert "Attendee 3: /event privacy" in out and "== What eventbot holds about you ==" in out
    assert "Forget me?" in out and "[Forget me]" in out
    assert "eventbot has forgotten you." in out and "questions kept only as anonymous text: 1" in out
    assert "(their question's card, redrawn:" in out and "anonymous" in out.split("(their question's card, redrawn:")[1]
    # Events over time: next month's from this one, moved a week, then cancelled; the last stays readable.
    assert "the same weekday of next month" in out and "with the same programme" in out
    assert "has not happened yet" in out and "Add the day to choose one" in out
    assert "Provider collaboratives: part two* has moved from" in out
    assert "Cancel the event" in out and "Provider collaboratives: part two* (" in out and "is cancelled by" in out
    assert "Rehearsal finished" in out
    assert not list(tmp_path.glob("*.sqlite3")), "the rehearsal must not write into the working directory"

"""The people of the seed event, as a Slack workspace the double plays."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from tests.apprunner import BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, TEAM_ID
from tests.slackdouble import SlackDouble

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "provider-collaboratives.toml"
CHANNEL = "C0PROVCOLL"
ORGANISER = "U0ORGANISER"
CHAIR = "U0CHAIR01"
PRESENTERS = {
    "minara.chowdhury@example.org": "U0MINARA1",
    "ali.bolton@example.org": "U0ALIBOLT",
    "emma.rowan@example.org": "U0EMMAROW",
    "lindsey.mclean@example.org": "U0LINDSEY",
}
# Attendees from several organisations and time zones, as such sessions have.
ATTENDEES = [f"U0ATTEND{n:02d}" for n in range(1, 13)]
ATTENDEE_ZONES = ["Europe/London", "Europe/Dublin", "Europe/London", "America/New_York"]


def make_double() -> SlackDouble:
    return SlackDouble(team_id=TEAM_ID, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, bot_user_id=BOT_USER_ID)


def cast(slack: SlackDouble) -> None:
    slack.add_user(ORGANISER, "olu", real_name="Olu Organiser")
    slack.add_user(CHAIR, "matthew", real_name="Dr Matthew Hill")
    for email, user_id in PRESENTERS.items():
        slack.add_user(user_id, email.split("@")[0], real_name=email.split("@")[0].replace(".", " ").title(), email=email)
    for n, user_id in enumerate(ATTENDEES):
        slack.add_user(user_id, f"attendee{n + 1}", real_name=f"Attendee {n + 1}", tz=ATTENDEE_ZONES[n % 4])
    slack.add_user("U0OTHERBOT", "otherbot", real_name="Another bot", is_bot=True)
    members = [ORGANISER, CHAIR, *PRESENTERS.values(), *ATTENDEES, "U0OTHERBOT"]
    slack.add_channel(CHANNEL, "provider-collaboratives", members=members)


def seed_programme(on: date, tmp_path: Path) -> Path:
    """The example programme file, moved to a given day (the file's own date is in the past)."""
    text = EXAMPLE.read_text()
    text = re.sub(r"^date = .*$", f"date = {on.isoformat()}", text, count=1, flags=re.MULTILINE)
    path = tmp_path / "programme.toml"
    path.write_text(text)
    return path

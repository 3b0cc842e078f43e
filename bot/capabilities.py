"""What people can ask eventbot to do, as `/event help` lists it.

A feature adds its line here when it ships, so help never promises what the app cannot do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capability:
    usage: str
    description: str
    who: str


CAPABILITIES: tuple[Capability, ...] = (
    Capability("/event help", "Show this list.", "anyone"),
    Capability("/event setup", "Set up this channel's event (title, times, chairs, presenters, form link), or change it.", "organisers"),
    Capability("/event start", "Open the session now: posts the welcome, agenda and housekeeping.", "chairs"),
    Capability("/event next", "Announce the next agenda item now; later scheduled posts follow your pace.", "chairs"),
    Capability("/event prompt improvement|collaborative|equity|next", "Post a reflection prompt now.", "chairs"),
    Capability("/event status", "Where the session is and what comes next.", "chairs"),
    Capability("/event reflections", "The reflections so far, by theme, with a CSV in your DMs.", "chairs"),
    Capability("/event close", "Close the session: thanks, reflection counts, the evaluation form, what's next.", "chairs"),
    Capability(
        "/ask <your question>",
        "Ask a question in an event's channel during the session.",
        "attendees",
    ),
)

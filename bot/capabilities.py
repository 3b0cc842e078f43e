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
    Capability(
        "/ask <your question>",
        "Ask a question in an event's channel during the session.",
        "attendees",
    ),
)

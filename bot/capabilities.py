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
    Capability("/event setup", "Set up this channel's event (title, times, chairs, presenters, form link, whether it "
               "waits for the chair's start), or change it: a new date moves its agenda, prompts and reminders.",
               "organisers"),
    Capability("/event programme", "Build or change the programme in a form: agenda items (add, edit, reorder, "
               "remove), the prompts' wording and times, prompts of your own (add, edit, remove), housekeeping, "
               "partners, the next event, reminders. On a live "
               "event a change reaches the posts still to come. `/event programme export` sends it as a file; send a "
               "programme file to my DM to import it.", "organisers"),
    Capability("/event cancel", "Cancel this channel's coming event, after confirming: nothing more is posted, "
               "prompted or reminded for it; the channel and the organisers are told; what people gave is kept.",
               "organisers"),
    Capability("/event postpone", "Move the coming event to a new day or time in a form: its agenda, prompts and "
               "reminders move with it, and the channel is told.", "organisers"),
    Capability("/event duplicate", "Set up the next event like this channel's last (agenda, prompts, notes, partners, "
               "reminders, roles) on the same weekday of next month (the 2nd Tuesday gives the next 2nd Tuesday), "
               "at the same time; the day is yours to change in the form.", "organisers"),
    Capability("/event start", "Open the session now: posts the welcome, agenda and housekeeping.", "chairs"),
    Capability("/event next", "Announce the next agenda item now; later scheduled posts follow your pace.", "chairs"),
    Capability("/event hold", "Pause the scheduled posts (agenda, prompts, the close) until `/event resume`; "
               "everything not yet posted then moves on by the time held.", "chairs"),
    Capability("/event resume", "End a hold: says when each remaining item, prompt and the close now come.", "chairs"),
    Capability("/event extend 10", "Give the current item 10 more minutes: everything after it, the close and "
               "reminders timed from the close move by as much.", "chairs"),
    Capability("/event prompt improvement|collaborative|equity|next|NAME", "Post a reflection prompt now: a theme's, "
               "or one of the event's own by its name.", "chairs"),
    Capability("/event status", "Where the session is and what comes next.", "chairs"),
    Capability("/event reflections", "The reflections so far, by theme, with a CSV in your DMs.", "chairs"),
    Capability("/event questions [open|answered|followup|all]",
               "The questions by agenda item and presenter, most votes first, with counts; export them as CSV.",
               "chairs"),
    Capability("/event remind", "Schedule an evaluation-form reminder: a post in the channel or a DM to each attendee, "
               "at a time or relative to the close (\"next day 10:00\" is each person's own 10:00).", "organisers"),
    Capability("/event reminders", "The reminders with their delivery counts and who has completed the form; "
               "change or cancel one that has not gone out.", "organisers"),
    Capability("/event close", "Close the session: thanks, reflection counts, the evaluation form, what's next. "
               "Questions left open then go to their presenters (or the chairs) to answer afterwards.", "chairs"),
    Capability("/event share", "Choose reflections to share back with the room: the channel gets the count per "
               "theme and the ones you chose (anonymous ones stay anonymous). Chairs are asked at the close too.",
               "chairs"),
    Capability("/event report", "After the close: who took part, what became of the questions, reminders sent and "
               "forms completed, follow-ups answered on time; a chart, Markdown and CSV in your DMs.", "organisers"),
    Capability("/event followups", "After the close: every question left to answer, by owner (open, answered, "
               "overdue), with a CSV in your DMs. Presenters see their own.", "chairs"),
    Capability("/event organisation", "Say which partner organisation you join from (or prefer not to say): one "
               "click, once per event, remembered; counted per organisation, never shown by name.", "attendees"),
    Capability("/event fair on|off", "Fair ordering: the question digest orders by votes but keeps organisations "
               "varied (no more than two in a row from one while another's wait).", "chairs"),
    Capability("Home tab", "Open eventbot in Slack: your events and what comes next in them, questions to moderate, "
               "questions asked of you and your follow-ups, your own questions and what became of them, your "
               "reflections and forms still to fill in; it keeps up as things change.", "anyone"),
    Capability("/event privacy", "See everything eventbot holds about you in this workspace (only you see it), with "
               "the whole as a CSV in your DMs.", "anyone"),
    Capability("/event forget-me", "Be forgotten across the workspace, after confirming: your reflections, votes and "
               "profile go, your questions stay only as anonymous text; you are told what was done.", "anyone"),
    Capability("/ask <your question>", "Ask a question in the event's channel; others can upvote it.", "attendees"),
    Capability("/ask", "Ask in a form: choose a presenter, or ask anonymously.", "attendees"),
    Capability("/ask aloud", "Join the queue to ask your question aloud; the chair brings you in.", "attendees"),
    Capability("/ask lower", "Lower your hand: leave the queue to speak.", "attendees"),
    Capability("/ask top", "The leading questions, most votes first (no names).", "anyone"),
    Capability("Add as a question", "Message shortcut (⋮ on a message): turn it into a question credited to its author.", "anyone"),
    Capability("/event queue", "Who is waiting to speak, with a button to bring the next person in.", "chairs"),
    Capability("/event moderator @name", "Let someone moderate questions with you.", "chairs"),
    Capability("/event approval on|off", "Approval mode: new questions wait for a chair before they appear.", "chairs"),
)


# Who sees which lines: everyone sees "anyone" and "attendees"; chairs (and organisers, who run
# their events too) see "chairs"; organisers, and people who may set events up, see "organisers".
EVERYONE = frozenset({"anyone", "attendees"})


def capabilities_for(audiences: frozenset[str]) -> tuple[Capability, ...]:
    """Only the lines for what this person may do (`audiences`: "chairs", "organisers"...)."""
    return tuple(c for c in CAPABILITIES if c.who in EVERYONE | audiences)

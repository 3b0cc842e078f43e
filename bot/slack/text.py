"""Making user text safe to echo in Slack messages, and measuring it as Slack will show it.

Slack reads `<!channel>`, `<!here>`, `<@U…>` and `<url|label>` in message text as live syntax, so
anything a person typed is escaped before it is shown to anyone. Only `&`, `<` and `>` are
escaped, as Slack's formatting docs say. Bidirectional control characters are dropped at the same
step: one typed into a question could otherwise reorder the words around it on the card (a
right-to-left override turns "approve" into "evorppa"), and every echo of user text goes through
`escape`, so dropping them here covers every message at once. Everything else displays as typed.

A limit on user text is a limit on what Slack will show: `&` becomes five characters once escaped,
so a question that fits in characters typed may not fit in a Block Kit section. `too_long` measures
that, and `visible` is what every "is it empty?" check asks.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

# Embeddings, overrides, isolates and the three directional marks (LRM, RLM, ALM).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_WITHOUT_BIDI = {ord(control): None for control in BIDI_CONTROLS}

# Letters that render as blank space yet are neither whitespace nor format characters: Hangul
# fillers and the blank braille pattern, the usual ways to post a message that looks empty.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def plain(user_text: str) -> str:
    """User text for a plain_text field (shown literally, so not escaped): bidi controls dropped."""
    return user_text.translate(_WITHOUT_BIDI)


def escape(user_text: str) -> str:
    """User text for mrkdwn: bidi controls dropped, then `&`, `<` and `>` escaped."""
    return plain(user_text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def visible(text: str) -> str:
    """The characters of `text` a reader can see.

    Whitespace, control and format characters are dropped: the last covers zero-width spaces and
    joiners (U+200B–U+200D), the word joiner (U+2060), the byte order mark (U+FEFF), the soft
    hyphen (U+00AD) and the bidi controls. Text whose `visible` part is empty counts as empty.
    Only for checking: stored text keeps them, as a joiner inside an emoji sequence matters.
    """
    return "".join(
        ch for ch in text
        if not (ch.isspace() or ch in BLANK_LETTERS or unicodedata.category(ch) in ("Cc", "Cf"))
    )


def shown_length(user_text: str) -> int:
    """How long user text is as Slack shows it, or as stored if that is longer (only when bidi
    controls were dropped), so a text within its limit fits both a Block Kit field and its column."""
    return max(len(user_text), len(escape(user_text)))


def too_long(user_text: str, *, limit: int, subject: str) -> str | None:
    """What to tell a person whose text is over `limit` as Slack shows it, or None if it fits.

    `subject` starts the sentence: "Your question", "The title". Where escaping makes the text
    longer than the person typed it, the message says so, or the count would look wrong to them.
    """
    length = shown_length(user_text)
    if length <= limit:
        return None
    if len(escape(user_text)) > len(user_text):
        return (f"{subject} is too long once & < > are counted as Slack shows them (& counts as 5 characters, "
                f"< and > as 4 each): that makes {length} characters; please keep it to {limit} or fewer.")
    return f"{subject} is {length} characters long; please keep it to {limit} or fewer."


def truncate(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """Fit text into a Block Kit field without cutting an escape sequence in half."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ellipsis


def local_time(moment: datetime, *, timezone: str, token: str = "{time}", fallback_format: str = "%H:%M %Z") -> str:
    """A time that Slack shows in each reader's own time zone.

    The fallback (for clients that cannot render dates, and notifications) is the event's local
    time with its zone abbreviation, so it is never silently wrong.
    """
    fallback = moment.astimezone(ZoneInfo(timezone)).strftime(fallback_format)
    return f"<!date^{int(moment.timestamp())}^{token}|{fallback}>"


def local_date_and_time(moment: datetime, *, timezone: str) -> str:
    return local_time(
        moment, timezone=timezone, token="{date_short_pretty} at {time}", fallback_format="%a %d %b %Y %H:%M %Z"
    )

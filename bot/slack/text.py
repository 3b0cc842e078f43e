"""Making user text safe to echo in Slack messages.

Slack reads `<!channel>`, `<!here>`, `<@U…>` and `<url|label>` in message text as live syntax, so
anything a person typed is escaped before it is shown to anyone. Only `&`, `<` and `>` are
escaped, as Slack's formatting docs say; everything else displays as typed.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def escape(user_text: str) -> str:
    return user_text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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

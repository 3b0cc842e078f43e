"""Making user text safe to echo in Slack messages.

Slack reads `<!channel>`, `<!here>`, `<@U…>` and `<url|label>` in message text as live syntax, so
anything a person typed is escaped before it is shown to anyone. Only `&`, `<` and `>` are
escaped, as Slack's formatting docs say; everything else displays as typed.
"""

from __future__ import annotations


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

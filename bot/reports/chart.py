"""The report's chart, drawn headless with matplotlib: activity across the session, and question outcomes."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")  # no screen on a server: draw to a PNG in memory

from matplotlib import pyplot  # noqa: E402  (after the backend is chosen)

from bot.reports.rules import Report  # noqa: E402


def chart_png(found: Report) -> bytes:
    zone = ZoneInfo(found.timezone)
    figure, (activity, answers) = pyplot.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    try:
        labels = [slot.starts_at.astimezone(zone).strftime("%H:%M") for slot in found.slots]
        positions = range(len(labels))
        activity.bar(positions, [s.votes for s in found.slots], label="votes", color="#9ecae1")
        activity.plot(positions, [s.questions for s in found.slots], marker="o", label="questions", color="#08519c")
        activity.plot(positions, [s.reflections for s in found.slots], marker="s", label="reflections",
                      color="#e6550d")
        activity.set_xticks(list(positions), labels, rotation=45, ha="right", fontsize=8)
        activity.set_title("Participation across the session (per 10 minutes)")
        activity.legend(fontsize=8)
        o = found.outcomes
        outcome_names = ["answered live", "in writing,\nduring", "after the\nevent", "not\nanswered"]
        values = [o.answered_live, o.answered_in_session, o.answered_after, o.not_answered]
        answers.bar(outcome_names, values, color=["#31a354", "#74c476", "#a1d99b", "#bdbdbd"])
        answers.set_title("What became of the questions")
        for n, value in enumerate(values):
            answers.annotate(str(value), (n, value), ha="center", va="bottom", fontsize=9)
        figure.suptitle(found.title, fontsize=11)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=100)
        return out.getvalue()
    finally:
        pyplot.close(figure)

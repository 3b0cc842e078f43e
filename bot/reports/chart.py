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
    by_organisation = [row for row in (found.organisations.rows if found.organisations else []) if not row.too_small]
    panels = 3 if by_organisation else 2
    figure, axes = pyplot.subplots(1, panels, figsize=(11 if panels == 2 else 16, 4),
                                   gridspec_kw={"width_ratios": [3, 2, 3][:panels]})
    activity, answers = axes[0], axes[1]
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
        if by_organisation:
            _organisations(axes[2], by_organisation)
        figure.suptitle(found.title, fontsize=11)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=100)
        return out.getvalue()
    finally:
        pyplot.close(figure)


def _organisations(axis, rows) -> None:  # type: ignore[no-untyped-def]
    """People and questions per organisation (bars), and the share of its questions answered (line);
    groups too small to show are left out, as in the tables."""
    names = [row.organisation if len(row.organisation) <= 18 else row.organisation[:17] + "…" for row in rows]
    positions = list(range(len(rows)))
    width = 0.4
    axis.bar([p - width / 2 for p in positions], [row.people for row in rows], width, label="people", color="#9ecae1")
    axis.bar([p + width / 2 for p in positions], [row.questions for row in rows], width, label="questions",
             color="#08519c")
    axis.set_xticks(positions, names, rotation=30, ha="right", fontsize=8)
    rate = axis.twinx()
    rate.plot(positions, [100 * (row.answer_rate or 0) for row in rows], marker="D", color="#e6550d",
              label="answered (%)")
    rate.set_ylim(0, 105)
    rate.set_ylabel("questions answered (%)", fontsize=8)
    axis.set_title("Participation and answer rate by organisation")
    axis.legend(fontsize=8, loc="upper left")

"""Programme files: parsing, validation, time zones and the printed plan. Pure, no database."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from bot.clock import to_utc
from bot.events.rules import DEFAULT_PROMPTS, FORM_LINK_RULE
from bot.models import ReflectionTheme, ReminderAudience, SegmentKind
from bot.programme.parsing import load_programme, parse_programme
from bot.programme.plan import format_plan, timeline
from bot.programme.schema import PersonRef, Problem, Programme, ProgrammeError
from bot.reminders.timing import render_reminder_text, resolve_reminder_time

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "provider-collaboratives.toml"
DOC = ROOT / "docs" / "programme-files.md"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def minimal(event_extra: str = "", rest: str = "", *, date_: str = "2024-02-26", start: str = "14:30", end: str = "16:00") -> str:
    """A small valid programme, with lines added to [event] and blocks after it."""
    return f"""
[event]
title = "Test event"
date = {date_}
start = "{start}"
end = "{end}"
{event_extra}

[[agenda]]
title = "Welcome"
start = "{start}"
kind = "welcome"

{rest}
"""


def problems_of(text: str, source: str = "x.toml") -> list[Problem]:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(text, source=source)
    return caught.value.problems


def problem_at(problems: list[Problem], where: str) -> Problem:
    matches = [problem for problem in problems if problem.where == where]
    assert matches, f"no problem at {where!r}; got {[str(p) for p in problems]}"
    return matches[0]


# --- the example file ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> Programme:
    return load_programme(EXAMPLE)


def test_example_parses(example: Programme) -> None:
    assert example.title == "Provider collaboratives: improving equitably"
    assert example.timezone == "Europe/London"
    # February: GMT, so local and UTC agree.
    assert example.starts_at == utc(2024, 2, 26, 14, 30)
    assert example.ends_at == utc(2024, 2, 26, 16, 0)
    assert example.channel_id is None
    assert example.evaluation_form_url and example.evaluation_form_url.startswith("https://")
    assert example.follow_up_days == 14
    assert example.questions_need_approval is False
    assert example.chairs == (PersonRef(slack_user_id="U0CHAIR01", email=None),)
    assert all(person.email and not person.slack_user_id for person in example.presenters)
    assert len(example.presenters) == 4
    assert len(example.housekeeping) == 8
    assert example.housekeeping[0] == "Please note, this event is being recorded"
    assert example.housekeeping[-1].startswith("You will receive a link to an evaluation form at the end of the day")
    assert example.partners == (
        "Wye Valley NHS Trust",
        "Worcestershire Acute Hospitals NHS Trust",
        "George Eliot Hospital NHS Trust",
        "South Warwickshire University NHS Foundation Trust",
    )
    assert example.next_event and "Thursday 28 March | 2.30pm – 4.00pm" in example.next_event
    assert "Connecting strategic decisions to collaborative and equitable improvement work in practice" in example.next_event


def test_example_agenda(example: Programme) -> None:
    assert [segment.position for segment in example.segments] == [1, 2, 3, 4, 5]
    assert [segment.kind for segment in example.segments] == [
        SegmentKind.WELCOME,
        SegmentKind.PRESENTATION,
        SegmentKind.PRESENTATION,
        SegmentKind.QA,
        SegmentKind.CLOSE,
    ]
    one, two = example.segments[1], example.segments[2]
    assert "Delivering the Equity agenda through Quality Improvement" in one.title
    assert one.speakers == ("Minara Chowdhury – Senior Director at the Institute for Healthcare Improvement",)
    assert "Open-Door Collaboration" in two.title
    assert [speaker.split(" – ")[0] for speaker in two.speakers] == ["Ali Bolton", "Emma Rowan", "Lindsey McLean"]
    assert "Dr Matthew Hill" in example.segments[0].speakers[0]
    starts = [segment.starts_at for segment in example.segments]
    assert starts == sorted(starts) and starts[0] == example.starts_at


def test_example_prompts_and_reminders(example: Programme) -> None:
    assert [prompt.theme for prompt in example.prompts] == list(ReflectionTheme)
    assert all(prompt.text == DEFAULT_PROMPTS[prompt.theme] for prompt in example.prompts)
    assert all(prompt.at is not None and example.starts_at <= prompt.at <= example.ends_at for prompt in example.prompts)

    at_close, next_day = example.reminders
    assert at_close.audience is ReminderAudience.CHANNEL
    assert at_close.due_at == example.ends_at
    assert at_close.only_incomplete is False
    assert at_close.local_time_for_recipient is None
    assert next_day.audience is ReminderAudience.DIRECT_MESSAGE
    assert next_day.only_incomplete is True
    assert next_day.due_at == utc(2024, 2, 27, 10, 0)
    assert next_day.local_time_for_recipient == "10:00"
    assert next_day.grace_minutes == 360
    assert "{form_url}" in next_day.text
    rendered = render_reminder_text(next_day.text, example.evaluation_form_url)
    assert example.evaluation_form_url in rendered and "{form_url}" not in rendered


def test_example_timeline(example: Programme) -> None:
    entries = timeline(example)
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)
    kinds = [entry.kind for entry in entries]
    assert kinds[0] == "welcome"
    assert kinds.count("segment") == 5
    assert kinds.count("prompt") == 4
    assert kinds.count("close") == 1
    assert kinds[-2:] == ["reminder", "reminder"]
    # At 16:00 the close comes before the "at close" reminder; at 14:30 the welcome before item 1.
    assert kinds.index("close") < kinds.index("reminder")
    assert kinds[:2] == ["welcome", "segment"]
    welcome = entries[0]
    assert "8 housekeeping notes" in welcome.description and "Welcome and introduction" in welcome.description
    close = next(entry for entry in entries if entry.kind == "close")
    assert close.at == example.ends_at
    assert "reflection counts" in close.description
    assert example.evaluation_form_url and example.evaluation_form_url in close.description
    assert "Thursday 28 March" in close.description
    reminders = [entry for entry in entries if entry.kind == "reminder"]
    assert "channel" in reminders[0].description
    assert "DM" in reminders[1].description
    assert "10:00 in each recipient's own time zone" in reminders[1].description
    assert all(entry.at.tzinfo is not None and entry.at.utcoffset().total_seconds() == 0 for entry in entries)  # type: ignore[union-attr]


def test_example_plan_shows_local_times(example: Programme) -> None:
    plan = format_plan(example)
    assert plan.startswith("Provider collaboratives: improving equitably\n")
    assert "channel: set with --channel on import" in plan
    assert "Mon 26 Feb 2024 14:30 GMT" in plan
    assert "Mon 26 Feb 2024 16:00 GMT" in plan
    assert "Tue 27 Feb 2024 10:00 GMT" in plan
    assert "U0CHAIR01" in plan and "minara.chowdhury@example.org" in plan
    # Every prompt has a time, so there is nothing left for a chair to post.
    assert "posted when a chair asks" not in plan
    timeline_lines = [line for line in plan.splitlines() if re.match(r"  \w{3} \d\d \w{3} \d{4} \d\d:\d\d", line)]
    assert len(timeline_lines) == len(timeline(example))


def test_complete_example_in_the_docs_parses() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/programme-files.md should hold a complete TOML example"
    programme = parse_programme(blocks[0], source="docs example")
    assert programme.channel_id == "C0123ABCD"
    assert [prompt.at is None for prompt in programme.prompts] == [False, True, True, True]
    assert "What are you hearing that relates to equity in your own organisation?" in format_plan(programme)
    assert "posted when a chair asks:" in format_plan(programme)


# --- time zones and daylight saving --------------------------------------------------------


def test_spring_forward_instants_and_labels() -> None:
    # London's clocks go forward at 01:00 UTC on 2024-03-31: 01:00–01:59 local never happens.
    text = minimal(
        rest="""
[[agenda]]
title = "Before the change"
start = "00:45"

[[agenda]]
title = "After the change"
start = "02:15"
""",
        date_="2024-03-31",
        start="00:30",
        end="03:00",
    )
    programme = parse_programme(text, source="spring.toml")
    assert [segment.starts_at for segment in programme.segments] == [
        utc(2024, 3, 31, 0, 30),  # GMT = UTC
        utc(2024, 3, 31, 0, 45),
        utc(2024, 3, 31, 1, 15),  # BST = UTC+1
    ]
    assert programme.ends_at == utc(2024, 3, 31, 2, 0)
    plan = format_plan(programme)
    assert "date: Sun 31 Mar 2024, 00:30 GMT – 03:00 BST" in plan
    assert "Sun 31 Mar 2024 00:30 GMT" in plan
    assert "Sun 31 Mar 2024 00:45 GMT" in plan
    assert "Sun 31 Mar 2024 02:15 BST" in plan
    assert "Sun 31 Mar 2024 03:00 BST" in plan


def test_time_skipped_by_spring_forward_is_a_problem_naming_the_key() -> None:
    text = minimal(
        rest="""
[[agenda]]
title = "Lost hour"
start = "01:30"
""",
        date_="2024-03-31",
        start="00:30",
        end="03:00",
    )
    problem = problem_at(problems_of(text), "x.toml: agenda[2].start")
    assert "does not exist" in problem.message
    assert "01:00–01:59" in problem.message and "02:00" in problem.message


def test_to_utc_rejects_skipped_time() -> None:
    with pytest.raises(ValueError, match="does not exist on Sun 31 Mar 2024 in Europe/London"):
        to_utc(date(2024, 3, 31), "01:30", "Europe/London")


def test_autumn_ambiguous_time_takes_first_occurrence() -> None:
    # On 2024-10-27 London's clocks go back at 01:00 UTC: 01:30 local happens at 00:30 and 01:30 UTC.
    assert to_utc(date(2024, 10, 27), "01:30", "Europe/London") == utc(2024, 10, 27, 0, 30)
    text = minimal(
        rest="""
[[agenda]]
title = "Twice-happening time"
start = "01:30"

[[agenda]]
title = "After the change"
start = "02:30"
""",
        date_="2024-10-27",
        start="00:30",
        end="03:00",
    )
    programme = parse_programme(text, source="autumn.toml")
    assert [segment.starts_at for segment in programme.segments] == [
        utc(2024, 10, 26, 23, 30),
        utc(2024, 10, 27, 0, 30),
        utc(2024, 10, 27, 2, 30),
    ]
    plan = format_plan(programme)
    assert "Sun 27 Oct 2024 01:30 BST" in plan
    assert "Sun 27 Oct 2024 02:30 GMT" in plan


def test_event_in_new_york() -> None:
    text = minimal(
        'timezone = "America/New_York"',
        rest="""
[[reminders]]
when = "next day 09:00"
text = "Please fill in the form"
""",
        date_="2024-07-04",
        start="13:00",
        end="14:30",
    )
    programme = parse_programme(text, source="ny.toml")
    assert programme.timezone == "America/New_York"
    assert programme.starts_at == utc(2024, 7, 4, 17, 0)  # EDT = UTC-4
    assert programme.ends_at == utc(2024, 7, 4, 18, 30)
    assert programme.reminders[0].due_at == utc(2024, 7, 5, 13, 0)
    assert programme.reminders[0].local_time_for_recipient == "09:00"
    plan = format_plan(programme)
    assert "Thu 04 Jul 2024 13:00 EDT" in plan
    assert "Fri 05 Jul 2024 09:00 EDT" in plan
    assert to_utc(date(2024, 1, 15), "13:00", "America/New_York") == utc(2024, 1, 15, 18, 0)


def test_zone_without_letter_abbreviation_shows_offset() -> None:
    programme = parse_programme(minimal('timezone = "America/Sao_Paulo"'), source="sp.toml")
    assert "Mon 26 Feb 2024 14:30 UTC-03:00" in format_plan(programme)


def test_times_as_toml_local_times() -> None:
    text = minimal().replace('start = "14:30"\nend', "start = 14:30:00\nend", 1)
    assert parse_programme(text, source="t.toml").starts_at == utc(2024, 2, 26, 14, 30)
    assert parse_programme(minimal(date_='"2024-02-26"'), source="t.toml").starts_at == utc(2024, 2, 26, 14, 30)


# --- resolve_reminder_time -----------------------------------------------------------------

CLOSE = utc(2024, 2, 26, 16, 0)


@pytest.mark.parametrize(
    ("spec", "due", "local"),
    [
        ("at close", utc(2024, 2, 26, 16, 0), None),
        ("At  Close", utc(2024, 2, 26, 16, 0), None),
        ("2 hours after", utc(2024, 2, 26, 18, 0), None),
        ("1 hour after close", utc(2024, 2, 26, 17, 0), None),
        ("90 minutes after", utc(2024, 2, 26, 17, 30), None),
        ("next day 10:00", utc(2024, 2, 27, 10, 0), "10:00"),
        ("2024-02-28 09:15", utc(2024, 2, 28, 9, 15), None),
    ],
)
def test_resolve_reminder_time_forms(spec: str, due: datetime, local: str | None) -> None:
    assert resolve_reminder_time(spec, event_ends_at=CLOSE, timezone="Europe/London") == (due, local)


def test_resolve_next_day_uses_the_event_zone_across_dst() -> None:
    # An event ending 23:30 BST on Sat 30 Mar is 22:30 UTC; "next day" is Sunday 31 Mar, now BST.
    ends = utc(2024, 3, 30, 23, 30)
    due, local = resolve_reminder_time("next day 10:00", event_ends_at=ends, timezone="Europe/London")
    assert (due, local) == (utc(2024, 3, 31, 9, 0), "10:00")
    # The event's own date in New York, not UTC's: 21:00 EST on 26 Feb is already 27 Feb in UTC.
    due, _ = resolve_reminder_time("next day 10:00", event_ends_at=utc(2024, 2, 27, 2, 0), timezone="America/New_York")
    assert due == utc(2024, 2, 27, 15, 0)


@pytest.mark.parametrize("spec", ["tomorrow", "after close", "2 days after", "next day", "next day 25:00", "2024-02-30 10:00"])
def test_resolve_reminder_time_rejects_unknown_forms(spec: str) -> None:
    with pytest.raises(ValueError) as caught:
        resolve_reminder_time(spec, event_ends_at=CLOSE, timezone="Europe/London")
    assert str(caught.value)


def test_unknown_reminder_form_lists_valid_forms() -> None:
    with pytest.raises(ValueError, match="'at close'.*'N hours after'.*'next day HH:MM'.*'YYYY-MM-DD HH:MM'"):
        resolve_reminder_time("tomorrow", event_ends_at=CLOSE, timezone="Europe/London")


def test_next_day_skipped_time_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        resolve_reminder_time("next day 01:30", event_ends_at=utc(2024, 3, 30, 16, 0), timezone="Europe/London")


@pytest.mark.parametrize(
    ("spec", "due"),
    [
        ("8760 hours after", utc(2025, 2, 25, 16, 0)),
        ("525600 minutes after", utc(2025, 2, 25, 16, 0)),
        ("2025-02-25 23:59", utc(2025, 2, 25, 23, 59)),
    ],
)
def test_a_reminder_up_to_365_days_after_the_close_is_taken(spec: str, due: datetime) -> None:
    assert resolve_reminder_time(spec, event_ends_at=CLOSE, timezone="Europe/London") == (due, None)


@pytest.mark.parametrize("spec", ["8761 hours after", "525601 minutes after", "2025-02-26 00:00"])
def test_a_reminder_more_than_365_days_after_the_close_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="more than 365 days after the event's close"):
        resolve_reminder_time(spec, event_ends_at=CLOSE, timezone="Europe/London")


@pytest.mark.parametrize(
    ("day", "wall", "zone", "taken"),
    [
        (date(9998, 12, 31), "23:59", "Pacific/Pago_Pago", True),  # UTC-11: already 9999 in UTC
        (date(9999, 1, 1), "00:00", "UTC", False),
        (date(2, 1, 1), "00:00", "Asia/Tokyo", True),  # local mean time, UTC+09:18:59: still year 1 in UTC
        (date(1, 12, 31), "23:59", "UTC", False),
    ],
)
def test_the_days_eventbot_can_handle(day: date, wall: str, zone: str, taken: bool) -> None:
    if taken:
        assert to_utc(day, wall, zone).tzinfo is timezone.utc
    else:
        with pytest.raises(ValueError, match="outside the dates eventbot can handle"):
            to_utc(day, wall, zone)


def test_a_programme_on_a_day_eventbot_cannot_handle_is_one_problem_on_the_date() -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(minimal(date_="9999-06-01"), source="x.toml")
    assert [problem.where for problem in caught.value.problems] == ["x.toml: event.date"]


# --- defaults ------------------------------------------------------------------------------


def test_defaults_filled_in() -> None:
    programme = parse_programme(
        minimal(rest='[[prompts]]\ntheme = "equity"\ntext = "Equity, in your words?"\nat = "15:00"\n\n'
                '[[reminders]]\nwhen = "at close"\ntext = "Thanks"\n'),
        source="d.toml",
    )
    assert programme.timezone == "Europe/London"
    assert programme.channel_id is None
    assert programme.follow_up_days == 14
    assert programme.retention_days == 180
    assert programme.questions_need_approval is False
    assert programme.organisers == programme.chairs == programme.presenters == ()
    assert programme.segments[0].speakers == ()
    assert {prompt.theme: prompt.text for prompt in programme.prompts} == {
        **DEFAULT_PROMPTS,
        ReflectionTheme.EQUITY: "Equity, in your words?",
    }
    assert [prompt.at for prompt in programme.prompts] == [None, None, utc(2024, 2, 26, 15, 0), None]
    reminder = programme.reminders[0]
    assert reminder.audience is ReminderAudience.DIRECT_MESSAGE
    assert reminder.only_incomplete is True
    assert reminder.grace_minutes == 6 * 60
    plan = format_plan(programme)
    assert "posted when a chair asks:" in plan
    assert plan.index("posted when a chair asks:") < plan.index("What are you hearing that relates to improvement?")


def test_default_prompt_wording_is_the_seeds() -> None:
    assert DEFAULT_PROMPTS == {
        ReflectionTheme.IMPROVEMENT: "What are you hearing that relates to improvement?",
        ReflectionTheme.COLLABORATIVE_WORKING: "What are you hearing that relates to collaborative working?",
        ReflectionTheme.EQUITY: "What are you hearing that relates to equity?",
        ReflectionTheme.NEXT_STEPS: "What actions or next steps might you take following this learning?",
    }


def test_agenda_kind_defaults_to_other() -> None:
    programme = parse_programme(minimal(rest='[[agenda]]\ntitle = "Chat"\nstart = "15:00"\n'), source="k.toml")
    assert programme.segments[1].kind is SegmentKind.OTHER


# --- validation: each rule names the key and what would be valid ---------------------------


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        # unknown keys, with a suggestion and the valid keys
        (minimal(rest='[[agenda]]\ntitle = "x"\nstrat = "15:00"\n'), "agenda[2].strat", ["did you mean 'start'", "'title', 'start', 'kind', 'speakers'"]),
        (minimal('organizers = ["U0ORGANISER"]'), "event.organizers", ["did you mean 'organisers'", "'chairs'"]),
        (minimal(rest="[speakers]\nx = 1\n"), "speakers", ["unknown key", "'event', 'agenda', 'prompts', 'reminders'"]),
        # wrong types
        (minimal("follow_up_days = \"14\""), "event.follow_up_days", ["whole number", "1 to 90"]),
        (minimal("follow_up_days = true"), "event.follow_up_days", ["whole number"]),
        (minimal("questions_need_approval = \"yes\""), "event.questions_need_approval", ["true or false"]),
        (minimal('chairs = "U0CHAIR01"'), "event.chairs", ["array of strings", '["U0CHAIR01"]']),
        (minimal("housekeeping = [\"ok\", 3]"), "event.housekeeping[2]", ["must be a string"]),
        (minimal(rest='[[agenda]]\ntitle = 7\nstart = "15:00"\n'), "agenda[2].title", ["must be a string"]),
        # ranges
        (minimal("follow_up_days = 91"), "event.follow_up_days", ["1 to 90"]),
        (minimal("retention_days = 0"), "event.retention_days", ["1 to 3650"]),
        (minimal("retention_days = \"180\""), "event.retention_days", ["whole number", "1 to 3650"]),
        (minimal("retention_days = 7"), "event.retention_days", ["shorter than follow_up_days (14)"]),
        # bad time formats
        (minimal(start="2.30pm"), "event.start", ["HH:MM", "14:30"]),
        (minimal(rest='[[agenda]]\ntitle = "x"\nstart = "15:60"\n'), "agenda[2].start", ["HH:MM"]),
        (minimal(date_="2024-02-26T14:30:00"), "event.date", ["date only", "start"]),
        (minimal(date_='"26/02/2024"'), "event.date", ["YYYY-MM-DD"]),
        # order of times
        (minimal(start="16:00", end="14:30"), "event.end", ["not after the start", "16:00"]),
        (minimal(rest='[[agenda]]\ntitle = "Late"\nstart = "16:30"\n'), "agenda[2].start", ["outside the event", "14:30", "16:00"]),
        (minimal(rest='[[agenda]]\ntitle = "At the end"\nstart = "16:00"\n'), "agenda[2].start", ["outside the event"]),
        (
            minimal(rest='[[agenda]]\ntitle = "B"\nstart = "15:30"\n\n[[agenda]]\ntitle = "A"\nstart = "15:00"\n'),
            "agenda[3].start",
            ["not after the previous item's start (15:30)", "time order"],
        ),
        (minimal(rest='[[prompts]]\ntheme = "equity"\nat = "17:00"\n'), "prompts[1].at", ["outside the event", "leave `at` out"]),
        # unknown values, listing the valid ones
        (minimal(rest='[[agenda]]\ntitle = "x"\nstart = "15:00"\nkind = "talk"\n'), "agenda[2].kind", ["'talk'", "'welcome', 'presentation', 'qa', 'break', 'close', 'other'"]),
        (minimal(rest='[[prompts]]\ntheme = "equality"\n'), "prompts[1].theme", ["'equality'", "'improvement', 'collaborative_working', 'equity', 'next_steps'"]),
        (minimal(rest='[[reminders]]\nwhen = "at close"\naudience = "email"\ntext = "x"\n'), "reminders[1].audience", ["'email'", "'dm', 'direct_message', 'channel'"]),
        (minimal('timezone = "Europe/Londn"'), "event.timezone", ["Europe/Londn", "IANA", "Europe/London"]),
        # duplicates
        (minimal(rest='[[prompts]]\ntheme = "equity"\n\n[[prompts]]\ntheme = "equity"\n'), "prompts[2].theme", ["'equity'", "at most once"]),
        (minimal('chairs = ["U0CHAIR01", "U0CHAIR01"]'), "event.chairs[2]", ["listed twice"]),
        # URL, people, channel
        (minimal('evaluation_form_url = "ftp://forms.example.org/x"'), "event.evaluation_form_url", ["https://"]),
        (minimal('evaluation_form_url = "forms.example.org"'), "event.evaluation_form_url", ["https://"]),
        (minimal('presenters = ["Minara Chowdhury"]'), "event.presenters[1]", ["Slack user ID", "U0123ABCD", "email"]),
        (minimal('organisers = ["u0organiser"]'), "event.organisers[1]", ["Slack user ID"]),
        (minimal('channel = "#events"'), "event.channel", ["channel ID", "C0123ABCD"]),
        # reminders
        (minimal(rest='[[reminders]]\nwhen = "tomorrow"\ntext = "x"\n'), "reminders[1].when", ["'tomorrow'", "'at close'", "'next day HH:MM'"]),
        (minimal(rest='[[reminders]]\nwhen = "2024-02-25 10:00"\ntext = "x"\n'), "reminders[1].when", ["before the event starts", "14:30 GMT"]),
        (minimal(rest='[[reminders]]\nwhen = "at close"\n'), "reminders[1].text", ["is required"]),
        (minimal(rest='[[reminders]]\ntext = "x"\n'), "reminders[1].when", ["is required"]),
        (minimal(rest='[[reminders]]\nwhen = "at close"\ntext = "Form: {form_url}"\n'), "reminders[1].text", ["{form_url}", "evaluation_form_url"]),
        (
            minimal('evaluation_form_url = "https://forms.example.org/e"', rest='[[reminders]]\nwhen = "at close"\ntext = "Form: {form_link}"\n'),
            "reminders[1].text",
            ["{form_link}", "{form_url}"],
        ),
        (minimal(rest='[[reminders]]\nwhen = "at close"\ntext = "x"\ngrace_hours = 0\n'), "reminders[1].grace_hours", ["more than 0", "168"]),
        (minimal(rest='[[reminders]]\nwhen = "at close"\ntext = "x"\ngrace_hours = "6"\n'), "reminders[1].grace_hours", ["number of hours"]),
        (
            minimal(rest='[[reminders]]\nwhen = "at close"\naudience = "channel"\nonly_incomplete = true\ntext = "x"\n'),
            "reminders[1].only_incomplete",
            ["DM reminders", '"dm"'],
        ),
        # structure
        (minimal(rest='[agenda]\ntitle = "x"\n').replace('[[agenda]]\ntitle = "Welcome"\nstart = "14:30"\nkind = "welcome"\n', ""), "agenda", ["[[agenda]]"]),
        ('[event]\ntitle = "x"\ndate = 2024-02-26\nstart = "14:30"\nend = "16:00"\n', "agenda", ["at least one [[agenda]]"]),
        ("[[agenda]]\ntitle = \"x\"\nstart = \"14:30\"\n", "event", ["[event]", "required"]),
    ],
)
def test_validation_rule(text: str, where: str, expected: list[str]) -> None:
    problem = problem_at(problems_of(text), f"x.toml: {where}")
    for fragment in expected:
        assert fragment in problem.message, f"{fragment!r} not in {problem.message!r}"


def test_an_http_form_link_is_refused_in_the_setup_forms_words() -> None:
    problem = problem_at(problems_of(minimal('evaluation_form_url = "http://forms.example.org/e"')),
                         "x.toml: event.evaluation_form_url")
    assert problem.message == f"'http://forms.example.org/e' is not accepted. {FORM_LINK_RULE}"


def test_missing_required_event_keys_each_reported() -> None:
    problems = problems_of("[event]\n\n[[agenda]]\ntitle = \"x\"\nstart = \"14:30\"\n")
    for key in ("title", "date", "start", "end"):
        assert "required" in problem_at(problems, f"x.toml: event.{key}").message


def test_several_problems_reported_together() -> None:
    text = """
[event]
title = "Several"
date = 2024-02-26
strat = "14:30"
end = "16:00"
timezone = "Mars/Olympus"

[[agenda]]
title = "Welcome"
start = "14:30"
kind = "opening"

[[prompts]]
theme = "equality"

[[reminders]]
when = "whenever"
audience = "email"
text = "x"
"""
    problems = problems_of(text, source="examples/several.toml")
    wheres = {problem.where for problem in problems}
    assert {
        "examples/several.toml: event.strat",
        "examples/several.toml: event.start",
        "examples/several.toml: event.timezone",
        "examples/several.toml: agenda[1].kind",
        "examples/several.toml: prompts[1].theme",
        "examples/several.toml: reminders[1].when",
        "examples/several.toml: reminders[1].audience",
    } <= wheres
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(text, source="examples/several.toml")
    message = str(caught.value)
    assert message.startswith(f"{len(problems)} problems in the programme file:")
    assert "examples/several.toml: event.strat: unknown key" in message


# --- TOML syntax and files -----------------------------------------------------------------


def test_toml_syntax_error_names_the_line() -> None:
    text = '[event]\ntitle = "x"\ndate = 2024-02-26\nstart = "14:30\n'
    [problem] = problems_of(text, source="broken.toml")
    assert problem.where == "broken.toml line 4"
    assert "line 4, column" in problem.message


def test_bare_hh_mm_gets_a_hint() -> None:
    [problem] = problems_of('[event]\nstart = 14:30\n', source="bare.toml")
    assert problem.where == "bare.toml line 2"
    assert '"14:30"' in problem.message and "14:30:00" in problem.message


def test_missing_file_is_a_programme_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ProgrammeError) as caught:
        load_programme(path)
    [problem] = caught.value.problems
    assert problem.where == str(path)
    assert "no such file" in problem.message


def test_load_names_the_file_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "event.toml"
    path.write_text(minimal("follow_up_days = 0"), encoding="utf-8")
    with pytest.raises(ProgrammeError) as caught:
        load_programme(path)
    assert caught.value.problems[0].where == f"{path}: event.follow_up_days"


def test_person_ref_holds_exactly_one() -> None:
    with pytest.raises(ValueError):
        PersonRef(slack_user_id=None, email=None)
    with pytest.raises(ValueError):
        PersonRef(slack_user_id="U0123ABCD", email="a@example.org")
    programme = parse_programme(minimal('organisers = ["W0123ABCDE", "Someone@Example.org"]'), source="p.toml")
    assert programme.organisers == (
        PersonRef(slack_user_id="W0123ABCDE", email=None),
        PersonRef(slack_user_id=None, email="Someone@Example.org"),
    )

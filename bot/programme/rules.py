"""An event's programme as a document, edited in Slack and written back: the rules, no Slack.

The programme editor does not keep a second set of checks. An event's rows become the document a
programme file decodes to (`document_of`); each change the organiser makes is a change to that
document (`put_agenda_item`, `swap_agenda_items`, …); the whole document is checked by the
file's parser (`check`); only then are the rows changed (`apply`), in the caller's transaction.
What has already been posted is part of the document but is never changed: a change to a live
event reaches only the posts still to come.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import home_tabs
from bot.clock import format_local, hhmm, zone
from bot.errors import UserError
from bot.events import people
from bot.events.rules import DEFAULT_PROMPTS
from bot.models import (
    AgendaSegment,
    Event,
    EventStatus,
    ReflectionPrompt,
    Reminder,
    ReminderStatus,
    Role,
)
from bot.programme.parsing import check_document
from bot.programme.schema import (
    AGENDA_KEYS,
    DEFAULT_FOLLOW_UP_DAYS,
    EVENT_KEYS,
    PROMPT_KEYS,
    REMINDER_KEYS,
    Problem,
    Programme,
    ProgrammeError,
    PromptPlan,
    ReminderPlan,
    SegmentPlan,
)
from bot.reminders import rules as reminders
from bot.reminders.timing import FORM_URL_PLACEHOLDER, render_reminder_text

# What problems are said to be in: the editor's document has no file name.
SOURCE = "the programme"
Document = dict[str, Any]


class NotEditable(UserError):
    """The change would alter something already posted, or the event is over; the message says which."""


class ProgrammeProblems(UserError):
    """The changed programme does not pass the programme file's checks; nothing was changed."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{problem.key or problem.where}: {problem.message}" for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class Editable:
    """An event's programme as a document, with what of it has been posted already."""

    event_id: int
    document: Document
    announced: tuple[bool, ...]  # per agenda item
    posted_themes: frozenset[str]  # the themes' values, and the names of custom prompts, posted
    reminder_ids: tuple[int, ...]  # per entry of document["reminders"]
    reminder_open: tuple[bool, ...]  # scheduled: may still change
    welcomed: bool  # the welcome, with the housekeeping notes and partners, has been posted


# --- the document of an event ----------------------------------------------------------------


def _wall(moment: datetime, zone_name: str) -> str:
    return hhmm(moment.astimezone(zone(zone_name)))


def programme_reminders(session: Session, *, event: Event) -> list[Reminder]:
    """The reminders that are part of the programme: all but the cancelled, oldest first."""
    return list(session.scalars(
        select(Reminder).where(Reminder.event_id == event.id, Reminder.status != ReminderStatus.CANCELLED)
        .order_by(Reminder.id)
    ))


def _reminder_entry(reminder: Reminder, form_url: str | None) -> dict[str, Any]:
    # Rows hold the text as sent; the document holds it as an organiser writes it.
    text = reminder.text.replace(form_url, FORM_URL_PLACEHOLDER) if form_url else reminder.text
    entry: dict[str, Any] = {"when": reminder.when_spec, "audience": "channel" if reminder.audience.value == "channel"
                             else "dm"}
    if entry["audience"] == "dm":
        entry["only_incomplete"] = reminder.only_incomplete
        entry["include_team"] = reminder.include_team
    entry["text"] = text
    hours = reminder.grace_minutes / 60
    entry["grace_hours"] = int(hours) if hours == int(hours) else round(hours, 4)
    return entry


def editable(session: Session, *, event: Event) -> Editable:
    local = event.starts_at.astimezone(zone(event.timezone))

    def slack_ids(role: Role) -> list[str]:
        return [person.slack_user_id for person in people.people_with_role(session, event=event, role=role)]

    header: dict[str, Any] = {
        "title": event.title,
        "date": local.date(),
        "start": _wall(event.starts_at, event.timezone),
        "end": _wall(event.ends_at, event.timezone),
        "timezone": event.timezone,
        "channel": event.channel_id,
        "evaluation_form_url": event.evaluation_form_url,
        "follow_up_days": event.follow_up_days or DEFAULT_FOLLOW_UP_DAYS,
        "retention_days": event.retention_days,
        "questions_need_approval": event.questions_need_approval,
        "waits_for_chair": event.waits_for_chair,
        "organisers": slack_ids(Role.ORGANISER),
        "chairs": slack_ids(Role.CHAIR),
        "presenters": slack_ids(Role.PRESENTER),
        "housekeeping": list(event.housekeeping_notes or []),
        "partners": list(event.partner_organisations or []),
        "next_event": event.next_event_notice,
    }
    segments = sorted(event.segments, key=lambda segment: segment.position)
    # The four themes in their order, then the organiser's own prompts as they were added.
    prompts = sorted(event.prompts, key=lambda prompt: (_theme_order(prompt.theme.value if prompt.theme else None),
                                                        prompt.id or 0))
    rows = programme_reminders(session, event=event)
    document: Document = {
        "event": {key: value for key, value in header.items() if value is not None},
        "agenda": [{"title": segment.title, "start": _wall(segment.scheduled_at, event.timezone),
                    "kind": segment.kind.value, "speakers": list(segment.speakers or [])} for segment in segments],
        "prompts": [_prompt_entry(prompt, event.timezone) for prompt in prompts],
        "reminders": [_reminder_entry(reminder, event.evaluation_form_url) for reminder in rows],
    }
    return Editable(
        event_id=event.id,
        document=document,
        announced=tuple(segment.announced_at is not None or segment.missed for segment in segments),
        posted_themes=frozenset(_label(prompt) for prompt in event.prompts if prompt.posted_at is not None),
        reminder_ids=tuple(reminder.id for reminder in rows),
        reminder_open=tuple(reminder.status == ReminderStatus.SCHEDULED for reminder in rows),
        welcomed=event.welcome_message_ts is not None,
    )


def _label(prompt: ReflectionPrompt) -> str:
    return prompt.theme.value if prompt.theme is not None else prompt.name or ""


def _prompt_entry(prompt: ReflectionPrompt, zone_name: str) -> dict[str, Any]:
    entry: dict[str, Any] = ({"theme": prompt.theme.value} if prompt.theme is not None else {"name": prompt.name})
    entry["text"] = prompt.text
    if prompt.scheduled_at is not None:
        entry["at"] = _wall(prompt.scheduled_at, zone_name)
    return entry


def event_to_edit(session: Session, *, event_id: int, workspace_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.workspace_id != workspace_id:
        raise NotEditable("That event has been removed, so its programme cannot be changed.")
    if event.status not in (EventStatus.SCHEDULED, EventStatus.LIVE):
        raise NotEditable("That event is over, so its programme cannot be changed.")
    return event


# --- changes to a document ---------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A changed document, and which reminder row each of its reminders is (None: a new one)."""

    document: Document
    reminder_ids: tuple[int | None, ...]
    focus: int | None = None  # where the item or reminder changed now is, for its form's errors
    # A custom prompt renamed, (old name, new name): its row keeps its place and its id.
    renamed: tuple[str, str] | None = None


def _copy(before: Editable) -> tuple[Document, list[int | None]]:
    return copy.deepcopy(before.document), list(before.reminder_ids)


def _item(before: Editable, index: int, what: str) -> None:
    if not 0 <= index < len(before.document["agenda"]):
        raise NotEditable(f"That {what} is no longer in the programme: it changed since you opened it.")


def put_agenda_item(before: Editable, index: int | None, item: dict[str, Any]) -> Change:
    """Add an item (`index` None) or change one; the agenda is kept in order of start."""
    document, ids = _copy(before)
    agenda = document["agenda"]
    if index is None:
        agenda.append(item)
    else:
        _item(before, index, "agenda item")
        if before.announced[index]:
            raise NotEditable(f"Agenda item {index + 1} has been announced, so it stays as it is.")
        agenda[index] = item
    # An item moved to another time takes its place in time order (starts compare as "HH:MM").
    agenda.sort(key=lambda entry: entry.get("start") if isinstance(entry.get("start"), str) else "")
    return Change(document, tuple(ids), focus=next(position for position, entry in enumerate(agenda) if entry is item))


def remove_agenda_item(before: Editable, index: int) -> Change:
    _item(before, index, "agenda item")
    if before.announced[index]:
        raise NotEditable(f"Agenda item {index + 1} has been announced, so it stays in the programme.")
    document, ids = _copy(before)
    del document["agenda"][index]
    return Change(document, tuple(ids))


def swap_agenda_items(before: Editable, index: int, other: int) -> Change:
    """Reorder: two items trade places, and the times stay where they were in the agenda."""
    _item(before, index, "agenda item")
    if not 0 <= other < len(before.document["agenda"]):
        raise NotEditable("There is no item on that side to swap with.")
    if before.announced[index] or before.announced[other]:
        raise NotEditable("An item that has been announced keeps its place.")
    document, ids = _copy(before)
    agenda = document["agenda"]
    first, second = agenda[index], agenda[other]
    agenda[index], agenda[other] = {**second, "start": first["start"]}, {**first, "start": second["start"]}
    return Change(document, tuple(ids))


def put_prompt(before: Editable, theme: str, *, text: str, at: str | None) -> Change:
    if theme in before.posted_themes:
        raise NotEditable("That prompt has been posted, so it stays as it is.")
    document, ids = _copy(before)
    entry: dict[str, Any] = {"theme": theme, "text": text}
    if at is not None:
        entry["at"] = at
    prompts = [prompt for prompt in document["prompts"] if prompt.get("theme") != theme]
    document["prompts"] = sorted([*prompts, entry], key=lambda prompt: _theme_order(prompt.get("theme")))
    return Change(document, tuple(ids))


def _own_prompt(before: Editable, index: int) -> str:
    """The name of the custom prompt at `index` of the document's prompts, if it may still change."""
    prompts = before.document["prompts"]
    if not 0 <= index < len(prompts) or "name" not in prompts[index]:
        raise NotEditable("That prompt is no longer in the programme: it changed since you opened it.")
    name = prompts[index]["name"]
    if name in before.posted_themes:
        raise NotEditable(f"The {name} prompt has been posted, so it stays as it is.")
    return name


def put_own_prompt(before: Editable, index: int | None, *, name: str, text: str, at: str | None) -> Change:
    """Add a prompt of the organiser's own (`index` None), or change one; the four themes stay first."""
    document, ids = _copy(before)
    entry: dict[str, Any] = {"name": name, "text": text}
    if at is not None:
        entry["at"] = at
    prompts = document["prompts"]
    renamed = None
    if index is None:
        prompts.append(entry)
    else:
        old = _own_prompt(before, index)
        prompts[index] = entry
        renamed = (old, name) if old != name else None
    return Change(document, tuple(ids), focus=next(n for n, prompt in enumerate(prompts) if prompt is entry),
                  renamed=renamed)


def remove_own_prompt(before: Editable, index: int) -> Change:
    _own_prompt(before, index)
    document, ids = _copy(before)
    del document["prompts"][index]
    return Change(document, tuple(ids))


def _theme_order(theme: object) -> int:
    names = [theme.value for theme in DEFAULT_PROMPTS]
    return names.index(theme) if theme in names else len(names)


def put_notes(before: Editable, *, housekeeping: list[str], partners: list[str], next_event: str | None) -> Change:
    event = before.document["event"]
    if before.welcomed and (housekeeping != event.get("housekeeping", []) or partners != event.get("partners", [])):
        raise NotEditable("The welcome, with the housekeeping notes and the partners, has been posted, so they "
                          "stay as they are; the next-event notice can still change.")
    document, ids = _copy(before)
    document["event"]["housekeeping"] = housekeeping
    document["event"]["partners"] = partners
    if next_event is None:
        document["event"].pop("next_event", None)
    else:
        document["event"]["next_event"] = next_event
    return Change(document, tuple(ids))


def replace_with_file(before: Editable, document: Document, planned: Programme) -> Change:
    """A programme file in place of the event's programme: its agenda, prompts, notes and reminders.

    The event's title, times and people are what `/event setup` says; a file that says otherwise
    is refused rather than half taken. The event's reminders still to come give way to the file's.
    """
    event = before.document["event"]
    zone_name = event["timezone"]
    starts = f"{event['date'].isoformat()} {event['start']}–{event['end']} ({zone_name})"
    planned_zone = zone(planned.timezone)
    planned_starts = (f"{planned.starts_at.astimezone(planned_zone).date().isoformat()} "
                      f"{hhmm(planned.starts_at.astimezone(planned_zone))}–{hhmm(planned.ends_at.astimezone(planned_zone))}"
                      f" ({planned.timezone})")
    if (planned.title, planned_starts) != (event["title"], starts):
        raise NotEditable(f"the file is for {planned.title!r}, {planned_starts}, but the event in that channel is "
                          f"{event['title']!r}, {starts}: change the event with `/event setup` first, or the file")
    replaced = copy.deepcopy(dict(document))
    replaced["event"] = {**before.document["event"], **{key: value for key, value in document.get("event", {}).items()
                                                       if key in ("housekeeping", "partners", "next_event")}}
    for key in ("housekeeping", "partners", "next_event"):
        if key not in document.get("event", {}):
            replaced["event"].pop(key, None)
    # Reminders gone out stay (a file exported earlier names them too); the file's others are the
    # ones still to come, in place of the event's.
    gone_out = {reminder_id: entry for reminder_id, entry, is_open
                in zip(before.reminder_ids, before.document["reminders"], before.reminder_open, strict=True)
                if not is_open}
    entries: list[dict[str, Any]] = []
    ids: list[int | None] = []
    for entry in replaced.get("reminders", []):
        same = next((reminder_id for reminder_id, kept in gone_out.items() if kept == entry), None)
        if same is not None:
            del gone_out[same]
        entries.append(entry)
        ids.append(same)
    replaced["reminders"] = list(gone_out.values()) + entries
    ids = list(gone_out) + ids
    replaced.setdefault("agenda", [])
    replaced.setdefault("prompts", [])
    return Change(replaced, tuple(ids))


def put_reminder(before: Editable, index: int | None, entry: dict[str, Any]) -> Change:
    document, ids = _copy(before)
    if index is None:
        document["reminders"].append(entry)
        ids.append(None)
    else:
        _reminder(before, index)
        document["reminders"][index] = entry
    return Change(document, tuple(ids), focus=document["reminders"].index(entry))


def remove_reminder(before: Editable, index: int) -> Change:
    _reminder(before, index)
    document, ids = _copy(before)
    del document["reminders"][index]
    del ids[index]
    return Change(document, tuple(ids))


def _reminder(before: Editable, index: int) -> None:
    if not 0 <= index < len(before.document["reminders"]):
        raise NotEditable("That reminder is no longer in the programme: it changed since you opened it.")
    if not before.reminder_open[index]:
        raise NotEditable("That reminder has gone out (or is going out), so it stays as it is.")


# --- checking and writing ----------------------------------------------------------------------


def check(document: Document) -> Programme:
    """The programme file's checks, on the editor's document; raises ProgrammeProblems."""
    try:
        return check_document(document, source=SOURCE, agenda_required=False)
    except ProgrammeError as error:
        raise ProgrammeProblems(error.problems) from None


def apply(session: Session, *, event: Event, before: Editable, change: Change, now: datetime) -> Programme:
    """Check the changed document and write it to the event's rows; nothing is written on a problem.

    Raises ProgrammeProblems (the file's checks) or NotEditable (a post already made would change).
    """
    programme = check(change.document)
    _write_segments(session, event, programme.segments, before)
    _write_prompts(session, event, programme.prompts, renamed=change.renamed)
    event.housekeeping_notes = list(programme.housekeeping)
    event.partner_organisations = list(programme.partners)
    event.next_event_notice = programme.next_event
    _write_reminders(session, event, programme.reminders, change, before, now=now)
    session.flush()
    # Times counted from the close follow the chair's pace, as every other reminder's do.
    reminders.follow_close(session, event=event)
    home_tabs.refresh_event(session, event_id=event.id, now=now)  # their Homes show what comes next
    return programme


def _write_segments(session: Session, event: Event, plans: tuple[SegmentPlan, ...], before: Editable) -> None:
    rows = sorted(event.segments, key=lambda segment: segment.position)
    for index, row in enumerate(rows):
        plan = plans[index] if index < len(plans) else None
        if before.announced[index] if index < len(before.announced) else False:
            if plan is None or (plan.title, plan.kind, list(plan.speakers), plan.starts_at) != (
                    row.title, row.kind, list(row.speakers or []), row.scheduled_at):
                raise NotEditable(f"Agenda item {index + 1} has been announced, so it keeps its place and time: "
                                  "new items go after the ones announced.")
            continue
        if plan is None:
            event.segments.remove(row)
            session.delete(row)
            continue
        row.title, row.kind, row.speakers, row.scheduled_at = plan.title, plan.kind, list(plan.speakers), plan.starts_at
    session.flush()
    for plan in plans[len(rows):]:
        event.segments.append(AgendaSegment(event_id=event.id, position=plan.position, title=plan.title,
                                            kind=plan.kind, speakers=list(plan.speakers), scheduled_at=plan.starts_at))


def _write_prompts(session: Session, event: Event, plans: tuple[PromptPlan, ...], *,
                   renamed: tuple[str, str] | None = None) -> None:
    rows = {_label(prompt): prompt for prompt in event.prompts}
    if renamed is not None and renamed[0] in rows and rows[renamed[0]].posted_at is None:
        rows[renamed[1]] = rows.pop(renamed[0])
    planned = {plan.label for plan in plans}
    # A custom prompt taken out of the programme (the four themes always stay); gone before any
    # new one is added, so a name may pass from one prompt to another in one change.
    for label, row in rows.items():
        if label in planned:
            continue
        if row.posted_at is not None:
            raise NotEditable(f"The {label} prompt has been posted, so it stays in the programme.")
        event.prompts.remove(row)
        session.delete(row)
    session.flush()
    for plan in plans:
        row = rows.get(plan.label)
        if row is None:
            event.prompts.append(ReflectionPrompt(event_id=event.id, theme=plan.theme, name=plan.name, text=plan.text,
                                                  scheduled_at=plan.at))
        elif row.posted_at is None:
            row.name, row.text, row.scheduled_at = plan.name, plan.text, plan.at
        elif (row.text, row.scheduled_at) != (plan.text, plan.at):
            raise NotEditable(f"The {plan.label.replace('_', ' ')} prompt has been posted, so it stays as it is.")


def _write_reminders(session: Session, event: Event, plans: tuple[ReminderPlan, ...],
                     change: Change, before: Editable, *, now: datetime) -> None:
    ids = change.reminder_ids
    kept = {reminder_id for reminder_id in ids if reminder_id is not None}
    rows = {reminder.id: reminder for reminder in programme_reminders(session, event=event)}
    for reminder_id, is_open in zip(before.reminder_ids, before.reminder_open, strict=True):
        if reminder_id not in kept and reminder_id in rows:
            if not is_open:
                raise NotEditable("A reminder that has gone out stays in the programme.")
            reminders.cancel_reminder(session, reminder=rows[reminder_id], now=now)
    written = dict(zip(before.reminder_ids, before.document["reminders"], strict=True))
    for plan, reminder_id, entry in zip(plans, ids, change.document["reminders"], strict=True):
        if reminder_id is not None and written.get(reminder_id) == entry:
            continue  # unchanged, whatever its state
        values = {
            "when_spec": plan.when_spec, "due_at": plan.due_at, "local_time_for_recipient": plan.local_time_for_recipient,
            "audience": plan.audience, "only_incomplete": plan.only_incomplete, "include_team": plan.include_team,
            "text": render_reminder_text(plan.text, event.evaluation_form_url), "grace_minutes": plan.grace_minutes,
        }
        row = rows.get(reminder_id) if reminder_id is not None else None
        if row is not None and row.status != ReminderStatus.SCHEDULED:
            raise NotEditable("That reminder has gone out (or is going out), so it stays as it is.")
        if plan.due_at + timedelta(minutes=plan.grace_minutes) < now:
            raise NotEditable(f"'{plan.when_spec}' was {format_local(plan.due_at, zone(event.timezone))}, more than its "
                              "grace window ago, so the reminder would only be marked missed: pick a later time.")
        if row is None:
            session.add(Reminder(event_id=event.id, status=ReminderStatus.SCHEDULED, created_at=now, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)


# --- the document as a programme file ----------------------------------------------------------


def _toml_string(value: str) -> str:
    # TOML's basic strings: backslash escapes for the quote, the backslash and control characters.
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + "".join(f"    {_toml_value(item)},\n" for item in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _table(entries: dict[str, Any], order: tuple[str, ...]) -> list[str]:
    return [f"{key} = {_toml_value(entries[key])}" for key in order if key in entries]


def to_toml(document: Document, *, title: str) -> str:
    """A programme file that `eventbot event plan` and `import` read back to the same programme."""
    lines = [f"# The programme of {title.splitlines()[0] if title else 'an event'}, exported from Slack.",
             "# Every key is described in docs/programme-files.md.", "", "[event]"]
    lines += _table(document["event"], EVENT_KEYS)
    for name, keys in (("agenda", AGENDA_KEYS), ("prompts", PROMPT_KEYS), ("reminders", REMINDER_KEYS)):
        for entry in document[name]:
            lines += ["", f"[[{name}]]", *_table(entry, keys)]
    return "\n".join(lines) + "\n"

"""Table-driven Block Kit validation with Slack's limits and error format.

Slack reports invalid blocks as ``[ERROR] <what> [json-pointer:<where>]`` strings in
``response_metadata.messages``; this module produces the same kind of strings.

Scope: the common blocks and elements are modelled with their documented limits.
Properties the tables do not mention are accepted rather than rejected, because a
false "invalid" from the double would be worse than a missed one: it would fail an
app that real Slack accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

MESSAGE_MAX_BLOCKS = 50
SURFACE_MAX_BLOCKS = 100  # modals and Home tabs
VIEW_MAX_BYTES = 250_000

PLAIN = ("plain_text",)
PLAIN_OR_MRKDWN = ("plain_text", "mrkdwn")


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, pointer: str, message: str) -> None:
        self.items.append(f"[ERROR] {message} [json-pointer:{pointer}]")


# --------------------------------------------------------------------------- rules
# Each rule checks one property value found at ``pointer``.


@dataclass(frozen=True)
class Text:
    """A composition text object."""

    max_len: int | None = None
    plain_only: bool = False
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if not isinstance(value, dict):
            problems.add(pointer, "must provide an object")
            return
        allowed = PLAIN if self.plain_only else PLAIN_OR_MRKDWN
        if value.get("type") not in allowed:
            problems.add(f"{pointer}/type", f"must be a valid enum value: {' or '.join(allowed)}")
        _check_string(problems, value.get("text"), f"{pointer}/text", min_len=1, max_len=self.max_len)


@dataclass(frozen=True)
class Str:
    max_len: int | None = None
    required: bool = False
    pattern: str | None = None
    min_len: int = 0

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if _check_string(problems, value, pointer, min_len=self.min_len, max_len=self.max_len):
            if self.pattern and not re.fullmatch(self.pattern, value):
                problems.add(pointer, f"must match pattern {self.pattern}")


@dataclass(frozen=True)
class Bool:
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if not isinstance(value, bool):
            problems.add(pointer, "must be a boolean")


@dataclass(frozen=True)
class Int:
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(pointer, "must be an integer")
        elif self.minimum is not None and value < self.minimum:
            problems.add(pointer, f"must be at least {self.minimum}")
        elif self.maximum is not None and value > self.maximum:
            problems.add(pointer, f"must be at most {self.maximum}")


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if value not in self.values:
            problems.add(pointer, f"must be a valid enum value: {' or '.join(self.values)}")


@dataclass(frozen=True)
class Obj:
    """Any JSON object; its inside is not modelled."""

    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if not isinstance(value, dict):
            problems.add(pointer, "must provide an object")


@dataclass(frozen=True)
class Items:
    """Any JSON array with bounded length; its items are not modelled."""

    max_items: int | None = None
    min_items: int = 0
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        _check_array(problems, value, pointer, self.min_items, self.max_items)


@dataclass(frozen=True)
class TextList:
    """Section ``fields``: text objects with a count and a per-item limit."""

    max_items: int
    max_len: int
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if _check_array(problems, value, pointer, 1, self.max_items):
            item_rule = Text(self.max_len)
            for index, item in enumerate(value):
                item_rule.check(problems, item, f"{pointer}/{index}")


@dataclass(frozen=True)
class Option:
    text_plain_only: bool = True
    allow_url: bool = False
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if not isinstance(value, dict):
            problems.add(pointer, "must provide an object")
            return
        shape = {
            "text": Text(75, plain_only=self.text_plain_only, required=True),
            "value": Str(150, required=True),
            "description": Text(75, plain_only=self.text_plain_only),
        }
        if self.allow_url:
            shape["url"] = Str(3000)
        _check_fields(problems, value, pointer, shape)


@dataclass(frozen=True)
class Options:
    max_items: int
    min_items: int = 1
    text_plain_only: bool = True
    allow_url: bool = False
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if _check_array(problems, value, pointer, self.min_items, self.max_items):
            rule = Option(self.text_plain_only, self.allow_url)
            for index, item in enumerate(value):
                rule.check(problems, item, f"{pointer}/{index}")


@dataclass(frozen=True)
class OptionGroups:
    max_items: int = 100
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if _check_array(problems, value, pointer, 1, self.max_items):
            shape = {"label": Text(75, plain_only=True, required=True), "options": Options(100, required=True)}
            for index, group in enumerate(value):
                if isinstance(group, dict):
                    _check_fields(problems, group, f"{pointer}/{index}", shape)
                else:
                    problems.add(f"{pointer}/{index}", "must provide an object")


@dataclass(frozen=True)
class Confirm:
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if not isinstance(value, dict):
            problems.add(pointer, "must provide an object")
            return
        _check_fields(problems, value, pointer, _CONFIRM)


@dataclass(frozen=True)
class Element:
    """One nested block element, e.g. a section accessory or an input's element."""

    kinds: frozenset[str]
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        _check_element(problems, value, pointer, self.kinds)


@dataclass(frozen=True)
class ElementList:
    kinds: frozenset[str]
    max_items: int
    required: bool = False

    def check(self, problems: _Problems, value: Any, pointer: str) -> None:
        if _check_array(problems, value, pointer, 1, self.max_items):
            for index, item in enumerate(value):
                _check_element(problems, item, f"{pointer}/{index}", self.kinds)


Rule = (
    Text | Str | Bool | Int | Enum | Obj | Items | TextList | Option | Options | OptionGroups | Confirm | Element
    | ElementList
)
Check = Callable[[_Problems, dict[str, Any], str], None]


@dataclass(frozen=True)
class Shape:
    fields: Mapping[str, Rule]
    checks: tuple[Check, ...] = field(default=())


# --------------------------------------------------------------------------- helpers


def _check_string(problems: _Problems, value: Any, pointer: str, *, min_len: int, max_len: int | None) -> bool:
    if not isinstance(value, str):
        problems.add(pointer, "must provide a string")
        return False
    if len(value) < min_len:
        problems.add(pointer, f"must be more than {min_len - 1} characters")
        return False
    if max_len is not None and len(value) > max_len:
        problems.add(pointer, f"must be less than {max_len + 1} characters")
        return False
    return True


def _check_array(problems: _Problems, value: Any, pointer: str, min_items: int, max_items: int | None) -> bool:
    if not isinstance(value, list):
        problems.add(pointer, "must provide an array")
        return False
    if len(value) < min_items:
        problems.add(pointer, f"must provide an array with at least {min_items} items")
        return False
    if max_items is not None and len(value) > max_items:
        problems.add(pointer, f"no more than {max_items} items allowed")
        return False
    return True


def _check_fields(problems: _Problems, obj: dict[str, Any], pointer: str, shape: Mapping[str, Rule]) -> None:
    for name, rule in shape.items():
        if name not in obj:
            if rule.required:
                problems.add(pointer, f"missing required field: {name}")
            continue
        rule.check(problems, obj[name], f"{pointer}/{name}")


def _check_element(problems: _Problems, value: Any, pointer: str, kinds: frozenset[str]) -> None:
    if not isinstance(value, dict):
        problems.add(pointer, "must provide an object")
        return
    kind = value.get("type")
    if kind not in kinds:
        problems.add(f"{pointer}/type", f"must be a valid enum value: {kind!r} is not allowed here")
        return
    if kind in PLAIN_OR_MRKDWN:  # context blocks hold bare text objects
        Text(3000, plain_only=False).check(problems, value, pointer)
        return
    shape = ELEMENTS[kind]
    _check_fields(problems, value, pointer, shape.fields)
    for check in shape.checks:
        check(problems, value, pointer)


def _one_of(*names: str, exactly: bool = False) -> Check:
    def check(problems: _Problems, obj: dict[str, Any], pointer: str) -> None:
        present = [n for n in names if n in obj]
        if not present:
            problems.add(pointer, f"must provide one of: {', '.join(names)}")
        elif exactly and len(present) > 1:
            problems.add(pointer, f"must provide only one of: {', '.join(names)}")

    return check


def _length_bounds(problems: _Problems, obj: dict[str, Any], pointer: str) -> None:
    low, high = obj.get("min_length"), obj.get("max_length")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.add(f"{pointer}/min_length", "must be less than or equal to max_length")
    initial = obj.get("initial_value")
    if isinstance(initial, str) and isinstance(high, int) and len(initial) > high:
        problems.add(f"{pointer}/initial_value", f"must be less than {high + 1} characters")


def _unique_action_ids(problems: _Problems, block: dict[str, Any], pointer: str) -> None:
    seen: set[str] = set()
    for index, element in enumerate(block.get("elements") or []):
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is None:
            continue
        if action_id in seen:
            problems.add(f"{pointer}/elements/{index}/action_id", f"duplicate action_id: {action_id}")
        seen.add(action_id)


# --------------------------------------------------------------------------- tables

_CONFIRM: Mapping[str, Rule] = {
    "title": Text(100, plain_only=True, required=True),
    "text": Text(300, required=True),
    "confirm": Text(30, plain_only=True, required=True),
    "deny": Text(30, plain_only=True, required=True),
    "style": Enum(("primary", "danger")),
}

_ACTION_ID = Str(255)
_PLACEHOLDER = Text(150, plain_only=True)
_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"([01]\d|2[0-3]):[0-5]\d"

_INTERACTIVE: Mapping[str, Rule] = {"action_id": _ACTION_ID, "confirm": Confirm(), "focus_on_load": Bool()}
_SELECT: Mapping[str, Rule] = {**_INTERACTIVE, "placeholder": _PLACEHOLDER}
_MULTI: Mapping[str, Rule] = {**_SELECT, "max_selected_items": Int(minimum=1)}
_CONVERSATION_FILTERS: Mapping[str, Rule] = {"filter": Obj(), "default_to_current_conversation": Bool()}
_TEXT_INPUT: Mapping[str, Rule] = {
    "action_id": _ACTION_ID,
    "placeholder": _PLACEHOLDER,
    "focus_on_load": Bool(),
    "dispatch_action_config": Obj(),
}

ELEMENTS: Mapping[str, Shape] = {
    "button": Shape(
        {
            "text": Text(75, plain_only=True, required=True),
            "action_id": _ACTION_ID,
            "url": Str(3000),
            "value": Str(2000),
            "style": Enum(("primary", "danger")),
            "confirm": Confirm(),
            "accessibility_label": Str(75),
        }
    ),
    "workflow_button": Shape(
        {
            "text": Text(75, plain_only=True, required=True),
            "workflow": Obj(required=True),
            "action_id": _ACTION_ID,
            "style": Enum(("primary", "danger")),
            "accessibility_label": Str(75),
        }
    ),
    "static_select": Shape(
        {**_SELECT, "options": Options(100), "option_groups": OptionGroups(), "initial_option": Option()},
        (_one_of("options", "option_groups", exactly=True),),
    ),
    "multi_static_select": Shape(
        {**_MULTI, "options": Options(100), "option_groups": OptionGroups(), "initial_options": Options(100)},
        (_one_of("options", "option_groups", exactly=True),),
    ),
    "external_select": Shape({**_SELECT, "initial_option": Option(), "min_query_length": Int(minimum=0)}),
    "multi_external_select": Shape({**_MULTI, "initial_options": Options(100), "min_query_length": Int(minimum=0)}),
    "users_select": Shape({**_SELECT, "initial_user": Str(255)}),
    "multi_users_select": Shape({**_MULTI, "initial_users": Items()}),
    "conversations_select": Shape(
        {**_SELECT, **_CONVERSATION_FILTERS, "initial_conversation": Str(255), "response_url_enabled": Bool()}
    ),
    "multi_conversations_select": Shape({**_MULTI, **_CONVERSATION_FILTERS, "initial_conversations": Items()}),
    "channels_select": Shape({**_SELECT, "initial_channel": Str(255), "response_url_enabled": Bool()}),
    "multi_channels_select": Shape({**_MULTI, "initial_channels": Items()}),
    "overflow": Shape(
        {**_INTERACTIVE, "options": Options(5, min_items=2, allow_url=True, required=True)},
    ),
    "datepicker": Shape({**_SELECT, "initial_date": Str(10, pattern=_DATE)}),
    "timepicker": Shape({**_SELECT, "initial_time": Str(5, pattern=_TIME), "timezone": Str(255)}),
    "datetimepicker": Shape({**_INTERACTIVE, "initial_date_time": Int(minimum=0)}),
    "checkboxes": Shape(
        {
            **_INTERACTIVE,
            "options": Options(10, text_plain_only=False, required=True),
            "initial_options": Options(10, text_plain_only=False),
        }
    ),
    "radio_buttons": Shape(
        {
            **_INTERACTIVE,
            "options": Options(10, text_plain_only=False, required=True),
            "initial_option": Option(text_plain_only=False),
        }
    ),
    "plain_text_input": Shape(
        {
            **_TEXT_INPUT,
            "initial_value": Str(3000),
            "multiline": Bool(),
            "min_length": Int(0, 3000),
            "max_length": Int(1, 3000),
        },
        (_length_bounds,),
    ),
    "email_text_input": Shape({**_TEXT_INPUT, "initial_value": Str(3000)}),
    "url_text_input": Shape({**_TEXT_INPUT, "initial_value": Str(3000)}),
    "number_input": Shape(
        {
            **_TEXT_INPUT,
            "is_decimal_allowed": Bool(required=True),
            "initial_value": Str(255),
            "min_value": Str(255),
            "max_value": Str(255),
        }
    ),
    "rich_text_input": Shape({**_TEXT_INPUT, "initial_value": Obj()}),
    "file_input": Shape({"action_id": _ACTION_ID, "filetypes": Items(), "max_files": Int(1, 10)}),
    "image": Shape(
        {"image_url": Str(3000), "slack_file": Obj(), "alt_text": Str(2000, required=True, min_len=1)},
        (_one_of("image_url", "slack_file"),),
    ),
}

_SELECTS = {
    "static_select",
    "multi_static_select",
    "external_select",
    "multi_external_select",
    "users_select",
    "multi_users_select",
    "conversations_select",
    "multi_conversations_select",
    "channels_select",
    "multi_channels_select",
}
ACTIONS_ELEMENTS = frozenset(
    _SELECTS
    | {"button", "workflow_button", "overflow", "datepicker", "timepicker", "datetimepicker"}
    | {"checkboxes", "radio_buttons", "rich_text_input"}
)
SECTION_ACCESSORIES = frozenset(
    _SELECTS
    | {"button", "workflow_button", "overflow", "datepicker", "timepicker", "checkboxes", "radio_buttons", "image"}
)
INPUT_ELEMENTS = frozenset(
    _SELECTS
    | {"plain_text_input", "email_text_input", "url_text_input", "number_input", "rich_text_input", "file_input"}
    | {"datepicker", "timepicker", "datetimepicker", "checkboxes", "radio_buttons"}
)
CONTEXT_ELEMENTS = frozenset({"image", "plain_text", "mrkdwn"})

_BLOCK_ID = Str(255)

BLOCKS: Mapping[str, Shape] = {
    "section": Shape(
        {
            "text": Text(3000),
            "fields": TextList(10, 2000),
            "accessory": Element(SECTION_ACCESSORIES),
            "block_id": _BLOCK_ID,
            "expand": Bool(),
        },
        (_one_of("text", "fields"),),
    ),
    "header": Shape({"text": Text(150, plain_only=True, required=True), "block_id": _BLOCK_ID}),
    "divider": Shape({"block_id": _BLOCK_ID}),
    "image": Shape(
        {
            "image_url": Str(3000),
            "slack_file": Obj(),
            "alt_text": Str(2000, required=True, min_len=1),
            "title": Text(2000, plain_only=True),
            "block_id": _BLOCK_ID,
        },
        (_one_of("image_url", "slack_file"),),
    ),
    "context": Shape({"elements": ElementList(CONTEXT_ELEMENTS, 10, required=True), "block_id": _BLOCK_ID}),
    "actions": Shape(
        {"elements": ElementList(ACTIONS_ELEMENTS, 25, required=True), "block_id": _BLOCK_ID},
        (_unique_action_ids,),
    ),
    "input": Shape(
        {
            "label": Text(2000, plain_only=True, required=True),
            "element": Element(INPUT_ELEMENTS, required=True),
            "hint": Text(2000, plain_only=True),
            "optional": Bool(),
            "dispatch_action": Bool(),
            "block_id": _BLOCK_ID,
        }
    ),
    "rich_text": Shape({"elements": Items(required=True), "block_id": _BLOCK_ID}),
    "markdown": Shape({"text": Str(12000, required=True, min_len=1), "block_id": _BLOCK_ID}),
    "file": Shape({"external_id": Str(255, required=True), "source": Str(required=True), "block_id": _BLOCK_ID}),
    "video": Shape(
        {
            "alt_text": Str(required=True),
            "title": Text(200, plain_only=True, required=True),
            "video_url": Str(3000, required=True),
            "thumbnail_url": Str(3000, required=True),
            "block_id": _BLOCK_ID,
        }
    ),
}

_VIEW_COMMON: Mapping[str, Rule] = {
    "private_metadata": Str(3000),
    "callback_id": Str(255),
    "external_id": Str(255),
}
VIEWS: Mapping[str, Mapping[str, Rule]] = {
    "modal": {
        **_VIEW_COMMON,
        "title": Text(24, plain_only=True, required=True),
        "submit": Text(24, plain_only=True),
        "close": Text(24, plain_only=True),
        "clear_on_close": Bool(),
        "notify_on_close": Bool(),
        "submit_disabled": Bool(),
    },
    "home": {**_VIEW_COMMON},
}


# --------------------------------------------------------------------------- entry points


def validate_blocks(blocks: Any, *, max_blocks: int = MESSAGE_MAX_BLOCKS, pointer: str = "/blocks") -> list[str]:
    """Problems with a ``blocks`` array, as Slack's ``[ERROR] ... [json-pointer:...]`` strings."""
    problems = _Problems()
    _validate_blocks(problems, blocks, pointer, max_blocks)
    return problems.items


def validate_view(view: Any, *, pointer: str = "/view") -> list[str]:
    """Problems with a modal or Home tab view object."""
    problems = _Problems()
    if not isinstance(view, dict):
        problems.add(pointer, "must provide an object")
        return problems.items
    kind = view.get("type")
    if kind not in VIEWS:
        problems.add(f"{pointer}/type", f"must be a valid enum value: {' or '.join(VIEWS)}")
        return problems.items
    _check_fields(problems, view, pointer, VIEWS[kind])
    if "blocks" not in view:
        problems.add(pointer, "missing required field: blocks")
        return problems.items
    _validate_blocks(problems, view["blocks"], f"{pointer}/blocks", SURFACE_MAX_BLOCKS)
    has_inputs = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
    if kind == "modal" and has_inputs and "submit" not in view:
        problems.add(pointer, "missing required field: submit (a modal with input blocks must have one)")
    return problems.items


def _validate_blocks(problems: _Problems, blocks: Any, pointer: str, max_blocks: int) -> None:
    if not _check_array(problems, blocks, pointer, 0, max_blocks):
        return
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict):
            problems.add(where, "must provide an object")
            continue
        kind = block.get("type")
        shape = BLOCKS.get(kind) if isinstance(kind, str) else None
        if shape is None:
            problems.add(f"{where}/type", f"must be a valid enum value: unknown block type {kind!r}")
            continue
        _check_fields(problems, block, where, shape.fields)
        for check in shape.checks:
            check(problems, block, where)
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                problems.add(f"{where}/block_id", f"duplicate block_id: {block_id}")
            seen_block_ids.add(block_id)


# --------------------------------------------------------------------------- lookups


def iter_interactive(blocks: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) pairs for every element a user can act on."""
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, dict):
                    yield block, element
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            if block["accessory"].get("type") != "image":
                yield block, block["accessory"]
        elif kind == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    for block, element in iter_interactive(blocks):
        if element.get("action_id") == action_id and (block_id is None or block.get("block_id") == block_id):
            return block, element
    return None


def fill_generated_ids(blocks: list[dict[str, Any]], new_id: Callable[[], str]) -> list[dict[str, Any]]:
    """Give every block a ``block_id`` and every interactive element an ``action_id``.

    Slack stores blocks that way (it invents short ids when the app gives none), and
    apps see those ids in interaction payloads, so stored copies carry them too.
    """
    for block in blocks:
        if isinstance(block, dict) and "block_id" not in block:
            block["block_id"] = new_id()
    for _block, element in iter_interactive(blocks):
        if "action_id" not in element:
            element["action_id"] = new_id()
    return blocks

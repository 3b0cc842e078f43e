"""Reading ids, texts, form values and private_metadata out of what Slack sends (handlers/payloads.py)."""

from __future__ import annotations

import json

import pytest

from bot.models import MAX_ROW_ID
from bot.slack.views import VALUE
from handlers import payloads
from handlers.payloads import OutOfDate


@pytest.mark.parametrize(("value", "expected"),
                         [(1, 1), ("42", 42), (MAX_ROW_ID, MAX_ROW_ID), (str(MAX_ROW_ID), MAX_ROW_ID)])
def test_a_row_id_is_a_number_or_its_digits(value: object, expected: int) -> None:
    assert payloads.positive_id(value) == expected


@pytest.mark.parametrize("value", [
    None, "", "abc", " 1", "1.5", "-1", "0", 0, -3, True, 1.0, [], {}, "١٢",  # Arabic-Indic digits: isdigit() says yes
    MAX_ROW_ID + 1, str(MAX_ROW_ID + 1), 2**63, "99999999999999999999999", 2**70,
])
def test_anything_else_is_out_of_date(value: object) -> None:
    with pytest.raises(OutOfDate, match="That form or button is out of date"):
        payloads.positive_id(value)


def test_an_optional_id_may_be_null_but_not_anything_else() -> None:
    assert payloads.optional_id(None) is None
    assert payloads.optional_id(7) == 7
    with pytest.raises(OutOfDate):
        payloads.optional_id("")


@pytest.mark.parametrize("body", [{}, {"user": None}, {"user": "U0ATTEND01"}, {"user": {}}, {"user": {"id": 5}},
                                  {"user": {"id": ""}}, {"user": {"id": "u0lower"}}, {"user": {"id": "U" * 33}}])
def test_an_interaction_must_say_who_is_using_it(body: dict) -> None:
    with pytest.raises(OutOfDate, match="which person"):
        payloads.user_id(body)


def test_the_channel_comes_from_the_interaction_or_the_message_that_holds_the_button() -> None:
    assert payloads.user_id({"user": {"id": "U0ATTEND01"}}) == "U0ATTEND01"
    assert payloads.channel_id({"channel": {"id": "C0PROVCOLL"}}) == "C0PROVCOLL"
    assert payloads.channel_id({"container": {"channel_id": "D0SOMEDM01"}}) == "D0SOMEDM01"
    for body in ({}, {"channel": "C0PROVCOLL"}, {"container": {"channel_id": 5}}, {"channel": {"id": ["C1"]}}):
        with pytest.raises(OutOfDate, match="which channel"):
            payloads.channel_id(body)


@pytest.mark.parametrize("metadata", [None, "", "not json", "[]", "null", "1", '"C0PROVCOLL"', '{"event_id": 1}',
                                      "[" * 100_000])
def test_private_metadata_must_be_an_object_with_its_keys(metadata: object) -> None:
    with pytest.raises(OutOfDate, match="details are missing"):
        payloads.metadata({"private_metadata": metadata}, "channel_id")


def test_private_metadata_with_its_keys_is_read() -> None:
    view = {"private_metadata": json.dumps({"channel_id": "C0PROVCOLL", "event_id": None})}
    assert payloads.metadata(view, "channel_id") == {"channel_id": "C0PROVCOLL", "event_id": None}


def state(**blocks: object) -> dict:
    return {"state": {"values": blocks}}


def test_form_values_are_plain_values_by_block_id() -> None:
    view = state(
        question={VALUE: {"type": "plain_text_input", "value": "Why?"}},
        empty={VALUE: {"type": "plain_text_input", "value": None}},
        date={VALUE: {"type": "datepicker", "selected_date": "2031-03-28"}},
        start={VALUE: {"type": "timepicker", "selected_time": "14:00"}},
        chairs={VALUE: {"type": "multi_users_select", "selected_users": ["U0CHAIR01"]}},
        for_presenter={VALUE: {"type": "static_select", "selected_option": {"value": "U0PRES01"}}},
        audience={VALUE: {"type": "radio_buttons", "selected_option": None}},
        anonymous={VALUE: {"type": "checkboxes", "selected_options": [{"value": "anonymous"}]}},
    )
    assert payloads.form_values(view) == {
        "question": "Why?", "empty": None, "date": "2031-03-28", "start": "14:00", "chairs": ["U0CHAIR01"],
        "for_presenter": "U0PRES01", "audience": None, "anonymous": ["anonymous"],
    }


@pytest.mark.parametrize("view", [
    {}, {"state": None}, {"state": {}}, {"state": {"values": [1]}},
    state(question="hi"), state(question={"other_action": {"type": "plain_text_input", "value": "hi"}}),
    state(question={VALUE: ["hi"]}),
    state(question={VALUE: {"type": "plain_text_input", "value": 5}}),
    state(date={VALUE: {"type": "datepicker", "selected_date": ["2031-03-28"]}}),
    state(chairs={VALUE: {"type": "multi_users_select", "selected_users": "U0CHAIR01"}}),
    state(chairs={VALUE: {"type": "multi_users_select", "selected_users": [5]}}),
    state(into={VALUE: {"type": "static_select", "selected_option": "12"}}),
    state(into={VALUE: {"type": "static_select", "selected_option": {"value": 12}}}),
    state(anonymous={VALUE: {"type": "checkboxes", "selected_options": ["anonymous"]}}),
    state(anonymous={VALUE: {"type": "checkboxes", "selected_options": {"value": "anonymous"}}}),
])
def test_a_form_whose_state_is_not_as_slack_sends_it_is_out_of_date(view: dict) -> None:
    with pytest.raises(OutOfDate):
        payloads.form_values(view)


@pytest.mark.parametrize(("value", "expected"), [(None, ""), ("", ""), ("hi", "hi")])
def test_text_is_a_string_or_nothing(value: object, expected: str) -> None:
    assert payloads.text(value) == expected


@pytest.mark.parametrize("value", [5, ["hi"], {"text": "hi"}, True])
def test_text_of_another_type_is_out_of_date(value: object) -> None:
    with pytest.raises(OutOfDate):
        payloads.text(value)


@pytest.mark.parametrize("value", [None, "", "not-a-ts", "1700000000", 1700000000.0001, "1700000000.000100 ", "1" * 40])
def test_a_message_ts_is_seconds_dot_micros(value: object) -> None:
    with pytest.raises(OutOfDate, match="which message"):
        payloads.message_ts(value)
    assert payloads.message_ts("1700000000.000100") == "1700000000.000100"


def test_the_clicked_message_keeps_only_what_can_be_sent_back() -> None:
    body = {"container": {"message_ts": "1700000000.000100"},
            "message": {"text": "Evaluation form", "blocks": [{"type": "section"}, "junk", 5]}}
    assert payloads.clicked_message(body) == ("1700000000.000100", [{"type": "section"}], "Evaluation form")
    assert payloads.clicked_message({"container": "x", "message": {"blocks": "x", "text": 5}}) == (None, [], "")

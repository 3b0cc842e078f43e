"""Live Q&A in Slack, from the signed request to the posted card, as attendees and chairs use it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.apprunner import RunningApp, migrate, start_eventbot
from tests.cast import ATTENDEES, CHAIR, CHANNEL, PRESENTERS, seed_programme
from tests.slackdouble import SlackDouble
from tests.test_running_a_session import chair, channel_texts, run_cli

MINARA = PRESENTERS["minara.chowdhury@example.org"]


@pytest.fixture
def app(slack: SlackDouble, database_url: str, tmp_path: Path) -> Iterator[RunningApp]:
    migrate(database_url)
    programme = seed_programme(date.today() + timedelta(days=2), tmp_path)
    result = run_cli("event", "import", str(programme), "--channel", CHANNEL, slack=slack, database_url=database_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    running = start_eventbot("serve", api_url=slack.api_url, database_url=database_url, log_dir=tmp_path)
    slack.set_app_url(running.events_url)
    chair(slack, "start")
    slack.wait_for(lambda: "Now: Welcome and introduction" in channel_texts(slack), timeout=15)
    yield running
    running.stop()


def cards(slack: SlackDouble) -> list[dict]:
    return [m for m in slack.messages(CHANNEL) if m["text"].startswith("Question:")]


def card_text(message: dict) -> str:
    return json.dumps(message["blocks"])


def button(message: dict, action_id: str) -> dict:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} on the card")


def ask(slack: SlackDouble, user: str, text: str) -> dict:
    """What the asker is told: a refusal in the ack, or, once the question is saved, a reply after it."""
    before = len(slack.ephemeral(CHANNEL, user))
    response = slack.send_slash_command("/ask", text, user_id=user, channel_id=CHANNEL)
    assert response.status == 200
    if response.json and response.json.get("text"):
        return response.json
    if not text.strip():
        return {}  # the ask form opens instead
    return slack.wait_for(lambda: slack.ephemeral(CHANNEL, user)[before:], timeout=10)[-1]


def moderate(slack: SlackDouble, user: str, message: dict, choice: str) -> None:
    """Pick `choice` ("answered_live", "answer", "follow_up", "dismiss", "merge") in the card's overflow."""
    menu = button(message, "question_more")
    value = next(o["value"] for o in menu["options"] if o["value"].startswith(f"{choice}:"))
    response = slack.send_block_action(user_id=user, action_id="question_more", channel_id=CHANNEL,
                                       message_ts=message["ts"], selected_option=value)
    assert response.status == 200


def click(slack: SlackDouble, user: str, message: dict, action_id: str, **extra) -> None:  # type: ignore[no-untyped-def]
    element = button(message, action_id)
    response = slack.send_block_action(user_id=user, action_id=action_id, value=element.get("value"),
                                       channel_id=CHANNEL, message_ts=message["ts"], **extra)
    assert response.status == 200


def test_asking_escapes_text_and_refuses_bad_questions(app: RunningApp, slack: SlackDouble) -> None:
    reply = ask(slack, ATTENDEES[0], "Does this ping <!channel> or <@U0CHAIR01>? See <https://x.example|y>")
    assert "posted in the channel" in reply["text"]
    slack.wait_for(lambda: cards(slack), timeout=10)
    shown = card_text(cards(slack)[0])
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "&lt;@U0CHAIR01&gt;" in shown and "&lt;https://x.example|y&gt;" in shown
    assert "Asked by <@U0ATTEND01>" in shown and "during Welcome and introduction" in shown

    assert "1001 characters" in ask(slack, ATTENDEES[1], "x" * 1001)["text"]
    assert len(cards(slack)) == 1


def test_the_ask_form_with_presenter_and_anonymity(app: RunningApp, slack: SlackDouble) -> None:
    ask(slack, ATTENDEES[2], "")
    view = slack.wait_for(lambda: slack.open_views(ATTENDEES[2]), timeout=10)[-1]
    empty = slack.submit_view(view["id"], user_id=ATTENDEES[2], values={"question": {"value": "   "}})
    assert empty.json["response_action"] == "errors" and "empty" in empty.json["errors"]["question"]
    done = slack.submit_view(view["id"], user_id=ATTENDEES[2], values={
        "question": {"value": "How do we sustain the gains?"}, "for_presenter": {"value": MINARA},
        "anonymous": {"value": ["anonymous"]}})
    assert done.status == 200 and done.json is None
    slack.wait_for(lambda: cards(slack), timeout=10)
    shown = card_text(cards(slack)[0])
    assert "Asked anonymously" in shown and f"for <@{MINARA}>" in shown
    assert ATTENDEES[2] not in shown


def test_votes_count_once_per_person_and_the_card_follows(app: RunningApp, slack: SlackDouble) -> None:
    ask(slack, ATTENDEES[0], "How do we scale?")
    card = slack.wait_for(lambda: cards(slack), timeout=10)[0]
    for voter in ATTENDEES[1:6]:
        click(slack, voter, card, "question_upvote")
    click(slack, ATTENDEES[1], card, "question_upvote")  # a double click
    slack.wait_for(lambda: "Upvote (5)" in card_text(cards(slack)[0]), timeout=15)
    assert len(slack.calls_to("chat.update")) <= 5  # coalesced, never one per click beyond the card count


def test_only_chairs_moderate_and_askers_are_told(app: RunningApp, slack: SlackDouble) -> None:
    asked = ["Who owns the improvement data?", "Is this on topic?", "Who owns the data?", "What about scale?"]
    for asker, text in zip(ATTENDEES, asked):
        ask(slack, asker, text)
    slack.wait_for(lambda: len(cards(slack)) == 4, timeout=10)
    # Cards are posted as each question is stored, not necessarily in the order asked.
    first, second, third, fourth = (next(c for c in cards(slack) if c["text"] == f"Question: {text}") for text in asked)

    # The public card offers everyone only what everyone may do: Upvote, and the moderators' menu.
    assert [e["type"] for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]] == ["button", "overflow"]
    before = slack.messages(CHANNEL)
    moderate(slack, ATTENDEES[5], first, "answered_live")
    slack.wait_for(lambda: any("Only a chair or moderator" in e["text"] for e in slack.ephemeral(user_id=ATTENDEES[5])), timeout=10)
    moderate(slack, ATTENDEES[5], first, "dismiss")
    slack.wait_for(lambda: len([e for e in slack.ephemeral(user_id=ATTENDEES[5]) if "Only a chair" in e["text"]]) == 2,
                   timeout=10)
    assert slack.messages(CHANNEL) == before and not slack.open_views(ATTENDEES[5])

    moderate(slack, CHAIR, first, "answer")
    view = slack.wait_for(lambda: slack.open_views(CHAIR), timeout=10)[-1]
    assert slack.submit_view(view["id"], user_id=CHAIR, values={"answer": {"value": "The team <b>does</b>"}}).status == 200
    slack.wait_for(lambda: any(r["text"].startswith("Answer:") for r in slack.replies(CHANNEL, first["ts"])), timeout=10)
    answer = slack.replies(CHANNEL, first["ts"])[-1]
    assert "The team &lt;b&gt;does&lt;/b&gt;" in json.dumps(answer["blocks"])
    slack.wait_for(lambda: any("answered" in m["text"] for m in slack.dms(ATTENDEES[0])), timeout=10)

    moderate(slack, CHAIR, second, "dismiss")
    view = slack.wait_for(lambda: slack.open_views(CHAIR), timeout=10)[-1]
    slack.submit_view(view["id"], user_id=CHAIR, values={"reason": {"value": "Off topic for today"}})
    slack.wait_for(lambda: any("Off topic for today" in m["text"] for m in slack.dms(ATTENDEES[1])), timeout=10)
    slack.wait_for(lambda: "Removed by a chair" in card_text(slack.message(CHANNEL, second["ts"])), timeout=10)
    assert "Off topic" not in card_text(slack.message(CHANNEL, second["ts"]))  # the reason stays private

    moderate(slack, CHAIR, third, "merge")
    view = slack.wait_for(lambda: slack.open_views(CHAIR), timeout=10)[-1]
    into = next(o["value"] for o in view["blocks"][1]["element"]["options"] if o["text"]["text"].startswith("What about"))
    slack.submit_view(view["id"], user_id=CHAIR, values={"into": {"value": into}})
    slack.wait_for(lambda: f"<@{ATTENDEES[2]}> and" in card_text(slack.message(CHANNEL, fourth["ts"]))
                   or f"and <@{ATTENDEES[2]}>" in card_text(slack.message(CHANNEL, fourth["ts"])), timeout=10)
    # Redraws are paced (chat.update's budget), so the two cards may change a moment apart.
    slack.wait_for(lambda: "Merged into another question" in card_text(slack.message(CHANNEL, third["ts"])), timeout=10)

    moderate(slack, CHAIR, slack.message(CHANNEL, fourth["ts"]), "follow_up")
    slack.wait_for(lambda: "Kept for follow-up" in card_text(slack.message(CHANNEL, fourth["ts"])), timeout=10)


def test_add_as_question_and_ask_aloud(app: RunningApp, slack: SlackDouble) -> None:
    message = slack.user_posts(ATTENDEES[4], CHANNEL, "Has anyone tried this with care homes?")
    response = slack.send_message_shortcut("add_as_question", user_id=CHAIR, channel_id=CHANNEL, message_ts=message["ts"])
    assert response.status == 200
    slack.wait_for(lambda: cards(slack), timeout=10)
    assert f"Asked by <@{ATTENDEES[4]}>" in card_text(cards(slack)[0])

    assert "you are next" in ask(slack, ATTENDEES[7], "aloud")["text"]
    assert "1 ahead of you" in ask(slack, ATTENDEES[8], "aloud")["text"]
    queue = chair(slack, "queue")
    assert queue.index(ATTENDEES[7]) < queue.index(ATTENDEES[8])
    refused = slack.send_slash_command("/event", "queue", user_id=ATTENDEES[8], channel_id=CHANNEL)
    assert refused.status == 200
    slack.wait_for(lambda: any("Only a chair or organiser" in e["text"] for e in slack.ephemeral(user_id=ATTENDEES[8])),
                   timeout=10)
    queue_message = next(e for e in reversed(slack.ephemeral(user_id=CHAIR)) if "waiting to speak" in e["text"])
    slack.send_block_action(user_id=CHAIR, action_id="speaking_bring_in", value="next", channel_id=CHANNEL,
                            message_ts=queue_message["ts"])
    slack.wait_for(lambda: any("bringing you in" in m["text"] for m in slack.dms(ATTENDEES[7])), timeout=10)
    assert not slack.dms(ATTENDEES[8])


def test_approval_mode(app: RunningApp, slack: SlackDouble) -> None:
    assert "Only a chair or organiser" in chair(slack, "approval on", user=ATTENDEES[3])
    assert "wait for a chair's approval" in chair(slack, "approval on")
    assert "waiting for a chair's approval" in ask(slack, ATTENDEES[0], "Can we see the slides?")["text"]
    request = slack.wait_for(lambda: [m for m in slack.dms(CHAIR) if "Waiting for approval" in json.dumps(m["blocks"])], timeout=10)[0]
    assert cards(slack) == []
    slack.send_block_action(user_id=CHAIR, action_id="question_approve", value=button(request, "question_approve")["value"],
                            channel_id=slack.im_channel(CHAIR), message_ts=request["ts"])
    slack.wait_for(lambda: cards(slack), timeout=10)
    assert "Can we see the slides?" in card_text(cards(slack)[0])
    assert channel_texts(slack)


def test_anyone_sees_the_leading_questions_lowers_a_hand_and_votes_stop_at_the_close(
    app: RunningApp, slack: SlackDouble
) -> None:
    ask(slack, ATTENDEES[0], "Who owns the improvement data?")
    ask(slack, ATTENDEES[1], "Who interprets it? <!here>")
    slack.wait_for(lambda: len(cards(slack)) == 2, timeout=10)
    second = next(c for c in cards(slack) if "interprets" in c["text"])
    for voter in ATTENDEES[2:5]:
        click(slack, voter, second, "question_upvote")
    slack.wait_for(lambda: "Upvote (3)" in card_text(next(c for c in cards(slack) if c["ts"] == second["ts"])),
                   timeout=15)

    top = ask(slack, ATTENDEES[6], "top")
    shown = json.dumps(top.get("blocks") or top)
    assert shown.index("interprets") < shown.index("owns the improvement data")  # most votes first
    assert "*3* votes" in shown and "&lt;!here&gt;" in shown and "<!here>" not in shown
    assert ATTENDEES[0] not in shown and ATTENDEES[1] not in shown  # what every card shows, and no more

    assert "in the queue to speak" in ask(slack, ATTENDEES[7], "aloud")["text"]
    assert "Your hand is lowered" in ask(slack, ATTENDEES[7], "lower")["text"]
    assert "Nobody is waiting to speak" in chair(slack, "queue")
    assert "was not raised" in ask(slack, ATTENDEES[7], "lower")["text"]

    assert "is closed" in chair(slack, "close")
    before = len(slack.response_url_posts)
    click(slack, ATTENDEES[8], second, "question_upvote")
    slack.wait_for(lambda: len(slack.response_url_posts) > before, timeout=10)
    assert "votes no longer count" in slack.response_url_posts[-1]["text"]


def test_the_ask_form_names_presenters_and_follows_a_rename(app: RunningApp, slack: SlackDouble) -> None:
    ask(slack, ATTENDEES[2], "")
    view = slack.wait_for(lambda: slack.open_views(ATTENDEES[2]), timeout=10)[-1]
    options = {o["value"]: o["text"]["text"] for b in view["blocks"] if b.get("block_id") == "for_presenter"
               for o in b["element"]["options"]}
    assert options[MINARA] == "Minara Chowdhury"  # looked up when the programme came in, not "U0MINARA1"
    # She changes her display name in Slack: Slack tells eventbot, and the next form follows.
    slack.send_event({"type": "user_change", "user": {"id": MINARA, "name": "minara", "real_name": "Dr Minara Chowdhury",
                                                      "tz": "Europe/London", "profile": {"display_name": "Minara"}}})
    slack.drain()
    ask(slack, ATTENDEES[3], "")
    view = slack.wait_for(lambda: slack.open_views(ATTENDEES[3]), timeout=10)[-1]
    options = {o["value"]: o["text"]["text"] for b in view["blocks"] if b.get("block_id") == "for_presenter"
               for o in b["element"]["options"]}
    assert options[MINARA] == "Dr Minara Chowdhury"

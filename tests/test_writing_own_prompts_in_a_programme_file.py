"""An organiser writes prompts of their own in a programme file: checked, planned and exported."""

from __future__ import annotations

import pytest

from bot.programme.parsing import parse_programme
from bot.programme.plan import format_plan
from bot.programme.schema import ProgrammeError
from tests.cast import DAY, seed_programme_text


def with_prompts(prompts: str) -> str:
    return seed_programme_text(DAY).replace("# --- evaluation reminders", prompts + "\n# ---", 1)


def problems(prompts: str) -> list[str]:
    with pytest.raises(ProgrammeError) as raised:
        parse_programme(with_prompts(prompts), source="f.toml")
    return [f"{problem.key}: {problem.message}" for problem in raised.value.problems]


def test_own_prompts_follow_the_four_themes_and_are_planned_under_their_names() -> None:
    programme = parse_programme(with_prompts(
        '[[prompts]]\nname = "Wellbeing"\ntext = "How will you rest?"\nat = "15:45"\n\n'
        '[[prompts]]\nname = "  Quick win "\ntext = "One small change?"\n'), source="f.toml")
    assert [(p.theme, p.name, p.text) for p in programme.prompts[4:]] == [
        (None, "Wellbeing", "How will you rest?"), (None, "Quick win", "One small change?")]
    assert [p.label for p in programme.prompts] == [
        "improvement", "collaborative_working", "equity", "next_steps", "Wellbeing", "Quick win"]
    plan = format_plan(programme)
    assert "prompt    Reflection prompt (Wellbeing): How will you rest?" in plan
    assert "posted when a chair asks:\n  reflection prompt (Quick win): One small change?" in plan


def test_what_an_own_prompt_may_not_be() -> None:
    assert problems('[[prompts]]\nname = "Tea"\ntheme = "equity"\ntext = "x"\n') == [
        "prompts[5].name: give either `theme` (one of the four themes) or `name` (a prompt of your own), not both",
        "prompts[5].theme: 'equity' has a prompt already; each theme appears at most once"]
    assert problems('[[prompts]]\nname = "Tea"\n') == [
        "prompts[5].text: is required for a prompt of your own: the question to post"]
    assert problems('[[prompts]]\nname = "Two\\nlines"\ntext = "x"\n') == [
        "prompts[5].name: must be one line of plain text, with no tabs or line breaks"]
    assert problems('[[prompts]]\nname = "Collaboration"\ntext = "x"\n') == [
        "prompts[5].name: 'Collaboration' would be taken for the collaborative_working theme; use "
        '`theme = "collaborative_working"` to reword that prompt, or choose another name']
    eleven = "".join(f'[[prompts]]\nname = "Own {n}"\ntext = "x"\n\n' for n in range(11))
    assert problems(eleven) == [
        "prompts[15].name: an event has at most 10 prompts of its own beside the four themes"]
    assert problems('[[prompts]]\nname = 7\ntext = "x"\n') == ["prompts[5].name: must be a string, not an integer"]

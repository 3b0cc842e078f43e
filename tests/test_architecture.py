"""The layering we agreed on, checked: the domain never reaches up into Slack listeners."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPOSITION_ROOT = ROOT / "bot" / "app.py"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_bot_does_not_import_handlers_except_the_composition_root() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if path != COMPOSITION_ROOT
        and any(name == "handlers" or name.startswith("handlers.") for name in _imported_modules(path))
    ]
    assert offenders == []


def test_domain_modules_do_not_import_bolt() -> None:
    slack_facing = {ROOT / "bot" / "app.py", ROOT / "bot" / "web.py", ROOT / "bot" / "server.py", ROOT / "bot" / "cli.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if path not in slack_facing
        and "rehearsal" not in path.parts
        and any(name.startswith("slack_bolt") for name in _imported_modules(path))
    ]
    assert offenders == []


def test_handlers_hold_no_sql() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "handlers").rglob("*.py")
        if any(name == "sqlalchemy" or name.startswith("sqlalchemy.") for name in _imported_modules(path))
    ]
    assert offenders == []

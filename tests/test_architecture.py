"""The shape in docs/architecture.md, checked: one folder per domain, arrows one way, no circles."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"

# Lowest first: a domain may import the ones before it, never one after it.
DOMAINS = ("events", "reflections", "organisations", "run_of_show", "questions", "reminders", "reports", "privacy",
           "programme", "home")
COMPOSITION = {"app", "cli", "server", "web", "scheduler", "rehearsal"}
SLACK_SIDE = {"slack", "importing", "intake"}
POSTS = {"posts"}
BLOCK_KIT = {"blocks", "digest_blocks", "follow_up_blocks"}
BOLT_ALLOWED = {"bot.app", "bot.web", "bot.server", "bot.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def bot_modules() -> dict[str, Path]:
    return {module_name(path): path for path in BOT.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # `from bot.questions import rules` imports the module bot.questions.rules
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def bot_imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    return {name for name in imports_of(path) if name in known and name != module_name(path)}


def domain_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in DOMAINS else None


def kind_of(module: str) -> str:
    """'composition', 'platform', or for a domain module 'rules', 'posts', 'slack' or 'blocks'."""
    parts = module.split(".")
    if len(parts) == 2 and parts[1] in COMPOSITION:
        return "composition"
    if domain_of(module) is None:
        return "platform"
    leaf = parts[-1]
    if leaf in SLACK_SIDE:
        return "slack"
    if leaf in BLOCK_KIT:
        return "blocks"
    if leaf in POSTS:
        return "posts"
    return "rules"


def domain_modules() -> Iterator[tuple[str, Path]]:
    for module, path in sorted(bot_modules().items()):
        if domain_of(module) is not None and path.name != "__init__.py":
            yield module, path


def test_every_folder_under_bot_is_a_known_domain_or_the_slack_platform() -> None:
    folders = {path.name for path in BOT.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert folders == set(DOMAINS) | {"slack"}


def test_rules_and_posts_never_talk_to_slack() -> None:
    """Posts render what the outbox sends; only the sender talks to Slack."""
    offenders = [
        f"{module} imports {name}"
        for module, path in domain_modules() if kind_of(module) in ("rules", "posts")
        for name in imports_of(path) if name.startswith(("slack_sdk", "slack_bolt"))
    ]
    assert offenders == []


def test_block_kit_holds_no_sql_and_calls_no_slack() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in domain_modules() if kind_of(module) == "blocks"
        for name in imports_of(path)
        if name.startswith("sqlalchemy") or name == "bot.db"
        or (name.startswith("slack_sdk") and not name.startswith("slack_sdk.models"))
    ]
    assert offenders == []


def test_only_the_composition_root_and_entry_points_import_bolt() -> None:
    offenders = [
        module for module, path in bot_modules().items()
        if module not in BOLT_ALLOWED and module != "bot.rehearsal"
        and any(name.startswith("slack_bolt") for name in imports_of(path))
    ]
    assert offenders == []


def test_bot_does_not_import_handlers_except_the_composition_root() -> None:
    offenders = [
        module for module, path in bot_modules().items()
        if module != "bot.app" and any(name == "handlers" or name.startswith("handlers.") for name in imports_of(path))
    ]
    assert offenders == []


def test_handlers_hold_no_sql_and_open_no_transactions() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / "handlers").rglob("*.py")
        for name in imports_of(path)
        if name.startswith("sqlalchemy") or name == "bot.db" or name.startswith("bot.db.")
    ]
    assert offenders == []


def test_arrows_point_one_way() -> None:
    """Platform ← domains (lower ← higher) ← composition; inside a domain, rules ← Slack side and Block Kit."""
    known = bot_modules()
    offenders = []
    for module, path in known.items():
        kind, domain = kind_of(module), domain_of(module)
        for target in bot_imports_of(path, known):
            target_kind, target_domain = kind_of(target), domain_of(target)
            if kind == "platform" and target_kind != "platform":
                offenders.append(f"platform {module} imports {target}")
            elif kind != "composition" and target_kind == "composition":
                offenders.append(f"{module} imports the composition module {target}")
            elif domain and target_domain and DOMAINS.index(target_domain) > DOMAINS.index(domain):
                offenders.append(f"{module} reaches up into the later domain {target}")
            elif kind == "rules" and target_kind in ("slack", "blocks", "posts"):
                offenders.append(f"rules {module} import the Slack side, posts or Block Kit {target}")
            elif kind == "blocks" and target_kind in ("slack", "posts"):
                offenders.append(f"Block Kit {module} imports the Slack side or posts {target}")
            elif kind == "posts" and target_kind == "slack":
                offenders.append(f"posts {module} import the Slack side {target}")
    assert offenders == []


def test_there_are_no_import_cycles() -> None:
    known = bot_modules()
    graph = {module: bot_imports_of(path, known) - {module} for module, path in known.items()}
    # A package's __init__ is imported with any of its modules; it must not close a loop either.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def _functions(path: Path) -> Iterator[ast.FunctionDef]:
    """Module-level functions and methods: what other modules call."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from (item for item in node.body if isinstance(item, ast.FunctionDef))


def _parameters(function: ast.FunctionDef) -> set[str]:
    arguments = function.args
    return {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}


@pytest.mark.parametrize("kind", ["rules", "slack"])
def test_the_transaction_convention_shows_in_the_parameters(kind: str) -> None:
    """Rules take a `session` and no client; the Slack side takes the `database`, never a caller's `session`."""
    offenders = []
    for module, path in domain_modules():
        if kind_of(module) != kind:
            continue
        for function in _functions(path):
            parameters = _parameters(function)
            if kind == "rules" and "client" in parameters:
                offenders.append(f"{module}.{function.name} takes a Slack client")
            if kind == "slack" and "session" in parameters and not function.name.startswith("_"):
                offenders.append(f"{module}.{function.name} takes a caller's session")
    assert offenders == []

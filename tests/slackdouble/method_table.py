"""The vendored table of Slack Web API methods (see build_method_table.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("slack_methods.json")

# Every method takes these besides its own arguments.
UNIVERSAL_ARGS = frozenset({"token"})


@dataclass(frozen=True)
class MethodSpec:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    http_verb: str
    rate_tier: int | str | None
    errors: frozenset[str]
    deprecated: bool

    def knows_arg(self, arg: str) -> bool:
        return arg in UNIVERSAL_ARGS or arg in self.required or arg in self.optional


@lru_cache(maxsize=4)
def load_method_table(path: Path = TABLE_PATH) -> dict[str, MethodSpec]:
    raw = json.loads(path.read_text(encoding="utf-8"))["methods"]
    return {
        name: MethodSpec(
            name=name,
            required=tuple(entry["required"]),
            optional=tuple(entry["optional"]),
            http_verb=entry["http_verb"],
            rate_tier=entry["rate_tier"],
            errors=frozenset(entry["errors"]),
            deprecated=entry["deprecated"],
        )
        for name, entry in raw.items()
    }

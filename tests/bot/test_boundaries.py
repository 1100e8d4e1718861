"""The fronts read through the service's read models (``service.queries``), never the store itself."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def _store_uses(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "store"]


def test_bot_outside_the_playground_never_reaches_into_the_store() -> None:
    files = [p for p in BOT.rglob("*.py") if "playground" not in p.relative_to(BOT).parts]
    assert len(files) > 10, "the walk found the front's modules"
    offenders = {str(p.relative_to(BOT.parent)): lines for p in files if (lines := _store_uses(p))}
    assert offenders == {}


def test_the_check_would_see_a_store_call() -> None:
    tree = ast.parse("async def f(service):\n    await service.store.get_plan('x')\n")
    assert [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)].count("store") == 1

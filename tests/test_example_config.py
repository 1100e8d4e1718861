"""opspilot.example.yaml documents every config key, with its default, and loads as it is.

How the file is read here (the rule the example follows):
- a key line is ``<indent>key: ...`` (a live key) or ``<indent># key: ...`` (documented but commented out,
  so the default applies); the key column minus the ``# `` gives the nesting, two spaces per level;
- prose comments never start with ``lowercase_word:``;
- lines below a key that is not a section (a dict such as ``queries``) are examples of its value.
Every field of the file's pydantic models must appear, walked recursively, so a key added later
without documenting it fails here; a documented key the models don't have fails too.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel

from core.config import _FILE_KEYS, Config, load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "opspilot.example.yaml"
KEY_LINE = re.compile(r"^(?P<lead> *)(?P<hash>#\s*)?(?P<key>[a-z_][a-z0-9_]*):(?:\s|$)")


def _section(annotation: object) -> type[BaseModel] | None:
    """The model class a field holds (also inside ``X | None``), or None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next((m for arg in typing.get_args(annotation) if (m := _section(arg)) is not None), None)
    return None


def model_keys(model: type[BaseModel], prefix: tuple[str, ...] = (), only: set[str] | None = None) -> dict[tuple[str, ...], bool]:
    """Every key path under ``model`` -> whether it is a section (a nested model)."""
    keys: dict[tuple[str, ...], bool] = {}
    for name, field in model.model_fields.items():
        if only is not None and name not in only:
            continue
        path = (*prefix, field.alias or name)  # as the file spells it (email `from` is the field `from_`)
        section = _section(field.annotation)
        keys[path] = section is not None
        if section is not None:
            keys.update(model_keys(section, path))
    return keys


def documented_keys(text: str) -> dict[tuple[str, ...], int]:
    """Key paths written in the file (live or commented out) -> the line they are on."""
    found: dict[tuple[str, ...], int] = {}
    stack: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = KEY_LINE.match(line)
        if match is None:
            continue
        indent = len(match["lead"]) + (len(match["hash"]) - 2 if match["hash"] else 0)
        assert indent % 2 == 0, f"line {number}: keys are indented by two spaces per level: {line!r}"
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*(key for _, key in stack), match["key"])
        found.setdefault(path, number)
        stack.append((indent, match["key"]))
    return found


def live_keys(data: dict, prefix: tuple[str, ...], sections: dict[tuple[str, ...], bool]) -> set[tuple[str, ...]]:
    keys = set()
    for key, value in data.items():
        path = (*prefix, "on" if key is True else str(key))  # YAML 1.1 reads a bare `on` as true
        keys.add(path)
        if isinstance(value, dict) and sections.get(path):
            keys |= live_keys(value, path, sections)
    return keys


FILE_MODEL = model_keys(Config, only=_FILE_KEYS)
TEXT = EXAMPLE.read_text(encoding="utf-8")


def test_every_config_key_is_documented_in_the_example() -> None:
    documented = documented_keys(TEXT)
    missing = sorted(".".join(p) for p in FILE_MODEL if p not in documented)
    assert not missing, f"document these keys in opspilot.example.yaml (with their default and a comment): {missing}"


def test_the_example_documents_no_key_the_config_does_not_have() -> None:
    def known(path: tuple[str, ...]) -> bool:
        return path in FILE_MODEL or any(path[:n] in FILE_MODEL and not FILE_MODEL[path[:n]] for n in range(1, len(path)))

    stale = sorted(f"{'.'.join(p)} (line {n})" for p, n in documented_keys(TEXT).items() if not known(p))
    assert not stale, f"opspilot.example.yaml documents keys core/config.py does not have: {stale}"


def test_the_example_loads_as_it_is_and_gives_the_defaults() -> None:
    loaded = load_config(EXAMPLE, env={})
    defaults = load_config(None, env={})
    assert loaded.source == EXAMPLE
    assert loaded.model_dump(exclude={"source"}) == defaults.model_dump(exclude={"source"})


def test_every_live_key_is_seen_by_the_reading_rule() -> None:
    """Keeps the line rule above honest: what YAML reads is what the rule reads."""
    data = yaml.safe_load(TEXT)
    assert set(data) <= _FILE_KEYS
    assert live_keys(data, (), FILE_MODEL) <= set(documented_keys(TEXT))


def test_the_reading_rule_nests_commented_keys_and_skips_prose() -> None:
    text = "a:\n  # b: 1\n  c:\n    #   d: x\n  # Prose: here\n# e: 2\n"
    assert set(documented_keys(text)) == {("a",), ("a", "b"), ("a", "c"), ("a", "c", "d"), ("e",)}

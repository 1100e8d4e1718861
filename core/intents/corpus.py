"""The labelled asks the intent model learns from: ``core/intents/corpus/*.yaml`` plus ``intents.extra_corpus``.

A corpus file holds one or more YAML documents, each naming an agent (or ``none`` for asks OpsPilot does not
handle) and listing asks as people type them::

    agent: incident_agent
    asks:
      - why did the payments service go down last night
      - checkout keeps timing out
    ---
    agent: none
    asks:
      - order pizza
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.errors import ConfigError

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
NONE = "none"  # the label of asks about something OpsPilot does not do
AGENTS = (
    "drift_agent",
    "patch_agent",
    "compliance_agent",
    "incident_agent",
    "dr_agent",
    "cost_agent",
    "security_agent",
    "image_agent",
    "sop_agent",
    "adapter_agent",
)
LABELS = (*AGENTS, NONE)
MAX_ASK_LENGTH = 500


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str  # file name, for messages and the bench


@dataclass(frozen=True)
class Corpus:
    examples: tuple[Example, ...]

    @property
    def digest(self) -> str:
        """Changes whenever an ask or a label changes: the key of cached models."""
        h = hashlib.sha256()
        for e in self.examples:
            h.update(f"{e.label}\t{e.text}\n".encode())
        return h.hexdigest()

    def pairs(self) -> list[tuple[str, str]]:
        return [(e.text, e.label) for e in self.examples]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for e in self.examples:
            found[e.label] = found.get(e.label, 0) + 1
        return found


def read_file(path: Path, labels: Sequence[str] = LABELS) -> list[Example]:
    """The examples in one corpus file; a ConfigError names the file and what is wrong."""
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ConfigError(f"intents corpus file not found: {path} (intents.extra_corpus in the config)") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read intents corpus {path}: {exc}") from exc
    examples: list[Example] = []
    for number, document in enumerate(documents, start=1):
        if document is None:
            continue
        where = f"{path} (document {number})"
        if not isinstance(document, dict) or set(document) - {"agent", "asks"} or "agent" not in document:
            raise ConfigError(f"{where}: each document is a mapping with `agent:` and `asks:` (a list of strings)")
        label, asks = document["agent"], document.get("asks") or []
        if label not in labels:
            raise ConfigError(f"{where}: unknown agent {label!r}; use one of {', '.join(labels)}")
        if not isinstance(asks, list):
            raise ConfigError(f"{where}: `asks:` must be a list of strings")
        for ask in asks:
            if isinstance(ask, bool) or not isinstance(ask, str | int | float) or not str(ask).strip():
                raise ConfigError(
                    f"{where}: every ask must be a non-empty string, got {ask!r} (quote asks with a colon, or yes/no)"
                )
            text = str(ask).strip()
            if len(text) > MAX_ASK_LENGTH:
                raise ConfigError(f"{where}: an ask is longer than {MAX_ASK_LENGTH} characters: {text[:60]!r}…")
            examples.append(Example(text=text, label=label, source=path.name))
    return examples


def load_corpus(extra: Iterable[Path] = (), directory: Path = CORPUS_DIR) -> Corpus:
    """The shipped corpus, then each extra file (a user's own asks)."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"the intents corpus is missing: no *.yaml in {directory}")
    examples: list[Example] = []
    for path in [*files, *extra]:
        examples += read_file(Path(path))
    return Corpus(tuple(examples))

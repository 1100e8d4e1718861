"""Asks no planner should read: empty, a paste rather than an ask, control characters, another language, or an
attempt to talk OpsPilot out of its rules. Each gets one clear sentence back and nothing is created."""

from __future__ import annotations

import re
import unicodedata

MAX_UNDERSTOOD_CHARS = 1000  # an ask is a sentence or two; anything longer is a paste (logs, a document)

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|skip)\b[^.!?]{0,40}\b(?:rules?|instructions?|polic(?:y|ies)|guard ?rails?"
    r"|approvals?|reviews?|checks?|validation|safeguards?|system prompt|prompt)\b"
    r"|\b(?:auto[\s-]?approve|approve (?:it|this|that|them|everything|all|automatically)|self[\s-]approve)\b"
    r"|\b(?:no|without)\s+(?:human\s+)?(?:approvals?|review|sign[\s-]?off)\b"
    r"|\byou are now\b|\bact as\b[^.]{0,30}\b(?:admin|root|approver)\b|\bjailbreak\b|\bdeveloper mode\b",
    re.IGNORECASE,
)
# Words that are very common in other languages and rare in English asks.
_FOREIGN = frozenset(
    [
        "el",
        "la",
        "los",
        "las",
        "por",
        "para",
        "qué",
        "que",
        "una",
        "está",
        "están",
        "servidores",
        "arregla",
        "parchea",
        "el",
        "de",
        "del",
        "y",
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "bitte",
        "auf",
        "mit",
        "für",
        "warum",
        "wie",
        "ein",
        "eine",
        "ich",
        "le",
        "les",
        "des",
        "est",
        "pas",
        "pour",
        "pourquoi",
        "une",
        "avec",
        "sur",
        "serveurs",
        "corrige",
        "il",
        "della",
        "perché",
        "sono",
        "non",
        "con",
        "gli",
        "het",
        "een",
        "niet",
        "waarom",
        "ik",
        "je",
        "och",
        "är",
        "att",
        "på",
        "inte",
    ]
)
_ENGLISH = frozenset(
    [
        "the",
        "a",
        "an",
        "is",
        "are",
        "on",
        "in",
        "of",
        "for",
        "to",
        "and",
        "why",
        "what",
        "how",
        "which",
        "fix",
        "patch",
        "scan",
        "drift",
        "cost",
        "where",
        "can",
        "we",
        "our",
        "my",
        "with",
        "from",
        "prod",
        "staging",
        "dev",
        "all",
        "servers",
        "server",
    ]
)


def screen(text: str) -> str | None:
    """Why the ask cannot be read, or None when it can."""
    if not text.strip():
        return "The ask is empty. Say what you need, e.g. `fix drift on prod web servers`."
    if len(text) > MAX_UNDERSTOOD_CHARS:
        return (
            f"That is {len(text):,} characters: a paste rather than an ask. Ask in a sentence or two (at most "
            f"{MAX_UNDERSTOOD_CHARS:,} characters); put logs or documents in a thread or a file, not in the ask."
        )
    bad = next((c for c in text if _is_control(c)), None)
    if bad is not None:
        return f"The ask contains a control character (U+{ord(bad):04X}); nothing was done. Type it again as plain text."
    if _INJECTION.search(text):
        return (
            "I can't take instructions to change my rules or skip approval: every change is planned, validated and "
            "approved by a person, whatever the ask says. Ask for the task itself, e.g. `fix drift on prod web servers`."
        )
    if _other_language(text):
        return (
            "I only understand asks in English for now. Try e.g. `fix drift on prod web servers` or `why is checkout erroring`."
        )
    return None


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn") or char in _BIDI


def _other_language(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if latin / len(letters) < 0.5:
        return True
    tokens = re.findall(r"[^\W\d_]+", text.lower())
    foreign = sum(1 for t in tokens if t in _FOREIGN)
    english = sum(1 for t in tokens if t in _ENGLISH)
    accented = sum(1 for c in letters if ord(c) > 127)
    return (foreign >= 2 and foreign > english) or (accented >= 2 and foreign >= 1 and english <= 1)

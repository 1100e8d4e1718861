"""Intake: normalize what a person typed into an Ask, and the vocabulary used to read it."""

from core.intake.ask import MAX_ASK_CHARS, Ask, normalize_text

__all__ = ["MAX_ASK_CHARS", "Ask", "normalize_text"]

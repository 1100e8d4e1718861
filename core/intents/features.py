"""Text → sparse features for the intent model: word 1-2grams and character 3-5grams.

Entity values are replaced by their kind before the word n-grams are taken (``CVE-2024-3094`` → ``_cve_``,
``us-east-1`` → ``_region_``, ``prod`` → ``_env_``, a number → ``_num_``), so the model learns "patch _cve_ on _env_"
once instead of once per CVE and environment; the character n-grams are taken from the words as typed, which is what
makes misspellings ("vulnerabilties", "compliace") and unseen inflections land near their correct spelling.
"""

from __future__ import annotations

import re
import unicodedata

from core.intake import vocabulary as words

_CVE = re.compile(r"\bcve[-\s]?\d{4}[-\s]?\d{4,}\b")
_NUMBER = re.compile(r"^\d+(?:[.,:]\d+)*(?:[a-z]{1,3})?$")
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_ENVIRONMENT_WORDS = frozenset(w for names in words.ENVIRONMENT_WORDS.values() for w in names) | {"uat", "preprod", "qa"}
# Words so common in asks of every kind that they only add noise as unigrams (bigrams still see them).
_STOP = frozenset({"the", "a", "an", "please", "pls", "plz", "can", "you", "could", "would", "me", "us", "hey", "hi"})
CHAR_SIZES = (3, 4, 5)


def fold(text: str) -> str:
    """Lower case, compatibility-normalized, accents dropped: what every feature is read from."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """The ask's words with entity values replaced by their kind; hyphenated names are kept whole and split."""
    folded = _CVE.sub(" _cve_ ", fold(text))
    folded = words.REGION_PATTERN.sub(" _region_ ", folded)
    out: list[str] = []
    for raw in re.split(r"[^\w'’-]+", folded):
        if not raw:
            continue
        if raw in ("_cve_", "_region_"):
            out.append(raw)
            continue
        parts = [p for p in re.split(r"[-_]+", raw) if p]
        for part in parts:
            for token in _TOKEN.findall(part):
                out.append(_kind(token))
    return out


def _kind(token: str) -> str:
    if token in _ENVIRONMENT_WORDS:
        return "_env_"
    if _NUMBER.match(token):
        return "_num_"
    return token.replace("’", "'")


def features(text: str) -> dict[str, float]:
    """Feature name → raw count (binary for words, counts for character n-grams)."""
    found: dict[str, float] = {}
    seq = tokens(text)
    for token in seq:
        if token not in _STOP:
            found["w:" + token] = 1.0
    padded = ["<s>", *seq, "</s>"]
    for left, right in zip(padded, padded[1:], strict=False):
        found[f"b:{left} {right}"] = 1.0
    for token in seq:
        if token.startswith("_") or len(token) < 2:
            continue
        word = f" {token} "
        for size in CHAR_SIZES:
            for start in range(len(word) - size + 1):
                key = "c:" + word[start : start + size]
                found[key] = found.get(key, 0.0) + 1.0
    return found

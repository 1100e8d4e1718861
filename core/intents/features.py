"""Text → sparse features for the intent model: word 1-2grams and character 3-5grams.

Entity values are replaced by their kind before the word n-grams are taken (``CVE-2024-3094`` → ``_cve_``,
``us-east-1`` → ``_region_``, ``prod`` → ``_env_``, a number → ``_num_``), so the model learns "patch _cve_ on _env_"
once instead of once per CVE and environment; the character n-grams are taken from the words as typed, which is what
makes misspellings ("vulnerabilties", "compliace") and unseen inflections land near their correct spelling.
"""

from __future__ import annotations

import itertools
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
# Concepts: words that mean the same thing for routing an ask, beyond what the corpus spells out. Each adds one
# feature ("k:money") whose weight is learnt like any other, so a synonym the corpus never used still pulls its way.
# A word matches by prefix when it ends with "*".
CONCEPTS: dict[str, tuple[str, ...]] = {
    "symptom": (
        "error*",
        "erroring",
        "fail*",
        "down",
        "outage*",
        "broken",
        "crash*",
        "slow*",
        "latenc*",
        "timeout*",
        "timing",
        "5xx",
        "500s",
        "502s",
        "503s",
        "504s",
        "flaky",
        "unhealthy",
        "degrad*",
        "spike*",
        "incident*",
        "paged",
        "alert*",
        "hang*",
        "stuck",
        "unresponsive",
        "unreachable",
        "oom",
        "exception*",
        "bug*",
        "rca",
        "postmortem",
        "why",
    ),
    "money": (
        "cost*",
        "spend*",
        "spent",
        "bill*",
        "invoice*",
        "saving*",
        "save",
        "cheap*",
        "expensive",
        "budget*",
        "finops",
        "rightsiz*",
        "downsiz*",
        "idle",
        "unused",
        "waste*",
        "reserved",
        "savings",
        "dollar*",
        "money",
        "pay*",
        "price*",
        "pricing",
        "forecast*",
        "overprovision*",
        "underutili*",
        "chargeback",
        "showback",
    ),
    "disaster": (
        "dr",
        "disaster*",
        "failover*",
        "fail",
        "recovery",
        "recover*",
        "rto",
        "rpo",
        "resilien*",
        "continuity",
        "bcp",
        "bcdr",
        "standby",
        "evacuat*",
        "drill*",
        "gameday",
        "survive*",
        "lose",
        "losing",
        "lost",
        "region",
        "regional",
    ),
    "exposure": (
        "vuln*",
        "cve*",
        "expos*",
        "exposed",
        "open",
        "ports",
        "port",
        "public*",
        "internet",
        "attack",
        "scan*",
        "secur*",
        "threat*",
        "pentest",
        "penetration",
        "nmap",
        "nessus",
        "qualys",
        "trivy",
        "buckets",
        "bucket",
        "permissive",
        "misconfig*",
        "reachable",
        "0",
    ),
    "image": (
        "image*",
        "ami",
        "amis",
        "bake*",
        "packer",
        "golden",
        "base",
        "promot*",
        "build*",
        "rebuild*",
        "template*",
    ),
    "document": (
        "sop*",
        "runbook*",
        "procedure*",
        "playbook*",
        "checklist*",
        "document*",
        "docs",
        "guide*",
        "how-to",
        "howto",
        "steps",
        "instructions",
        "write",
        "wiki",
        "kb",
        "manual",
        "handbook",
    ),
    "integrate": (
        "integrat*",
        "connector*",
        "adapter*",
        "adaptor*",
        "api",
        "apis",
        "client",
        "sdk",
        "webhook*",
        "hook",
        "plug",
        "connect",
        "sync",
        "cmdb",
        "servicenow",
        "pagerduty",
        "datadog",
        "jira",
        "opsgenie",
        "statuspage",
        "splunk",
        "netbox",
        "openapi",
    ),
    "drift": (
        "drift*",
        "sync",
        "reconcil*",
        "converge*",
        "baseline",
        "diverg*",
        "mismatch*",
        "skew",
        "desired",
        "stale",
        "align*",
        "standardi*",
        "behind",
        "lagging",
        "stragglers",
        "consistent",
        "inconsistent",
    ),
    "patch": ("patch*", "update*", "upgrade*", "hotfix*", "errata", "advisor*", "kernel", "openssl", "openssh", "xz"),
    "compliance": (
        "complian*",
        "complian",
        "cis",
        "soc",
        "soc2",
        "pci",
        "hipaa",
        "iso",
        "nist",
        "fedramp",
        "gdpr",
        "audit*",
        "control*",
        "benchmark*",
        "evidence",
        "harden*",
        "regulat*",
    ),
    "chatter": (
        "hello",
        "hi",
        "hey",
        "thanks",
        "thank",
        "lol",
        "joke*",
        "poem*",
        "weather",
        "pizza",
        "lunch",
        "dinner",
        "coffee",
        "movie",
        "music",
        "song",
        "story",
        "laptop",
        "printer",
        "password",
        "meeting",
        "calendar",
        "vacation",
    ),
}
_EXACT: dict[str, list[str]] = {}
_PREFIXES: list[tuple[str, str]] = []
for _concept, _words in CONCEPTS.items():
    for _word in _words:
        if _word.endswith("*"):
            _PREFIXES.append((_word[:-1], _concept))
        else:
            _EXACT.setdefault(_word, []).append(_concept)


def concepts(token: str) -> set[str]:
    found = set(_EXACT.get(token, ()))
    found.update(concept for prefix, concept in _PREFIXES if token.startswith(prefix))
    return found


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
    for token in seq:
        for concept in concepts(token):
            found["k:" + concept] = found.get("k:" + concept, 0.0) + 1.0
    padded = ["<s>", *seq, "</s>"]
    for left, right in itertools.pairwise(padded):
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

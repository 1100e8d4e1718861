"""Reading agent parameters out of an ask: CVE ids, control ids, services, images, APIs, topics."""

from __future__ import annotations

import re
from typing import Any

from core.intake import vocabulary as words

_CVE = re.compile(r"\bcve-\d{4}-\d{4,}\b", re.IGNORECASE)
_FRAMEWORK = re.compile(
    r"\b(cis|soc\s?2|pci(?:[\s-]?dss)?|nist|hipaa|iso\s?27001)(?:[\s-]+((?:cc)?\d+(?:\.\d+)*))?\b", re.IGNORECASE
)
_FRAMEWORK_NAMES = {
    "cis": "CIS",
    "soc2": "SOC2",
    "pci": "PCI",
    "pcidss": "PCI",
    "nist": "NIST",
    "hipaa": "HIPAA",
    "iso27001": "ISO27001",
}
_NOT_A_SERVICE = frozenset(
    {
        "prod",
        "production",
        "staging",
        "stage",
        "dev",
        "development",
        "it",
        "we",
        "our",
        "everything",
        "the",
        "there",
        "this",
        "that",
        "something",
        "what",
        "service",
        "site",
        "app",
        "system",
        "my",
        "is",
        "are",
        "so",
        "still",
    }
)
_SERVICE_PATTERNS = (
    re.compile(r"\bwhy (?:is|are|does|do) (?:the )?([a-z][\w-]*)"),
    re.compile(r"\b([a-z][\w-]*) (?:is|are|keeps?) (?:erroring|failing|down|slow|broken|timing out|throwing|returning|crashing)"),
    re.compile(
        r"\b(?:errors?|incident|outage|5xx|500s|latency|timeouts?|failures?) (?:in|on|with|for|from) (?:the )?([a-z][\w-]*)"
    ),
    re.compile(r"\binvestigate (?:the )?([a-z][\w-]*)"),
)
_IMAGE = re.compile(r"\b([a-z][a-z0-9]*-base)\b")
_IMAGE_WORD = re.compile(r"\b(ubuntu|rhel|windows|postgres|redis)\b")
_VERSION = re.compile(r"\b(\d+\.\d+(?:\.\d+)?)\b")
_TOPIC = re.compile(r"\b(?:sop|procedure|runbook|playbook|checklist)s? (?:for|to|on|about) (.+)$", re.IGNORECASE)
_API = (
    re.compile(r"\bintegrat\w* (?:with )?(?:the )?([a-z][\w-]*)"),
    re.compile(r"\b(?:adapter|connector|integration) (?:for|with|to) (?:the )?([a-z][\w-]*)"),
    re.compile(r"\b([a-z][\w-]*) (?:api|rest api)\b"),
)
_NOT_AN_API = frozenset({"the", "a", "an", "new", "our", "rest", "this", "with", "api"})


def cve_ids(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).upper() for m in _CVE.finditer(text)))


def controls(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    ids = []
    for match in _FRAMEWORK.finditer(text):
        framework = _FRAMEWORK_NAMES[re.sub(r"[\s-]", "", match.group(1).lower())]
        found.setdefault("framework", framework)
        if match.group(2):
            ids.append(f"{framework}-{match.group(2).upper()}")
    if ids:
        found["control_ids"] = list(dict.fromkeys(ids))
        found.pop("framework", None)
    return found


def service(text: str) -> str | None:
    lowered = text.lower()
    for pattern in _SERVICE_PATTERNS:
        for match in pattern.finditer(lowered):
            name = match.group(1)
            if name not in _NOT_A_SERVICE:
                return name
    return None


def image(text: str) -> dict[str, Any]:
    lowered = text.lower()
    found: dict[str, Any] = {}
    match = _IMAGE.search(lowered) or _IMAGE_WORD.search(lowered)
    if match:
        found["image"] = match.group(1) if match.group(1).endswith("-base") else f"{match.group(1)}-base"
    version = _VERSION.search(lowered)
    if version:
        found["version"] = version.group(1)
    return found


def topic(text: str) -> str:
    match = _TOPIC.search(text.strip())
    return (match.group(1) if match else text).strip().rstrip(".?!")[:200]


def api(text: str) -> str | None:
    lowered = text.lower()
    for pattern in _API:
        for match in pattern.finditer(lowered):
            if match.group(1) not in _NOT_AN_API:
                return match.group(1)
    return None


def region(text: str) -> list[str]:
    return words.regions(text)

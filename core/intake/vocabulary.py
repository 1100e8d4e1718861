"""Words people use for environments, roles, platforms and regions, and how to find them in an ask."""

from __future__ import annotations

import re

ENVIRONMENT_WORDS: dict[str, tuple[str, ...]] = {
    "production": ("production", "prod", "prd", "live"),
    "staging": ("staging", "stage", "stg", "preprod", "pre-prod"),
    "development": ("development", "dev", "sandbox"),
}

ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "web-server": (
        "web servers",
        "web server",
        "web-servers",
        "web-server",
        "webservers",
        "webserver",
        "web",
        "frontends",
        "frontend",
    ),
    "api-server": ("api servers", "api server", "api-servers", "api-server", "api"),
    "database": ("database servers", "databases", "database", "db servers", "db server", "dbs", "db", "postgres"),
    "cache": ("cache servers", "caches", "cache", "redis"),
    "worker": ("workers", "worker nodes", "worker", "batch"),
}

PLATFORM_WORDS: dict[str, tuple[str, ...]] = {
    "aws": ("aws", "amazon", "ec2"),
    "azure": ("azure",),
    "gcp": ("gcp", "google cloud", "gce"),
}

_REGION = re.compile(
    r"\b(?:(?:us|eu|ap|sa|ca|me|af)-(?:east|west|north|south|central|northeast|southeast|northwest|southwest)-\d"
    r"|(?:us|europe|asia|northamerica|southamerica|australia)-(?:east|west|north|south|central|northeast|southeast)\d"
    r"|(?:east|west|central|north|south)(?:us|europe)\d?)\b"
)
REGION_PATTERN = _REGION


def _find(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    lowered = text.lower()
    found = []
    for canonical, words in table.items():
        if any(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", lowered) for w in words):
            found.append(canonical)
    return found


def environments(text: str) -> list[str]:
    return _find(text, ENVIRONMENT_WORDS)


def roles(text: str) -> list[str]:
    return _find(text, ROLE_WORDS)


def platforms(text: str) -> list[str]:
    return _find(text, PLATFORM_WORDS)


def regions(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0) for m in _REGION.finditer(text.lower())))


def has_any(text: str, *phrases: str) -> bool:
    lowered = text.lower()
    return any(re.search(rf"(?<![\w-]){re.escape(p)}", lowered) for p in phrases)

"""What an ask names: environment, services, roles, regions, platforms, CVE ids, images, hosts, time ranges, resources.

Environment words count inside host names too (``dev-web-04`` is development); ``preprod``/``uat`` are staging,
``sandbox`` is development, and "all envs" / "everywhere" is all. Services, tags and host names come from the
:class:`~core.intents.lexicon.Lexicon` (the inventory and the sample data), so "payments" scopes an ask to the
payments service. Time ranges ("last night", "past hour", "since Monday") are resolved against ``now``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.intake import vocabulary as words
from core.intents.features import fold
from core.intents.lexicon import Lexicon

ENVIRONMENT_NAMES: dict[str, tuple[str, ...]] = {
    "production": ("production", "prod", "prd", "live", "prods"),
    "staging": ("staging", "stage", "stg", "preprod", "uat", "qa", "preproduction"),
    "development": ("development", "dev", "devel", "sandbox", "sandboxes", "sbx"),
}
_ENV_BY_WORD = {word: env for env, names in ENVIRONMENT_NAMES.items() for word in names}
_ALL = re.compile(
    r"\b(?:all|every|each|both)\s+(?:of\s+the\s+|the\s+|our\s+)?(?:envs?|environments?|environements?|enviroments?|stages)\b"
    r"|\beverywhere\b|\bacross\s+(?:the\s+)?(?:envs?|environments?)\b|\bin\s+any\s+env(?:ironment)?\b"
)
_PRE_PROD = re.compile(r"\bpre[\s-]?prod(?:uction)?\b")
_NOT_AN_ENVIRONMENT = re.compile(
    r"\bnon[\s-]?prod(?:uction)?\b|\bgo[\s-]live\b|\blive\s+(?:logs?|tail|stream)\b|\btail\b[^.]*\blive\b"
)
_TO_ENV = re.compile(r"\b(?:to|into|onto)\s+(?:the\s+)?([a-z]+)\b")

_CVE = re.compile(r"\bcve[-\s]?(\d{4})[-\s](\d{4,7})\b", re.IGNORECASE)
_SPOKEN_REGION = re.compile(
    r"\b(us|eu|ap|sa|ca|me|af)[\s-](east|west|north|south|central|northeast|southeast|northwest|southwest)[\s-]?(\d)\b"
)
REGION_ALIASES: dict[str, str] = {
    "virginia": "us-east-1",
    "n. virginia": "us-east-1",
    "northern virginia": "us-east-1",
    "ohio": "us-east-2",
    "oregon": "us-west-2",
    "california": "us-west-1",
    "ireland": "eu-west-1",
    "dublin": "eu-west-1",
    "london": "eu-west-2",
    "paris": "eu-west-3",
    "frankfurt": "eu-central-1",
    "stockholm": "eu-north-1",
    "tokyo": "ap-northeast-1",
    "seoul": "ap-northeast-2",
    "singapore": "ap-southeast-1",
    "sydney": "ap-southeast-2",
    "mumbai": "ap-south-1",
    "sao paulo": "sa-east-1",
    "canada central": "ca-central-1",
}
PLATFORM_NAMES: dict[str, tuple[str, ...]] = {
    "aws": ("aws", "amazon", "ec2", "amazon web services", "s3", "rds", "eks", "lambda", "cloudfront"),
    "azure": ("azure", "microsoft azure", "aks", "azure vms"),
    "gcp": ("gcp", "google cloud", "gce", "google compute engine", "gke", "gcs"),
    "kubernetes": ("kubernetes", "k8s", "kube", "eks", "gke", "aks", "openshift", "pods", "pod"),
    "vmware": ("vmware", "vsphere", "esxi", "vcenter"),
    "openstack": ("openstack",),
    "on-prem": (
        "on-prem",
        "on prem",
        "on-premise",
        "on-premises",
        "on premises",
        "bare metal",
        "bare-metal",
        "datacenter",
        "data centre",
        "data center",
    ),
    "linux": ("linux", "ubuntu", "rhel", "centos", "debian", "red hat", "amazon linux", "rocky"),
    "windows": ("windows", "windows server"),
    "docker": ("docker", "containers", "container"),
}
_SERVER_NOUN = r"(?:servers?|hosts?|nodes?|boxes|box|tier|fleet|layer|instances?|vms?|machines?|farm|cluster|pool)"
ROLE_PATTERNS: dict[str, re.Pattern[str]] = {
    "web-server": re.compile(
        rf"\b(?:web[\s-]?{_SERVER_NOUN}|webservers?|frontends?|front[\s-]ends?|nginx\s+{_SERVER_NOUN}|web)\b(?![\s-]?(?:api|app|site|page|hook|ui|traffic)\b)"
    ),
    "api-server": re.compile(rf"\b(?:api[\s-]?{_SERVER_NOUN}|apiservers?|app[\s-]?servers?|backend[\s-]?{_SERVER_NOUN})\b"),
    "database": re.compile(rf"\b(?:databases?|db[\s-]?{_SERVER_NOUN}|dbs|db|postgres(?:ql)?|mysql|rds)\b(?![\s-]base)"),
    "cache": re.compile(rf"\b(?:caches?|cache[\s-]?{_SERVER_NOUN}|redis|memcached?)\b(?![\s-]base)"),
    "worker": re.compile(rf"\b(?:workers?|worker[\s-]?{_SERVER_NOUN}|batch[\s-]?{_SERVER_NOUN})\b"),
}
RESOURCE_PATTERNS: dict[str, re.Pattern[str]] = {
    "bucket": re.compile(r"\b(?:s3|buckets?|blob(?:s| storage| containers?)?|gcs|storage accounts?)\b"),
    "security_group": re.compile(r"\b(?:security[\s-]?groups?|sgs?|nsgs?|network security groups?|firewall rules?)\b"),
    "ami": re.compile(r"\b(?:amis?|amys?|machine images?|vm images?|golden images?|base images?)\b"),
    "instance": re.compile(r"\b(?:instances?|vms?|virtual machines?|ec2)\b"),
    "volume": re.compile(r"\b(?:volumes?|ebs|disks?)\b"),
    "snapshot": re.compile(r"\bsnapshots?\b"),
    "load_balancer": re.compile(r"\b(?:load[\s-]?balancers?|elbs?|albs?|nlbs?|lbs?)\b"),
    "database": re.compile(r"\b(?:rds|databases?|dbs?)\b"),
    "iam_role": re.compile(r"\biam\b|\b(?:iam\s+)?roles?\s+with\b|\bservice accounts?\b"),
    "certificate": re.compile(r"\b(?:certificates?|certs?|tls|ssl)\b"),
    "dns_record": re.compile(r"\bdns\b"),
    "nat_gateway": re.compile(r"\bnat[\s-]?gateways?\b"),
    "elastic_ip": re.compile(r"\b(?:elastic ips?|eips?|public ips?)\b"),
    "port": re.compile(r"\b(?:open ports?|ports?)\b"),
}
_IMAGE_NAME = re.compile(r"\b([a-z][a-z0-9]*-base)\b")
_IMAGE_WORD = re.compile(
    r"\b(ubuntu|rhel|windows|postgres|redis|centos|debian|amazon linux|al2023|alpine|rocky|red hat)"
    r"(?:[\s-]?(?:server\s)?(\d+(?:\.\d+)*))?\b(?=[^.]*\b(?:image|ami|amis|golden|base|bake|build|template)\b)"
)
_IMAGE_BEFORE = re.compile(r"\b([a-z][a-z0-9-]*)\s+(?:golden\s+)?(?:image|ami)\b")
_NOT_AN_IMAGE = frozenset(
    {
        "golden",
        "base",
        "new",
        "the",
        "a",
        "an",
        "container",
        "docker",
        "machine",
        "vm",
        "fresh",
        "latest",
        "current",
        "our",
        "old",
        "this",
        "that",
        "patched",
        "hardened",
        "same",
        "staging",
        "prod",
        "dev",
        "every",
        "each",
        "all",
    }
)
_HOST = re.compile(r"\b[a-z][a-z0-9]*(?:-[a-z0-9]+)*-\d{1,4}\b")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
}
_LAST_N = re.compile(
    r"\b(?:(?:in|over|during|for)\s+)?(?:the\s+)?(?:last|past|previous|recent)\s+(\d+|a|an|one|two|three|few|couple(?:\s+of)?)\s*"
    r"(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)\b"
)
_LAST_UNIT = re.compile(r"\b(?:the\s+)?(?:last|past|previous)\s+(minute|hour|day|week|month|24h|24 hours)\b")
_SINCE_DAY = re.compile(r"\bsince\s+(?:last\s+)?(" + "|".join(_WEEKDAYS) + r"|yesterday|this morning|midnight|last night)\b")
_SINCE_TIME = re.compile(r"\bsince\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b")
_AT_TIME = re.compile(r"\b(?:at|around|about)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b|\b(?:at|around)\s+(\d{1,2}):(\d{2})\b")
_AGO = re.compile(r"\b(\d+|a|an|one|two|three|few)\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?)\s+ago\b")
_BETWEEN = re.compile(
    r"\b(?:between|from)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s+(?:and|to|-)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b"
)
_ON_DAY = re.compile(r"\b(?:on\s+|last\s+|since\s+)?(" + "|".join(_WEEKDAYS) + r")(?:\s+(morning|afternoon|evening|night))?\b")
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "few": 3, "couple": 2, "couple of": 2}


@dataclass(frozen=True)
class TimeRange:
    text: str
    since: datetime
    until: datetime

    def to_document(self) -> dict[str, str]:
        return {"text": self.text, "since": _iso(self.since), "until": _iso(self.until)}


@dataclass(frozen=True)
class Entities:
    environment: str | None = None
    environments: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    cve_ids: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    time_range: TimeRange | None = None
    scope_roles: tuple[str, ...] = field(default=(), repr=False)  # roles and platforms assets can have: what scopes a plan
    scope_platforms: tuple[str, ...] = field(default=(), repr=False)
    # (name, asset id, environment) for each inventory asset of a named service, tag or host: what scopes a plan.
    scope_assets: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)

    def to_document(self) -> dict[str, Any]:
        """Only what the ask named; the shape of ``intent.entities`` in ``opspilot plan --json``."""
        document: dict[str, Any] = {"environment": self.environment}
        for key in (
            "environments",
            "services",
            "roles",
            "regions",
            "platforms",
            "cve_ids",
            "images",
            "hosts",
            "tags",
            "resources",
        ):
            value = getattr(self, key)
            if value and not (key == "environments" and len(value) < 2):
                document[key] = list(value)
        if self.time_range is not None:
            document["time_range"] = self.time_range.to_document()
        return document


def extract(text: str, lexicon: Lexicon, now: datetime) -> Entities:
    folded = fold(text)
    environments = environment_words(folded)
    named_services = services(folded, lexicon)
    named_tags = [t for t in sorted(lexicon.tags) if _word(t).search(folded)]
    named_hosts = hosts(folded, lexicon)
    scope_assets = [
        (name, asset, lexicon.asset_environments.get(asset.lower(), ""))
        for name in [*named_services, *named_tags]
        for asset in lexicon.assets_of(services=[name], tags=[name])
    ]
    scope_assets += [(h, h, lexicon.asset_environments[h]) for h in named_hosts if h in lexicon.asset_environments]
    roles = [name for name, pattern in ROLE_PATTERNS.items() if pattern.search(_without_hosts(folded))]
    platforms = _names(folded, PLATFORM_NAMES)
    return Entities(
        environment=_pick_environment(folded, environments),
        environments=tuple(environments),
        services=tuple(named_services),
        roles=tuple(roles),
        scope_roles=tuple(r for r in roles if r in lexicon.roles or not lexicon.roles),
        scope_platforms=tuple(p for p in platforms if p in lexicon.platforms),
        regions=tuple(regions(folded)),
        platforms=tuple(platforms),
        cve_ids=tuple(cve_ids(folded)),
        images=tuple(images(folded, lexicon)),
        hosts=tuple(named_hosts),
        tags=tuple(named_tags),
        resources=tuple(name for name, pattern in RESOURCE_PATTERNS.items() if pattern.search(_without_hosts(folded))),
        time_range=time_range(folded, now),
        scope_assets=tuple(scope_assets),
    )


# -- environment ---------------------------------------------------------------------------------


def environment_words(folded: str) -> list[str]:
    """Every environment the ask names, in the order named ("all" for all envs / everywhere)."""
    found: list[tuple[int, str]] = []
    if _ALL.search(folded):
        found.append((_ALL.search(folded).start(), "all"))  # type: ignore[union-attr]
    text = _NOT_AN_ENVIRONMENT.sub(" ", folded)
    for match in _PRE_PROD.finditer(text):
        found.append((match.start(), "staging"))
    text = _PRE_PROD.sub(" ", text)
    for match in re.finditer(r"[a-z]+", text):
        environment = _ENV_BY_WORD.get(match.group(0))
        if environment is not None and not _false_environment(text, match):
            found.append((match.start(), environment))
    return list(dict.fromkeys(env for _, env in sorted(found)))


def _false_environment(text: str, match: re.Match[str]) -> bool:
    word = match.group(0)
    before = text[max(0, match.start() - 12) : match.start()]
    after = text[match.end() : match.end() + 12]
    if word == "stage" and (
        re.search(r"\b(?:this|that|next|first|second|final|each|every|one)\s+$", before) or re.match(r"\s*\d", after)
    ):
        return True
    if word == "live" and re.search(r"\b(?:go|goes|went|going|be|is|are)\s+$", before):
        return True
    return word == "qa" and bool(re.match(r"\s*(?:team|engineers?)\b", after))


def _pick_environment(folded: str, environments: list[str]) -> str | None:
    """One environment for the ask: "all" when it says so; of several named, the one things go *to*, else the first."""
    if "all" in environments:
        return "all"
    if len(environments) <= 1:
        return environments[0] if environments else None
    targets = [_ENV_BY_WORD.get(m.group(1)) for m in _TO_ENV.finditer(_PRE_PROD.sub("preprod", folded))]
    named = [t for t in targets if t in environments]
    return named[-1] if named else environments[0]


# -- names -----------------------------------------------------------------------------------------


_GENERIC_SERVICE = re.compile(r"\b(?:the\s+)?([a-z][a-z0-9]*(?:-[a-z0-9]+)?)[\s-](?:service|svc|microservice|app)\b")
_NOT_A_SERVICE = frozenset(
    {
        "the",
        "a",
        "an",
        "our",
        "my",
        "this",
        "that",
        "web",
        "whole",
        "entire",
        "every",
        "each",
        "customer",
        "new",
        "mobile",
        "one",
        "which",
        "what",
        "some",
        "any",
        "production",
        "prod",
        "staging",
        "dev",
        "live",
        "internal",
        "same",
        "main",
        "cloud",
        "aws",
        "azure",
    }
)


def services(folded: str, lexicon: Lexicon) -> list[str]:
    """Services the inventory knows, then ones named as "the billing service" / "the orders app"."""
    found: list[tuple[int, str]] = []
    text = _without_hosts(folded)
    for name in lexicon.services:
        match = _service_pattern(name).search(text)
        if match:
            found.append((match.start(), name))
    known = {name for _, name in found}
    for match in _GENERIC_SERVICE.finditer(text):
        name = match.group(1)
        if (
            name not in _NOT_A_SERVICE
            and name not in known
            and name not in _ENV_BY_WORD
            and not any(name in (k.rstrip("s"), k + "s") for k in known)
        ):
            found.append((match.start(1), name))
            known.add(name)
    return [name for _, name in sorted(found)]


def _service_pattern(name: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in re.split(r"[-_\s]+", name.lower()) if p]
    body = r"[\s_-]?".join(parts)
    variants = [body]
    if name.endswith("s") and len(name) > 4 and "-" not in name:
        # "payment service" is the payments service; "order" alone is not "orders".
        variants.append(re.escape(name[:-1]) + r"(?=[\s-]+(?:service|svc|api|app|system|team|servers?|hosts?|pods?)\b)")
    return re.compile(r"(?<![\w-])(?:" + "|".join(variants) + r")(?![\w])")


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])")


def _names(folded: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    return [canonical for canonical, names in table.items() if any(_word(n).search(folded) for n in names)]


def _without_hosts(folded: str) -> str:
    return _HOST.sub(" ", folded)


def regions(folded: str) -> list[str]:
    found = [(m.start(), m.group(0)) for m in words.REGION_PATTERN.finditer(folded)]
    found += [(m.start(), f"{m.group(1)}-{m.group(2)}-{m.group(3)}") for m in _SPOKEN_REGION.finditer(folded)]
    for alias, region in REGION_ALIASES.items():
        match = _word(alias).search(folded)
        if match:
            found.append((match.start(), region))
    return list(dict.fromkeys(region for _, region in sorted(found)))


def cve_ids(folded: str) -> list[str]:
    return list(dict.fromkeys(f"CVE-{m.group(1)}-{m.group(2)}" for m in _CVE.finditer(folded)))


def images(folded: str, lexicon: Lexicon) -> list[str]:
    found = [(m.start(), m.group(1)) for m in _IMAGE_NAME.finditer(folded)]
    for m in _IMAGE_WORD.finditer(folded):
        name = m.group(1).replace(" ", "-")
        golden = f"{name}-base"
        found.append((m.start(), golden if golden in lexicon.images or not m.group(2) else f"{name} {m.group(2)}"))
    found += [(m.start(), m.group(1)) for m in _IMAGE_BEFORE.finditer(folded) if m.group(1) in lexicon.images]
    known = [(hit.start(), name) for name in lexicon.images if (hit := _word(name).search(folded))]
    return list(dict.fromkeys(name for _, name in sorted(found + known)))


def hosts(folded: str, lexicon: Lexicon) -> list[str]:
    found = [
        m.group(0)
        for m in _HOST.finditer(folded)
        if not m.group(0).startswith("cve-")
        and not words.REGION_PATTERN.fullmatch(m.group(0))
        and not _SPOKEN_REGION.fullmatch(m.group(0))
    ]
    known = [a for a in lexicon.asset_ids if _word(a).search(folded)]
    return list(dict.fromkeys([*known, *found]))


# -- time ------------------------------------------------------------------------------------------


def time_range(folded: str, now: datetime) -> TimeRange | None:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)

    def clip(text: str, since: datetime, until: datetime) -> TimeRange:
        return TimeRange(text, since, min(until, now))

    match = _LAST_N.search(folded)
    if match:
        count = _NUMBER_WORDS.get(match.group(1)) or int(match.group(1))
        seconds = count * _UNIT_SECONDS.get(match.group(2), 3600)
        return clip(match.group(0).strip(), now - timedelta(seconds=seconds), now)
    match = _LAST_UNIT.search(folded)
    if match:
        unit = match.group(1)
        seconds = {"minute": 60, "hour": 3600, "day": 86400, "24h": 86400, "24 hours": 86400, "week": 604800}.get(unit, 2592000)
        return clip(match.group(0).strip(), now - timedelta(seconds=seconds), now)
    match = _SINCE_DAY.search(folded)
    if match:
        day = match.group(1)
        if day == "yesterday":
            since = yesterday
        elif day in ("this morning", "midnight"):
            since = today
        elif day == "last night":
            since = yesterday + timedelta(hours=18)
        else:
            back = (now.weekday() - _WEEKDAYS.index(day)) % 7
            since = today - timedelta(days=back)
        return clip(match.group(0), since, now)
    match = _SINCE_TIME.search(folded)
    if match and (match.group(2) or match.group(3)):
        at = _clock_time(today, match.group(1), match.group(2), match.group(3))
        if at is not None:
            return clip(match.group(0), at if at <= now else at - timedelta(days=1), now)
    for phrase, since, until in (
        (
            r"\blast\s+night\b|\bovernight\b|\bduring\s+the\s+night\b|\blast\s+nite\b",
            yesterday + timedelta(hours=18),
            today + timedelta(hours=8),
        ),
        (r"\byesterday\s+morning\b", yesterday, yesterday + timedelta(hours=12)),
        (r"\byesterday\s+afternoon\b", yesterday + timedelta(hours=12), yesterday + timedelta(hours=18)),
        (r"\byesterday\s+evening\b", yesterday + timedelta(hours=17), today),
        (r"\byesterday\b|\byday\b", yesterday, today),
        (r"\bthis\s+morning\b", today, today + timedelta(hours=12)),
        (r"\bthis\s+afternoon\b", today + timedelta(hours=12), today + timedelta(hours=18)),
        (r"\btonight\b|\bthis\s+evening\b", today + timedelta(hours=17), today + timedelta(days=1)),
        (r"\bearlier\s+today\b|\btoday\b|\ball\s+day\b", today, now),
        (r"\b(?:recently|lately|just\s+now|right\s+now)\b", now - timedelta(hours=1), now),
        (
            r"\b(?:over|at|during)\s+the\s+weekend\b|\b(?:last|this|past)\s+weekend\b",
            _last_saturday(today),
            _last_saturday(today) + timedelta(days=2),
        ),
        (r"\bthis\s+week\b", today - timedelta(days=now.weekday()), now),
        (r"\blast\s+week\b|\bpast\s+week\b", now - timedelta(days=7), now),
        (r"\blast\s+month\b|\bpast\s+month\b", now - timedelta(days=30), now),
    ):
        found = re.search(phrase, folded)
        if found:
            return clip(found.group(0), since, until)
    match = _AGO.search(folded)
    if match:
        count = _NUMBER_WORDS.get(match.group(1)) or int(match.group(1))
        at = now - timedelta(seconds=count * _UNIT_SECONDS.get(match.group(2), 3600))
        return clip(match.group(0), at - timedelta(minutes=30), now)
    match = _BETWEEN.search(folded)
    if match:
        meridiem = match.group(3) or match.group(6)
        start = _clock_time(today, match.group(1), match.group(2), match.group(3) or meridiem)
        end = _clock_time(today, match.group(4), match.group(5), match.group(6) or meridiem)
        if start is not None and end is not None:
            if start > now:
                start, end = start - timedelta(days=1), end - timedelta(days=1)
            return clip(match.group(0), start, end if end > start else end + timedelta(days=1))
    match = _ON_DAY.search(folded)
    if match:
        back = (now.weekday() - _WEEKDAYS.index(match.group(1))) % 7 or 7
        day = today - timedelta(days=back)
        part = match.group(2)
        start, end = {
            "morning": (day, day + timedelta(hours=12)),
            "afternoon": (day + timedelta(hours=12), day + timedelta(hours=18)),
            "evening": (day + timedelta(hours=17), day + timedelta(days=1)),
            "night": (day + timedelta(hours=18), day + timedelta(hours=32)),
        }.get(part or "", (day, day + timedelta(days=1)))
        return clip(match.group(0), start, end)
    match = _AT_TIME.search(folded)
    if match:
        hour, minute, meridiem = (
            (match.group(1), match.group(2), match.group(3)) if match.group(1) else (match.group(4), match.group(5), None)
        )
        at = _clock_time(today, hour, minute, meridiem)
        if at is not None:
            at = at if at <= now else at - timedelta(days=1)
            return clip(match.group(0).strip(), at - timedelta(hours=1), at + timedelta(hours=1))
    return None


def _clock_time(day: datetime, hour: str, minute: str | None, meridiem: str | None) -> datetime | None:
    h, m = int(hour), int(minute or 0)
    if meridiem == "pm" and h < 12:
        h += 12
    if meridiem == "am" and h == 12:
        h = 0
    if h > 23 or m > 59:
        return None
    return day.replace(hour=h, minute=m)


def _last_saturday(today: datetime) -> datetime:
    back = (today.weekday() - 5) % 7 or 7
    return today - timedelta(days=back)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")

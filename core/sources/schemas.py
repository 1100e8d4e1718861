"""JSON Schemas of the reference data files, one per source kind."""

from __future__ import annotations

from typing import Any

_TEXT = {"type": "string", "minLength": 1}
_TEXTS = {"type": "array", "items": _TEXT}
_SEVERITY = {"enum": ["info", "low", "medium", "high", "critical"]}
_DURATION = {"type": "string", "pattern": "^[0-9]+(ms|s|m|h|d)$"}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _record(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


SCHEMAS: dict[str, dict[str, Any]] = {
    "cves": _record(
        ["cves"],
        {
            "cves": _list_of(
                _record(
                    ["id", "title", "severity", "cvss", "package", "affects"],
                    {
                        "id": {"type": "string", "pattern": "^CVE-[0-9]{4}-[0-9]{4,}$"},
                        "title": _TEXT,
                        "severity": _SEVERITY,
                        "cvss": {"type": "number", "minimum": 0, "maximum": 10},
                        "package": _TEXT,
                        "exploited": {"type": "boolean"},
                        "affects": _list_of(_record(["image", "fixed_in"], {"image": _TEXT, "fixed_in": _TEXT})),
                    },
                )
            )
        },
    ),
    "controls": _record(
        ["controls"],
        {
            "controls": _list_of(
                _record(
                    ["id", "framework", "title", "severity", "fact", "expected"],
                    {
                        "id": _TEXT,
                        "framework": _TEXT,
                        "title": _TEXT,
                        "severity": _SEVERITY,
                        "fact": _TEXT,
                        "roles": _TEXTS,
                        "remediation": _record(
                            ["action", "automated"],
                            {"action": _TEXT, "automated": {"type": "boolean"}, "description": {"type": "string"}},
                        ),
                    },
                )
            )
        },
    ),
    "facts": _record(
        ["defaults"],
        {
            "defaults": {"type": "object", "additionalProperties": {"type": "object"}},
            "assets": {"type": "object", "additionalProperties": {"type": "object"}},
        },
    ),
    "logs": _record(
        ["logs", "events"],
        {
            "logs": _list_of(
                _record(
                    ["at", "service", "level", "message"],
                    {
                        "at": _TEXT,
                        "service": _TEXT,
                        "environment": _TEXT,
                        "asset": _TEXT,
                        "level": {"enum": ["debug", "info", "warn", "error"]},
                        "message": _TEXT,
                    },
                )
            ),
            "events": _list_of(
                _record(
                    ["at", "kind", "service", "detail"],
                    {
                        "at": _TEXT,
                        "kind": _TEXT,
                        "service": _TEXT,
                        "environment": _TEXT,
                        "detail": _TEXT,
                        "hint": _TEXT,
                    },
                )
            ),
        },
    ),
    "infra": _record(
        ["services"],
        {
            "services": _list_of(
                _record(
                    ["name", "rto", "deployments"],
                    {
                        "name": _TEXT,
                        "tier": {"type": "integer", "minimum": 1},
                        "rto": _DURATION,
                        "rpo": _DURATION,
                        "depends_on": _TEXTS,
                        "deployments": _list_of(
                            _record(
                                ["region", "mode", "assets"],
                                {
                                    "region": _TEXT,
                                    "mode": {"enum": ["active", "standby"]},
                                    "assets": _TEXTS,
                                    "failover_time": _DURATION,
                                    "replication_lag": _DURATION,
                                },
                            )
                        ),
                    },
                )
            )
        },
    ),
    "billing": _record(
        ["month", "lines"],
        {
            "month": _TEXT,
            "history": _list_of(_record(["month", "total_usd"], {"month": _TEXT, "total_usd": {"type": "number", "minimum": 0}})),
            "lines": _list_of(
                _record(
                    ["resource", "service", "environment", "monthly_usd"],
                    {
                        "resource": _TEXT,
                        "service": _TEXT,
                        "environment": _TEXT,
                        "assets": _TEXTS,
                        "monthly_usd": {"type": "number", "minimum": 0},
                        "cpu_avg_percent": {"type": "number", "minimum": 0, "maximum": 100},
                        "hours_running": {"type": "number", "minimum": 0},
                        "pricing": _TEXT,
                        "state": _TEXT,
                        "instance_type": _TEXT,
                    },
                )
            ),
        },
    ),
    "images": _record(
        ["recipes"],
        {
            "recipes": {
                "type": "object",
                "additionalProperties": _record(
                    ["base", "builder", "packages", "tests"],
                    {
                        "base": _TEXT,
                        "builder": _TEXT,
                        "template": _TEXT,
                        "packages": {"type": "object"},
                        "hardening": _TEXTS,
                        "tests": _TEXTS,
                    },
                ),
            }
        },
    ),
    "sops": _record(
        ["templates"],
        {
            "templates": _list_of(
                _record(
                    ["id", "title", "keywords", "steps"],
                    {
                        "id": _TEXT,
                        "title": _TEXT,
                        "keywords": _TEXTS,
                        "steps": {
                            "type": "array",
                            "minItems": 1,
                            "items": _record(
                                ["name"],
                                {
                                    "name": _TEXT,
                                    "description": {"type": "string"},
                                    "command": {"type": "string"},
                                    "retries": {"type": "integer", "minimum": 0},
                                    "timeout": _DURATION,
                                    "rollback": {"type": "boolean"},
                                },
                            ),
                        },
                    },
                )
            )
        },
    ),
    "apis": _record(
        ["apis"],
        {
            "apis": {
                "type": "object",
                "additionalProperties": _record(
                    ["title", "base_url", "auth", "endpoints"],
                    {
                        "title": _TEXT,
                        "base_url": {"type": "string", "pattern": "^https?://"},
                        "rate_limit": _TEXT,
                        "pagination": _TEXT,
                        "auth": _record(["type"], {"type": _TEXT, "header": _TEXT, "format": _TEXT, "secret": _TEXT}),
                        "endpoints": {
                            "type": "array",
                            "minItems": 1,
                            "items": _record(
                                ["operation", "method", "path"],
                                {
                                    "operation": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                                    "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                                    "path": {"type": "string", "pattern": "^/"},
                                    "summary": {"type": "string"},
                                    "params": _TEXTS,
                                    "writes": {"type": "boolean"},
                                },
                            ),
                        },
                    },
                ),
            }
        },
    ),
}

FILE_NAMES: dict[str, str] = {kind: f"{kind}.yaml" for kind in SCHEMAS}

"""The checks ``executor.health`` config must pass at load time.

They raise ``ValueError``; pydantic reports it under ``executor.health`` and ``load_config`` turns
that into a ``ConfigError`` that names the key.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.executor.conditions import METRICS

if TYPE_CHECKING:
    from core.config import HealthConfig


def check_health_settings(health: HealthConfig) -> None:
    unknown = sorted(set(health.queries) - set(METRICS))
    if unknown:
        raise ValueError(f"executor.health.queries: unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    for metric, query in health.queries.items():
        if not query or not query.strip():
            raise ValueError(f"executor.health.queries.{metric} is empty")
    if health.prometheus_url is not None:
        parts = urlsplit(health.prometheus_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"executor.health.prometheus_url {health.prometheus_url!r} is not an http(s) URL, e.g. http://prometheus:9090"
            )
    if health.probe == "prometheus" and not health.prometheus_url:
        raise ValueError(
            "executor.health.probe is prometheus but no Prometheus URL is set; "
            "set executor.health.prometheus_url or the PROMETHEUS_URL environment variable"
        )
    fields = {name for _, name, _, _ in string.Formatter().parse(health.http.url_template) if name is not None}
    if not fields & {"asset", "address"} or not fields <= {"scheme", "asset", "address", "port", "target"}:
        raise ValueError(
            f"executor.health.http.url_template {health.http.url_template!r} must contain {{asset}} or {{address}} and "
            "may use only {scheme}, {asset}, {address}, {port} and {target}"
        )

"""executor.health in the config file and PROMETHEUS_URL: what loads, and what stops startup with a clear message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from core.executor.health import build_probe
from core.executor.health.http import HttpHealth
from core.executor.health.prometheus import PrometheusHealth
from core.executor.health.simulate import SimulatedHealth


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "opspilot.yaml"
    path.write_text(text)
    return load_config(path, env=env or {})


def test_the_default_is_the_simulated_probe() -> None:
    config = load_config(env={})
    assert config.executor.health.probe == "simulate"
    assert isinstance(build_probe(config.executor.health.probe, config.executor), SimulatedHealth)


async def test_a_full_prometheus_section_builds_the_probe(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
executor:
  health:
    probe: prometheus
    prometheus_url: http://prometheus:9090/
    timeout_seconds: 4
    queries:
      error_rate: 'max(my_error_percent{host=~"{assets}"})'
    http:
      enabled: true
      scheme: https
      port: 8443
""",
    )
    probe = build_probe(config.executor.health.probe, config.executor)
    assert isinstance(probe, PrometheusHealth)
    assert probe.url == "http://prometheus:9090"
    assert probe.timeout_seconds == 4
    assert probe.queries["error_rate"].startswith("max(my_error_percent")
    assert probe.queries["cpu"].startswith("100 * (1 - avg(")  # the other defaults stay
    assert isinstance(probe.http_probe, HttpHealth)
    assert probe.http_probe.url("web-1", "/health") == "https://web-1:8443/health"
    await probe.close()


def test_prometheus_url_comes_from_the_environment_and_wins(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "executor:\n  health:\n    probe: prometheus\n    prometheus_url: http://old:9090\n",
        env={"PROMETHEUS_URL": "http://prom.internal:9090"},
    )
    assert config.executor.health.prometheus_url == "http://prom.internal:9090"
    assert load_config(env={"PROMETHEUS_URL": "http://p:9090"}).executor.health.prometheus_url == "http://p:9090"


def test_prometheus_without_a_url_stops_startup_saying_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "executor:\n  health:\n    probe: prometheus\n")
    message = str(caught.value)
    assert "executor.health" in message and "no Prometheus URL" in message and "PROMETHEUS_URL" in message


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("probe: datadog", "probe"),
        ("prometheus_url: prometheus:9090", "not an http(s) URL"),
        ("queries: {errors: 'up'}", "unknown metric(s) errors"),
        ("queries: {cpu: ' '}", "queries.cpu is empty"),
        ("timeout_seconds: 0", "timeout_seconds"),
        ("http: {url_template: 'http://host{target}'}", "must contain {asset}"),
        ("http: {url_template: 'http://{asset}{path}'}", "must contain {asset}"),
        ("http: {port: 0}", "port"),
        ("colour: blue", "colour"),
    ],
)
def test_bad_health_settings_are_explained(tmp_path: Path, section: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        _load(tmp_path, f"executor:\n  health:\n    {section}\n")


def test_an_unknown_probe_name_is_refused() -> None:
    with pytest.raises(ValueError, match="available: simulate, prometheus"):
        build_probe("nagios")

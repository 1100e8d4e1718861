"""Health probes measure assets after a phase (error rate, latency, …).

``simulate`` is the embedded default; ``prometheus`` queries a Prometheus server, optionally with
``http_ok`` from real GETs on the assets (``HttpHealth``). See docs/health-checks.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.executor.health.base import HealthCheckFailed, HealthInconclusive, HealthProbe, required_metrics

if TYPE_CHECKING:
    from core.config import ExecutorConfig, SimulateConfig

__all__ = ["HealthCheckFailed", "HealthInconclusive", "HealthProbe", "build_probe", "probe_for", "required_metrics"]

PROBES = ("simulate", "prometheus", "ansible")


def build_probe(
    name: str, config: ExecutorConfig | SimulateConfig | None = None, *, ansible_inventory: Path | None = None
) -> HealthProbe:
    """``config`` is the ``executor`` config section (or, for ``simulate``, its ``simulate`` part).

    ``ansible`` runs ``executor.ansible.verify_playbook`` against ``ansible_inventory`` (inventory.ansible.inventory).
    """
    if name == "ansible":
        from core.config import ExecutorConfig
        from core.executor.health.ansible import AnsibleHealth

        if not isinstance(config, ExecutorConfig) or ansible_inventory is None:
            raise ValueError("the ansible health probe needs executor.ansible.verify_playbook and inventory.ansible.inventory")
        return AnsibleHealth(config.ansible, ansible_inventory, forks=config.concurrency)
    if name == "simulate":
        from core.config import ExecutorConfig
        from core.executor.health.simulate import SimulatedHealth

        return SimulatedHealth(config.simulate if isinstance(config, ExecutorConfig) else config)
    if name == "prometheus":
        from core.executor.health.prometheus import PrometheusHealth

        health = getattr(config, "health", None)
        if health is None:
            raise ValueError("the prometheus health probe needs the executor config (executor.health)")
        return PrometheusHealth.from_config(health)
    raise ValueError(f"unknown health probe {name!r}; available: {', '.join(PROBES)}")


def probe_for(config: ExecutorConfig, ansible_inventory: Path | None = None) -> HealthProbe:
    """The probe the config asks for: ``executor.health.probe``, except that with ``executor.driver: ansible`` and an
    ``executor.ansible.verify_playbook`` the default (``simulate``) becomes ``ansible``. ConfigError when the ansible
    probe lacks its playbook or inventory."""
    from core.errors import ConfigError

    name = config.health.probe
    if name == "simulate" and config.driver == "ansible" and config.ansible.verify_playbook is not None:
        name = "ansible"
    if name == "ansible" and config.ansible.verify_playbook is None:
        raise ConfigError("executor.health.probe is ansible, so executor.ansible.verify_playbook must name the playbook")
    if name == "ansible" and ansible_inventory is None:
        raise ConfigError("executor.health.probe is ansible, so inventory.ansible.inventory must name the Ansible inventory")
    return build_probe(name, config, ansible_inventory=ansible_inventory)

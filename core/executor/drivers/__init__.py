"""Drivers apply one approved change to one asset. ``simulate`` is the embedded default."""

from core.executor.drivers.base import AppliedChange, Driver

__all__ = ["AppliedChange", "Driver", "build_driver"]


def build_driver(name: str, inventory, config=None) -> Driver:
    if name == "simulate":
        from core.executor.drivers.simulate import SimulateDriver

        return SimulateDriver(inventory, config)
    raise ValueError(f"unknown executor driver {name!r}; available: simulate")

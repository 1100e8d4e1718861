"""The driver port: one method, ``perform``, for every action the executor takes on the world.

An action is ``apply`` (make a change on one asset), ``revert`` (undo it) or ``step`` (one step of
a step-only plan). Each carries an idempotency ``key`` that is the same for (run, phase, asset or
step, action) in any process, so a repeat after a crash or a takeover (``attempt`` 2, 3, ...) can be
recognised by the system on the other side and not done twice.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from core.domain import Change, Step
from core.errors import DriverError
from core.executor.drivers.output import OUTPUT_CAP, cap_text

__all__ = [
    "OUTPUT_CAP",
    "Action",
    "AssetRef",
    "Driver",
    "DriverAction",
    "DriverResult",
    "cap_text",
    "idempotency_key",
]

Action = Literal["apply", "revert", "step"]

# Fixed forever: changing it changes every key and breaks deduplication across an upgrade.
_KEY_NAMESPACE = uuid.UUID("6f1c9a52-3d0e-5b7a-9c41-0b5e2d8f7a13")


def idempotency_key(run_id: str, phase_index: int, subject: str, action: Action) -> str:
    """A uuid5 of (run, phase, asset id or step name, action): the same inputs give the same key anywhere."""
    return str(uuid.uuid5(_KEY_NAMESPACE, "\x1f".join((run_id, str(phase_index), subject, action))))


@dataclass(frozen=True)
class AssetRef:
    """What a driver needs to know about an asset."""

    id: str
    address: str | None = None
    image: str | None = None
    tags: tuple[str, ...] = ()
    service: str | None = None


@dataclass(frozen=True)
class DriverAction:
    action: Action
    run_id: str
    phase: str
    phase_index: int
    key: str  # idempotency key, see idempotency_key()
    attempt: int  # 1 for the first call with this key, 2 for the repeat after a crash, ...
    asset: AssetRef | None = None  # None for steps
    change: Change | None = None  # apply / revert
    # The change, before -> after, for both actions: apply moves from_version -> to_version; revert moves back to
    # from_version (the version recorded before the first apply), which is what a revert template names.
    from_version: str | None = None
    to_version: str | None = None
    step: Step | None = None  # action == "step"

    @property
    def command(self) -> str | None:
        return self.step.command if self.step is not None else None

    @property
    def subject(self) -> str:
        """The asset id, or the step name for a step."""
        if self.asset is not None:
            return self.asset.id
        return self.step.name if self.step is not None else ""


@dataclass(frozen=True)
class DriverResult:
    previous: str | None = None  # what the driver says it found (informational)
    current: str | None = None  # what it left
    output: str = ""  # captured output, capped to OUTPUT_CAP bytes of valid UTF-8

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", cap_text(self.output or ""))


class Driver(ABC):
    """Port: carry out one action. Raise core.errors.DriverError (with ``output``) on failure or timeout."""

    name: str
    #: True for drivers that act on many assets in one go (Ansible runs a playbook with ``--limit`` over a phase's
    #: hosts): the engine then hands a whole phase to :meth:`perform_many` instead of calling :meth:`perform` per asset.
    acts_on_many: bool = False

    @abstractmethod
    async def perform(self, action: DriverAction) -> DriverResult: ...

    async def perform_many(self, actions: list[DriverAction]) -> list[DriverResult | DriverError]:
        """Carry out ``actions`` (all of one kind, one phase); one result or error per action, in order.

        The default calls :meth:`perform` one action after the other; drivers with ``acts_on_many`` override it."""
        results: list[DriverResult | DriverError] = []
        for action in actions:
            try:
                results.append(await self.perform(action))
            except DriverError as exc:
                results.append(exc)
        return results

    async def close(self) -> None:
        """Release connections; the default has nothing to release."""

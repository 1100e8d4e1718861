"""Port: evaluate the Rego policies under ``data.opspilot`` against one input document.

Every package below ``data.opspilot`` may define three sets of strings:

- ``deny``: the plan must not go ahead, and the message says what to change;
- ``warn``: shown to the approver, does not block;
- ``require_approval``: the plan is allowed but a person must approve it, whatever its quality score.

Implementations: :class:`~core.validation.regorus_evaluator.RegorusEvaluator` (in-process) and
:class:`~core.validation.opa.OpaEvaluator` (a remote OPA server's Data API).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import PolicyError

ROOT_PACKAGE = "opspilot"
OUTPUTS = ("deny", "warn", "require_approval")


@dataclass(frozen=True)
class PackageVerdict:
    """What one policy package said about the input; ``error`` set means it could not decide."""

    package: str
    deny: tuple[str, ...] = ()
    warn: tuple[str, ...] = ()
    require_approval: tuple[str, ...] = ()
    error: str | None = None

    @property
    def allowed(self) -> bool:
        return self.error is None and not self.deny


class PolicyEvaluator(ABC):
    """Answers with one verdict per package; raises PolicyError when it cannot evaluate at all."""

    description: str

    @abstractmethod
    async def evaluate(self, document: Mapping[str, Any]) -> list[PackageVerdict]: ...


def verdicts_from_tree(tree: Any, prefix: str = "") -> list[PackageVerdict]:
    """Read the value of ``data.opspilot`` (nested packages are nested objects) into verdicts."""
    if not isinstance(tree, dict):
        raise PolicyError(f"policy result for {ROOT_PACKAGE}{'.' + prefix if prefix else ''} is not an object")
    verdicts = []
    if prefix and any(key in tree for key in OUTPUTS):
        verdicts.append(verdict_from_outputs(prefix, {k: tree.get(k) for k in OUTPUTS}))
    for key, value in sorted(tree.items()):
        if key not in OUTPUTS and isinstance(value, dict):
            verdicts += verdicts_from_tree(value, f"{prefix}.{key}" if prefix else key)
    return verdicts


def verdict_from_outputs(package: str, outputs: Mapping[str, Any]) -> PackageVerdict:
    sets: dict[str, tuple[str, ...]] = {}
    for name in OUTPUTS:
        value = outputs.get(name)
        if value is None:
            sets[name] = ()
        elif isinstance(value, list) and all(isinstance(m, str) for m in value):
            sets[name] = tuple(sorted(value))
        else:
            return PackageVerdict(
                package, error=f"{name} must be a set of strings, got {type(value).__name__}: {str(value)[:200]}"
            )
    return PackageVerdict(package, deny=sets["deny"], warn=sets["warn"], require_approval=sets["require_approval"])

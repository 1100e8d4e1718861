from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import regorus

from core.errors import PolicyError
from core.validation.evaluator import OUTPUTS, ROOT_PACKAGE, PackageVerdict, PolicyEvaluator, verdict_from_outputs
from core.validation.policy_set import PolicySet
from core.validation.rego_files import describe_rego_error, load_engine, packages_under, policy_files

logger = logging.getLogger(__name__)


class RegorusEvaluator(PolicyEvaluator):
    """Evaluates the policy directory in-process. Each package is evaluated on its own, so one
    broken package denies with its error while the others still give their verdicts."""

    def __init__(self, engine: regorus.Engine, packages: list[str], description: str) -> None:
        self._engine = engine
        self.packages = packages
        self.description = description

    @classmethod
    def from_directory(cls, directory: Path) -> RegorusEvaluator:
        """Raises PolicyError for an unreadable file, a syntax error, or a directory without policies."""
        files = policy_files(directory)
        engine = load_engine(files)
        packages = packages_under(engine, ROOT_PACKAGE)
        if not packages:
            raise PolicyError(
                f"no policies under package {ROOT_PACKAGE} in {directory}: every policy file must start with "
                f"e.g. `package {ROOT_PACKAGE}.production_safety` (policies.dir in the config)"
            )
        logger.info("loaded %d policy file(s), packages %s", len(files), ", ".join(packages))
        return cls(engine, packages, f"policies in {directory}")

    @classmethod
    def from_policy_set(cls, policies: PolicySet) -> RegorusEvaluator:
        """Every file of the set is loaded (a package may import another); disabled packages are not evaluated."""
        files = policies.policy_paths()
        engine = load_engine(files)
        logger.info("loaded %d policy file(s), evaluating packages %s", len(files), ", ".join(policies.active))
        return cls(engine, list(policies.active), policies.description)

    async def evaluate(self, document: Mapping[str, Any]) -> list[PackageVerdict]:
        # On the loop's thread: a regorus engine may not cross threads, and plan-sized inputs take milliseconds.
        engine = self._engine.clone()
        engine.set_input_json(json.dumps(document))
        return [self._package(engine, package) for package in self.packages]

    @staticmethod
    def _package(engine: regorus.Engine, package: str) -> PackageVerdict:
        outputs: dict[str, Any] = {}
        for name in OUTPUTS:
            try:
                answer = json.loads(engine.eval_query_as_json(f"data.{ROOT_PACKAGE}.{package}.{name}"))
            except RuntimeError as exc:
                return PackageVerdict(package, error=describe_rego_error(exc))
            except BaseException as exc:
                if type(exc).__name__ != "PanicException":  # pyo3's panic is a BaseException; deny on it too
                    raise
                return PackageVerdict(package, error=f"the policy engine crashed: {exc}")
            results = answer.get("result") or []
            outputs[name] = results[0]["expressions"][0]["value"] if results else None
        return verdict_from_outputs(package, outputs)

"""Which ``.rego`` files and packages are in force: the built-in policies, plus the team's folders.

The built-in policies (``core.paths.POLICIES_DIR``) always load. ``policies.dir`` and ``policies.dirs``
add folders; a file already loaded (same resolved path, or same content) is not loaded twice, and a team
file may not declare a package a built-in file declares. ``policies.disable`` turns packages off by
their short name (``production_safety``); their verdicts are ignored and the cards say so.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.config import PoliciesConfig
from core.errors import ConfigError, PolicyError
from core.paths import POLICIES_DIR
from core.validation.evaluator import ROOT_PACKAGE
from core.validation.rego_files import is_test_file, load_engine, policy_files

logger = logging.getLogger(__name__)

DISABLED_NOTE = "disabled by policies.disable"


@dataclass(frozen=True)
class PolicyFile:
    path: Path
    package: str  # the declared package without ``data.``, e.g. ``opspilot.production_safety``
    builtin: bool

    @property
    def is_test(self) -> bool:
        return is_test_file(self.path)


@dataclass(frozen=True)
class PolicySet:
    files: tuple[PolicyFile, ...]  # built-ins first; tests included
    directories: tuple[Path, ...]
    packages: tuple[str, ...]  # every policy package below ``data.opspilot``, short names, disabled ones too
    disabled: tuple[str, ...]

    @property
    def active(self) -> tuple[str, ...]:
        return tuple(p for p in self.packages if p not in self.disabled)

    def policy_paths(self) -> list[Path]:
        return [f.path for f in self.files if not f.is_test]

    def all_paths(self) -> list[Path]:
        return [f.path for f in self.files]

    @property
    def description(self) -> str:
        where = "built-in policies" + "".join(f" + {d}" for d in self.directories[1:])
        return where + (f" ({', '.join(self.disabled)} {DISABLED_NOTE})" if self.disabled else "")


def extra_directories(config: PoliciesConfig) -> list[Path]:
    """``policies.dir`` then ``policies.dirs``, in that order."""
    return ([config.dir] if config.dir is not None else []) + list(config.dirs)


def load_policy_set(config: PoliciesConfig, builtin_dir: Path = POLICIES_DIR) -> PolicySet:
    """Raises PolicyError for a missing folder, a file that does not parse, or a team file that
    redeclares a built-in package; ConfigError for an unknown name in ``policies.disable``."""
    seen_paths: set[Path] = set()
    seen_content: set[str] = set()
    builtin_packages: dict[str, Path] = {}
    files: list[PolicyFile] = []
    directories = [builtin_dir, *extra_directories(config)]
    for index, directory in enumerate(directories):
        builtin = index == 0
        found = policy_files(directory, include_tests=True)
        added: list[PolicyFile] = []
        for path in found:
            resolved = path.resolve()
            digest = _digest(path)
            if resolved in seen_paths or digest in seen_content:
                logger.debug("policy file %s is already loaded; skipping it", path)
                continue
            seen_paths.add(resolved)
            seen_content.add(digest)
            added.append(PolicyFile(path, _package_of(path), builtin))
        for policy in added:
            if builtin:
                builtin_packages.setdefault(policy.package, policy.path)
            elif policy.package in builtin_packages:
                raise PolicyError(
                    f"policy file {policy.path} declares package {policy.package}, which the built-in policies "
                    f"already declare ({builtin_packages[policy.package].name}); built-in policies cannot be "
                    f"replaced: give the team policy its own package (e.g. {ROOT_PACKAGE}.team.<name>), and turn "
                    "the built-in off with policies.disable if that is really meant"
                )
        skipped_policies = len([f for f in found if not is_test_file(f)]) - len([f for f in added if not f.is_test])
        if not builtin and not skipped_policies and not _short_packages(f for f in added if not f.is_test):
            raise PolicyError(
                f"no policies under package {ROOT_PACKAGE} in {directory}: every policy file must start with "
                f"e.g. `package {ROOT_PACKAGE}.team.freeze` (policies.dir / policies.dirs in the config)"
            )
        files += added
    packages = _short_packages(f for f in files if not f.is_test)
    disabled = tuple(dict.fromkeys(config.disable))
    unknown = [name for name in disabled if name not in packages]
    if unknown:
        raise ConfigError(
            f"policies.disable names unknown policy package(s) {', '.join(unknown)}; known packages: {', '.join(packages)}"
        )
    if disabled:
        logger.warning("policy package(s) %s %s", ", ".join(disabled), DISABLED_NOTE)
    return PolicySet(tuple(files), tuple(directories), packages, disabled)


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc


def _package_of(path: Path) -> str:
    """The package a file declares, from regorus itself (so a syntax error names the file and line)."""
    engine = load_engine([path])
    packages = engine.get_packages()
    return packages[0].removeprefix("data.") if packages else ""


def _short_packages(files: Iterable[PolicyFile]) -> tuple[str, ...]:
    prefix = f"{ROOT_PACKAGE}."
    return tuple(sorted({f.package[len(prefix) :] for f in files if f.package.startswith(prefix)}))

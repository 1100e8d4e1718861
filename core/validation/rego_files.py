"""Finding and loading the ``.rego`` files of the policy directory with regorus.

Files named ``*_test.rego`` hold Rego unit tests (rules named ``test_*``); they are loaded by
``opspilot policy test`` only, never for evaluating plans.
"""

from __future__ import annotations

import re
from pathlib import Path

import regorus

from core.errors import PolicyError

_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")
_ERROR = re.compile(r"^error:\s*(?P<message>.+)$", re.M)


def policy_files(directory: Path, *, include_tests: bool = False) -> list[Path]:
    if not directory.is_dir():
        raise PolicyError(f"policy directory {directory} does not exist (policies.dir / policies.dirs in the config)")
    files = sorted(p for p in directory.rglob("*.rego") if p.is_file())
    return files if include_tests else [p for p in files if not is_test_file(p)]


def is_test_file(path: Path) -> bool:
    return path.name.endswith("_test.rego")


def load_engine(files: list[Path]) -> regorus.Engine:
    """An engine with every file parsed; a syntax error names the file, line and column."""
    engine = regorus.Engine()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
        try:
            engine.add_policy(str(path), text)
        except RuntimeError as exc:
            raise PolicyError(f"policy file {describe_rego_error(exc)}") from exc
    return engine


def describe_rego_error(exc: BaseException) -> str:
    """``path line N, column M: message`` plus the offending source line, without Rust backtraces."""
    text = str(exc).split("Stack backtrace:")[0].strip()
    location, error = _LOCATION.search(text), _ERROR.search(text)
    message = error["message"].strip() if error else text.splitlines()[0] if text else repr(exc)
    if location is None:
        return message
    snippet = next(
        (ln.split("|", 1)[1].rstrip() for ln in text.splitlines() if ln.strip().startswith(f"{location['line']} |")), ""
    )
    where = f"{location['file']} line {location['line']}, column {location['col']}: {message}"
    return f"{where} (near `{snippet.strip()}`)" if snippet.strip() else where


def packages_under(engine: regorus.Engine, root: str) -> list[str]:
    """Package names below ``data.<root>``, relative to it (``production_safety``, ``team.db``)."""
    prefix = f"data.{root}."
    return sorted(p[len(prefix) :] for p in engine.get_packages() if p.startswith(prefix))
